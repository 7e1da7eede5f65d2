"""The `toylab` command.

    toylab list
    toylab run NAME [--quick] [--seed N] [--out DIR] [--set key=value ...]
    toylab run NAME --help [--quick]                 every settable key: type, default, allowed range
    toylab sweep [--quick] [--seed N] [--out DIR] [--set key=value ...]   (= toylab run sweep)
    toylab bench [--repeats N] [--out DIR] [--profile]
    toylab theory [--quick] [--seed N] [--out DIR]
    toylab runs [OUT]                                the runs under OUT, newest first
    toylab report [OUT]                              OUT/report/index.html: every run, config, summary, figures
    toylab evaluate RUN_FOLDER                      re-score a run's saved dictionaries
    toylab evaluate --sae DIR --toy RUN_FOLDER [--out DIR]   score any SAE folder on a run's toy (--toy, --out: only here)

Exit codes: 0 success; 2 bad input (one line naming the field and its allowed range,
nothing written); 1 a run that diverged (NaN/inf loss, named step; no results.json), a
theory claim that failed (results.json is written, with the failing claim marked), or a
disk that filled during a run (one line; status.json "failed" where it could be written);
130 Ctrl-C or SIGTERM; 129 SIGHUP (handled from the process's start: experiments.runner.entry).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import time
from pathlib import Path

from experiments.runner import memory, overrides, records, registry, runfolder, seeding, settings_index, table
from experiments.runner.study import Result
from toys.engine.config import INT32_MAX, ConfigError, check_fixed_bounds
from toys.engine.runtime import Runtime

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1  # also: a theory claim that does not hold
EXIT_WRITE_FAILED = 1  # the disk filled (or turned read-only) during a run
FULL_OR_READ_ONLY = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage as well by default)
        print(f"toylab: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="toylab", description="Ground-truth interpretability experiments.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("list", help="list experiments")
    run = commands.add_parser("run", help="run an experiment", add_help=False)
    run.add_argument("name")
    sweep = commands.add_parser("sweep", help="seeds × a hyperparameter grid in one call (= run sweep)", add_help=False)
    for sub in (run, sweep):
        sub.add_argument(
            "-h", "--help", action="store_true", help="list the experiment's settable keys: type, default, allowed range, description"
        )
        sub.add_argument("--quick", action="store_true", help="the fast variant (minutes on a laptop CPU)")
        sub.add_argument("--seed", type=int, default=None, help="master seed (default: the config's, 0)")
        sub.add_argument("--out", default="runs", help="output folder (default: runs)")
        sub.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
        sub.add_argument(
            "--devices", default="1", metavar="N|all", help="devices the trainer spreads runs and batches over (default 1; sae.sharding)"
        )
        sub.add_argument(
            "--precision",
            default="float32",
            metavar="float32|bfloat16",
            help="compute dtype of training (bfloat16: bf16 matmuls, f32 parameters; default float32)",
        )
        sub.add_argument(
            "--prng",
            default="threefry",
            metavar="threefry|rbg|unsafe_rbg",
            help="key implementation of training's data draws (rbg: faster on GPU/TPU; default threefry)",
        )
        sub.add_argument(
            "--distributed",
            action="store_true",
            help="call jax.distributed.initialize() first (one process per host of a cluster or pod; "
            "SLURM, Open MPI, Kubernetes and Cloud TPU are detected)",
        )
        sub.add_argument(
            "--coordinator", default=None, metavar="HOST:PORT", help="with --distributed where nothing is detected: process 0's address"
        )
        sub.add_argument("--num-processes", type=int, default=None, metavar="N", help="with --coordinator: processes")
        sub.add_argument("--process-id", type=int, default=None, metavar="I", help="with --coordinator: this one's index")
    bench = commands.add_parser("bench", help="training throughput beside SAELens")
    bench.add_argument("--repeats", type=int, default=3, help="timed calls per measurement (best is kept)")
    bench.add_argument("--out", default="runs", help="output folder (default: runs)")
    bench.add_argument(
        "--profile",
        action="store_true",
        help="instead: each case's step cut into stages (draw, encode, select, loss, gradient, step), ms/step",
    )
    theory = commands.add_parser("theory", help="check every theory claim: predicted vs measured")
    theory.add_argument("--quick", action="store_true", help="smaller instances (under a minute)")
    theory.add_argument("--seed", type=int, default=0, help="seed of the random instances (default 0)")
    theory.add_argument("--out", default="runs", help="output folder (default: runs)")
    report = commands.add_parser("report", help="a static HTML page of the runs under OUT: OUT/report/index.html")
    report.add_argument("folder", nargs="?", default="runs", help="output folder (default: runs)")
    runs = commands.add_parser("runs", help="the runs under OUT, newest first: state, duration, a headline number")
    runs.add_argument("folder", nargs="?", default="runs", help="output folder (default: runs)")
    evaluate = commands.add_parser("evaluate", help="score saved dictionaries again, without retraining")
    evaluate.add_argument("run_folder", nargs="?", type=Path, help="a run folder: re-score its dictionaries/")
    evaluate.add_argument("--sae", type=Path, help="an SAE folder (cfg.json + sae_weights.safetensors; toylab or SAELens)")
    evaluate.add_argument("--toy", type=Path, help="with --sae: the run folder whose toy scores it")
    evaluate.add_argument("--out", default=None, help="with --sae: output folder (default: runs)")
    feature_map = commands.add_parser(
        "map", help="the feature map (UMAP of decoder rows) of saved dictionaries, with their structure against random placement"
    )
    feature_map.add_argument("folder", type=Path, help="an SAE folder (toylab or SAELens) or a run folder")
    feature_map.add_argument("--out", default="runs", help="output folder (default: runs): OUT/map/<run>/")
    feature_map.add_argument("--seed", type=int, default=0, help="seed of UMAP and of the random placements (default 0)")
    feature_map.add_argument("--neighbours", type=int, default=10, help="k of the neighbour graph (default 10)")
    feature_map.add_argument("--umap-neighbors", type=int, default=15, help="UMAP's n_neighbors (default 15)")
    return parser


def run_map(folder: Path, out: Path, seed: int, neighbours: int, umap_neighbors: int) -> int:
    """`toylab map`: every dictionary's map and structure computed, then written at once (experiments.runner.mapping)."""
    from sae.saved_files import FormatError

    for flag, value, low in (("--seed", seed, 0), ("--neighbours", neighbours, 1), ("--umap-neighbors", umap_neighbors, 2)):
        if not low <= value <= (seeding.SEED_MAX if flag == "--seed" else INT32_MAX):
            print(
                f"toylab: error: {flag}: got {value}, allowed range [{low}, {seeding.SEED_MAX if flag == '--seed' else INT32_MAX}]",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
    started = time.perf_counter()
    try:
        from experiments.runner import mapping

        entries = mapping.feature_maps(folder, seed, neighbours, umap_neighbors, n_null=100)
    except (ConfigError, FormatError) as error:
        print(f"toylab: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    written = mapping.write(entries, out, seed, neighbours, umap_neighbors)
    print(mapping.summary(entries, neighbours))
    print(f"\nresults: {written / 'results.json'}\nfigures: {written / 'figures'}")
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0


def run_evaluate(run_folder: Path | None, sae: Path | None, toy: Path | None, out: Path | None) -> int:
    """`toylab evaluate`: results.json beside the run's dictionaries, or under OUT/evaluate/ for --sae.
    What needs neither the study nor JAX is checked before either is imported (`saved_runs`)."""
    from experiments.runner import saved_runs
    from sae import saved_files
    from sae.saved_files import FormatError

    if (run_folder is None) == (sae is None):
        print("toylab: error: evaluate: give either RUN_FOLDER or --sae DIR --toy RUN_FOLDER", file=sys.stderr)
        return EXIT_BAD_INPUT
    if sae is not None and toy is None:
        print("toylab: error: --toy: required with --sae (the run folder whose toy scores the SAE)", file=sys.stderr)
        return EXIT_BAD_INPUT
    started = time.perf_counter()
    try:
        if sae is not None:
            saved_files.read(sae)
            saved_runs.check_run(toy, with_dictionaries=False)
        else:
            saved_runs.check_run(run_folder)
        from experiments.runner import rescore  # the study and JAX, once the folders are known good

        if sae is not None:
            results = rescore.score_sae(sae, toy)
            folder = runfolder.new_run_folder(out, "evaluate", results["seed"], False)
            target = folder / "results.json"
        else:
            results = rescore.rescore_run(run_folder)
            target = Path(run_folder) / "dictionaries" / "results.json"
    except (ConfigError, FormatError) as error:
        print(f"toylab: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    runfolder.write_json(target, results)
    print(rescore.summary(results))
    print(f"\nresults: {target}")
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0


def write_dictionaries(folder: Path, saved: list[dict], experiment_name: str, seed: int) -> None:
    """Each trained dictionary as folder/dictionaries/<name>/{cfg.json, sae_weights.safetensors} (SAELens format)."""
    from sae import architectures, saelens_format

    for entry in saved:
        k = entry["hparams"]["k"] if architectures.get(entry["arch"]).uses_k else None
        extra = {
            "experiment": experiment_name,
            "seed": seed,
            "run": folder.name,
            "hparams": entry["hparams"],
            "group": entry["group"],
            "index": entry["index"],
            **({"table": entry["table"]} if entry.get("table") is not None else {}),
        }
        saelens_format.save(folder / "dictionaries" / entry["name"], entry["arch"], entry["params"], k=k, extra=extra)


def run_theory(quick: bool, seed: int, out: Path) -> int:
    if not 0 <= seed <= seeding.SEED_MAX:
        print(f"toylab: error: --seed: got {seed}, allowed range [0, {seeding.SEED_MAX}]", file=sys.stderr)
        return EXIT_BAD_INPUT

    from experiments import theory

    folder = runfolder.new_run_folder(out, theory.NAME, seed, quick)
    status = records.RunStatus(folder, theory.NAME)  # first: a signal from here on is recorded in the folder
    runfolder.write_json(folder / "config.json", {"experiment": theory.NAME, "quick": quick, "seed": seed, **runfolder.provenance()})
    print(f"toylab: checking theory claims (seed {seed}{', quick' if quick else ''}) → {folder}", file=sys.stderr, flush=True)

    def work():
        results = theory.run(quick, seed)
        figures = theory.plot(results, folder / "figures")
        results["duration_s"] = status.duration
        summary = theory.summary(results)
        runfolder.write_text(folder / "summary.txt", summary + "\n")
        status.note(headline=theory.headline(results))
        status.commit(lambda: runfolder.write_json(folder / "results.json", results))
        return results, summary, figures

    results, summary, figures = status.run(work, stage=lambda: "checking claims")
    _print_outcome(folder, results, summary, figures)
    return 0 if results["all_hold"] else EXIT_DIVERGED


def _print_outcome(folder: Path, results: dict, summary: str, figures: list) -> None:
    print(summary)
    print(f"\nresults: {folder / 'results.json'}")
    for path in figures:
        print(f"figure:  {path}")
    print(f"({results['duration_s']:.1f} s)")


def run_bench(repeats: int, out: Path, profile: bool = False) -> int:
    if repeats < 1:
        print(f"toylab: error: --repeats: got {repeats}, allowed range [1, inf)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if profile:
        from experiments import bench_profile as bench

        results = {"stages": bench.profile_cases(repeats)}
    else:
        from experiments import bench

        results = bench.run(repeats)
    folder = runfolder.new_run_folder(out, "bench", 0, False)
    runfolder.write_json(folder / "config.json", {"experiment": "bench", "repeats": repeats, "profile": profile, **runfolder.provenance()})
    runfolder.write_json(folder / "results.json", results)
    print(bench.report(results["stages"] if profile else results))
    print(f"\nresults: {folder / 'results.json'}")
    return 0


def resolve_config(name: str, quick: bool, seed: int | None, assignments: list[str]):
    """The experiment module and its validated config; raises ConfigError on bad input. The fields'
    declared rules (formulas over several fields included) are checked first from the settings
    index, before the study (and JAX) is imported (`experiments.runner.settings_index`)."""
    settings_index.check(name, quick, seed, assignments)
    experiment = registry.get(name)
    config = overrides.with_command_line(experiment.Config.quick() if quick else experiment.Config(), seed, assignments)
    check_fixed_bounds(config)  # cheap, and before anything sized by the values
    memory.check(experiment, config)  # then: validate() itself may allocate per-feature arrays
    config.validate()
    return experiment, config


def _start_distributed(coordinator: str | None, num_processes: int | None, process_id: int | None) -> None:
    """jax.distributed.initialize(): from the cluster's environment (SLURM, Open MPI,
    Kubernetes, Cloud TPU) when the three are None, else from them. It must come before
    anything touches a JAX backend, so `main` calls it first; ConfigError when it fails."""
    if coordinator is not None:
        host, _, port = coordinator.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError(f"--coordinator: got {coordinator!r}, expected HOST:PORT with PORT in [1, 65535]")
        import socket

        try:  # an unknown host would otherwise leave every process waiting for the coordinator
            socket.getaddrinfo(host.strip("[]"), int(port))
        except OSError:
            raise ConfigError(f"--coordinator: cannot resolve the host {host!r}") from None
    given = [value is not None for value in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise ConfigError("distributed: give all of --coordinator, --num-processes and --process-id, or none")
    if num_processes is not None and num_processes < 1:
        raise ConfigError(f"--num-processes: got {num_processes}, allowed range [1, inf)")
    if process_id is not None and not 0 <= process_id < num_processes:
        raise ConfigError(f"--process-id: got {process_id}, allowed range [0, {num_processes - 1}]")
    import jax

    try:
        jax.distributed.initialize(coordinator, num_processes, process_id)
    except (RuntimeError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"distributed: jax.distributed.initialize() failed ({first_line}); run under a "
            "detected cluster or give --coordinator, --num-processes and --process-id"
        ) from None


def run_experiment(experiment, config, out: Path, quick: bool, runtime: Runtime | None = None) -> Path:
    """Run, then write config.json (first), results.json, arrays.npz, figures/, dictionaries/ and
    summary.txt atomically; status.json follows the run's state (experiments.runner.records)."""
    runtime = runtime or Runtime()
    runtime.progress.show = True
    folder = runfolder.new_run_folder(out, experiment.name, config.seed, quick)
    status = records.RunStatus(folder, experiment.name, runtime.progress)
    record = {
        "experiment": experiment.name,
        "quick": quick,
        "seed": config.seed,
        "config": overrides.to_dict(config),
        "devices": runtime.devices,
        "devices_used": None,
        "precision": runtime.precision,
        "prng": runtime.prng,
        **runfolder.provenance(),
    }
    runfolder.write_json(folder / "config.json", record)
    print(f"toylab: running {experiment.name} (seed {config.seed}{', quick' if quick else ''}) → {folder}", file=sys.stderr, flush=True)
    phase = {"stage": "setup"}

    def work():
        phase["stage"] = "running"
        outcome = experiment.run(config, runtime)
        if not isinstance(outcome, Result):
            raise TypeError(f"study {experiment.name!r}: run returned {type(outcome).__name__}, not a Result")
        phase["stage"] = "writing results"
        results = outcome.results
        if "table" in results:
            raise TypeError(f"study {experiment.name!r}: results hold a 'table' key; the table goes in Result.table")
        if not outcome.table:
            raise TypeError(f"study {experiment.name!r}: run returned no results table (Result.table is empty)")
        results["table"] = table.to_json(outcome.table)  # what plot, summary and headline read back
        figures = experiment.plot(results, outcome.arrays, folder / "figures")
        if outcome.arrays:
            runfolder.write_arrays(folder / "arrays.npz", outcome.arrays)
        write_dictionaries(folder, outcome.dictionaries, experiment.name, config.seed)
        for write in outcome.files:
            write(folder)
        results["duration_s"] = status.duration
        # what the run used, beside what was asked for (a plan may leave devices idle: sae.sharding)
        runfolder.write_json(folder / "config.json", {**record, "devices_used": runtime.devices_used})
        summary = experiment.summary(results)
        runfolder.write_text(folder / "summary.txt", summary + "\n")
        # what `toylab runs` shows, recorded so that listing needs no study import
        status.note(headline=experiment.headline(results) if experiment.headline is not None else "—")
        # last, with the state "finished" in one step a signal cannot split: results.json means the run completed
        status.commit(lambda: runfolder.write_json(folder / "results.json", results))
        return results, summary, figures

    results, summary, figures = status.run(work, stage=lambda: phase["stage"])
    _print_outcome(folder, results, summary, figures)
    return folder


def main(argv: list[str] | None = None) -> int:
    """The console script: `_main`, with a closed stdout (`toylab list | head -1`) ending quietly
    and a Ctrl-C that reaches the main thread ending in one line (exit 130)."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # the reader went away: nothing more to say; keep the interpreter's final flush quiet too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        if error.errno not in FULL_OR_READ_ONLY:
            raise
        # mid-run (config checked, a folder started): the run's status.json says "failed" where it
        # could still be written; results.json, written last, is absent, so nothing looks finished
        where = f" while writing {error.filename}" if error.filename else ""
        print(f"toylab: error: {os.strerror(error.errno).lower()}{where}; no results written", file=sys.stderr)
        return EXIT_WRITE_FAILED
    except KeyboardInterrupt:
        print("toylab: interrupted (SIGINT)", file=sys.stderr)
        return records.EXIT_INTERRUPTED


def _interruptible(command: str, work) -> int:
    """work() in a worker thread; SIGINT/SIGTERM end the process at once with one line and exit 130
    (`records.run_interruptibly`). These commands write their one file last, atomically."""

    def on_interrupt(signal_name: str) -> None:
        print(f"toylab: {command} interrupted ({signal_name}); nothing more written", file=sys.stderr)

    return records.run_interruptibly(work, on_interrupt)


def _check_platforms() -> None:
    """ConfigError when JAX_PLATFORMS names a backend this machine lacks (say cuda without a GPU):
    checked before anything imports the lab, whose modules touch the backend on import."""
    asked = os.environ.get("JAX_PLATFORMS", "").strip()
    if not asked:
        return
    import jax

    try:
        jax.devices()
    except (RuntimeError, AssertionError) as error:  # (this JAX asserts when no backend initialises)
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"JAX_PLATFORMS: {asked!r}: no such backend on this machine ({detail[:160]}); "
            "unset it to use the CPU, or install the accelerator's JAX build (README)"
        ) from None


def _one_blas_thread() -> None:
    """NumPy/SciPy's BLAS to one thread for the rest of the process. XLA already runs a thread per
    core; OpenBLAS's own pool on top oversubscribes the cores, and the readers' small linear
    algebra (SVDs of a few hundred × 64) gains nothing from threads: measured on the 2-core box
    beside a second busy process (load 2.5), a 255×64 SVD took 1.83 ms (median) with OpenBLAS's
    2 threads and 0.86 ms with one. Not for `bench`, whose SAELens rows must run as SAELens does."""
    for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # BLAS libraries loaded later (SciPy's own)
        os.environ.setdefault(variable, "1")
    import numpy  # noqa: F401  (loads the BLAS library, so that there is a pool to limit)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("run", "sweep", "evaluate", "theory", "report"):
        _one_blas_thread()
    if args.command in ("run", "sweep", "evaluate", "bench", "theory"):
        try:
            _check_platforms()
        except ConfigError as error:
            print(f"toylab: error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if hasattr(args, "distributed") and not args.distributed:
        given = [
            flag
            for flag, value in (
                ("--coordinator", args.coordinator),
                ("--num-processes", args.num_processes),
                ("--process-id", args.process_id),
            )
            if value is not None
        ]
        if given:  # they would be ignored: the run would train on this host alone
            print(f"toylab: error: {given[0]}: only with --distributed (a multi-host run)", file=sys.stderr)
            return EXIT_BAD_INPUT
    if getattr(args, "distributed", False):
        try:
            _start_distributed(args.coordinator, args.num_processes, args.process_id)
        except ConfigError as error:
            print(f"toylab: error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.command == "evaluate":  # options it would not use are refused, not ignored
        unused = [flag for flag, value in (("--toy", args.toy), ("--out", args.out)) if value is not None]
        if args.run_folder is not None and unused:
            print(
                f"toylab: error: {unused[0]}: only with --sae (evaluate RUN_FOLDER writes beside the run's dictionaries)", file=sys.stderr
            )
            return EXIT_BAD_INPUT
        if args.sae is None:
            del args.out  # nothing is written there: the working directory need not exist or be writable
        elif args.out is None:
            args.out = "runs"
    if hasattr(args, "out"):  # checked before any work: bad input writes nothing
        try:
            args.out = runfolder.check_out_dir(args.out)
        except ConfigError as error:
            print(f"toylab: error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.command in ("runs", "report"):
        folder = Path(args.folder)
        if not folder.is_dir():
            print(f"toylab: error: OUT: {runfolder.shown_path(args.folder)} is not a directory", file=sys.stderr)
            return EXIT_BAD_INPUT
        if args.command == "runs":
            return _interruptible("runs", lambda: print(records.runs_table(records.run_rows(folder))) or 0)
        from experiments.runner import report

        def write_report() -> int:
            from toys.engine.progress import Progress

            progress = Progress(show=True)
            try:
                with progress.task("report"):
                    path = report.write(folder, progress.counter())
                print(f"report: {path}")
            except ConfigError as error:
                print(f"toylab: error: {error}", file=sys.stderr)
                return EXIT_BAD_INPUT
            return 0

        return _interruptible("report", write_report)
    if args.command == "list":
        width = max(len(name) for name in registry.EXPERIMENTS) + 2  # the longest name sets the column
        for name in registry.EXPERIMENTS:
            print(f"{name:<{width}}{registry.description(name)}")
        return 0
    if args.command == "bench":
        return _interruptible("bench", lambda: run_bench(args.repeats, args.out, args.profile))
    if args.command == "theory":
        return run_theory(args.quick, args.seed, args.out)
    if args.command == "evaluate":
        return _interruptible("evaluate", lambda: run_evaluate(args.run_folder, args.sae, args.toy, getattr(args, "out", None)))
    if args.command == "map":
        return _interruptible("map", lambda: run_map(args.folder, args.out, args.seed, args.neighbours, args.umap_neighbors))
    if args.command == "sweep":
        args.name = "sweep"
    if args.help:
        try:
            experiment = registry.get(args.name)
        except ConfigError as error:
            print(f"toylab: error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        from experiments.runner import help_text

        print(help_text.help_text(experiment, args.quick))
        return 0
    try:
        experiment, config = resolve_config(args.name, args.quick, args.seed, args.set)
        runtime = Runtime.on_this_machine(args.devices, precision=args.precision, prng=args.prng)
    except ConfigError as error:
        print(f"toylab: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from sae import sharding
    from toys.engine.progress import DivergenceError

    out = args.out
    if not sharding.is_writer():  # a multi-host run: process 0 writes the run folder, the others a scratch copy
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="toylab-process-"))
    try:
        run_experiment(experiment, config, out, args.quick, runtime)
    except DivergenceError as error:
        print(f"toylab: error: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


if __name__ == "__main__":
    from experiments.runner import entry

    sys.exit(entry.main())
