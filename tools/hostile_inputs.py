"""Round three's hostile inputs, run against a checkout: each case's exit code, its last line
on stderr, whether a traceback appeared, and what it left in its output folder.

    python tools/hostile_inputs.py [--code DIR] [--only NAME]

--code: the checkout whose code runs (default: this one); it is put first on PYTHONPATH, and its
`experiments.runner.entry` is used where it exists (else `experiments.runner.cli`), so that an older
commit's behaviour can be shown beside the current one's (`git worktree add /tmp/old <commit>`).
Each case runs in a fresh temporary folder; a case that blocks is stopped after 60 s ("hung").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from toys.engine import guarded  # noqa: E402  (this checkout's reader, to read what a case left)

TINY = [
    "--set",
    "toy.n_features=16",
    "--set",
    "toy.d=8",
    "--set",
    "toy.mean_l0=1",
    "--set",
    "sizes=16",
    "--set",
    "k=2",
    "--set",
    "steps=40",
    "--set",
    "batch_size=32",
]
TWO_FEATURE = ["run", "two-feature", "--set", "n_seeds=1", "--set", "steps=10"]
HANG_S = 60


class Runner:
    def __init__(self, code: Path):
        self.code = code
        module = "experiments.runner.entry" if (code / "experiments/runner/entry.py").exists() else "experiments.runner.cli"
        self.command = [sys.executable, "-m", module]
        self.env = {**os.environ, "PYTHONPATH": str(code)}
        self._finished: Path | None = None

    def run(self, args, cwd, signal_at=None, signum=signal.SIGTERM, env=None, when_file=None):
        """(exit code, stderr) of one command; a signal after `signal_at` s, or when `when_file` appears."""
        process = subprocess.Popen(
            [*self.command, *args], cwd=cwd, env={**self.env, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        if when_file is not None:
            deadline = time.time() + HANG_S
            while time.time() < deadline and process.poll() is None:
                if list(Path(cwd).glob(when_file)):
                    break
                time.sleep(0.002)
            process.send_signal(signum)
        elif signal_at is not None:
            time.sleep(signal_at)
            process.send_signal(signum)
        try:
            _, err = process.communicate(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
            return "hung", err.decode("utf-8", "replace")
        return process.returncode, err.decode("utf-8", "replace")

    def finished_run(self) -> Path:
        """A finished tiny superposition run with saved dictionaries (made once, copied per case)."""
        if self._finished is None:
            out = Path(tempfile.mkdtemp(prefix="hostile-run-"))
            code, err = self.run(["run", "superposition", "--quick", "--out", str(out), *TINY], cwd=out)
            assert code == 0, err[-500:]
            self._finished = next((out / "superposition").iterdir())
        return self._finished


def _copy_run(runner, folder: Path, where: str = "fixture") -> Path:
    """A copy of the finished run under folder/where (evaluate's cases: "fixture"; a listing's: "out")."""
    target = folder / where / "superposition" / runner.finished_run().name
    shutil.copytree(runner.finished_run(), target)
    for stale in target.glob("dictionaries/results.json"):
        stale.unlink()
    return target


def _edit_json(path: Path, edit):
    value = json.loads(path.read_text())
    edit(value)
    path.write_text(json.dumps(value))


def _dictionary(run: Path, prefix: str) -> Path:
    return next(p for p in sorted((run / "dictionaries").iterdir()) if p.name.startswith(prefix))


def _weights_1e300(run: Path):
    import numpy as np
    from safetensors.numpy import load_file, save_file

    path = _dictionary(run, "topk") / "sae_weights.safetensors"
    tensors = load_file(str(path))
    tensors["W_dec"] = np.full(tensors["W_dec"].shape, 1e300)
    save_file(tensors, str(path))


def _npy(folder: Path, dtype, value) -> str:
    import numpy as np

    x = np.ones((20, 4), dtype)
    x[0, 0] = value
    np.save(folder / "x.npy", x)
    return (
        f"from toys import stored; from toys.engine.config import ConfigError\n"
        f"try:\n    toy = stored.from_npy({str(folder / 'x.npy')!r})\n"
        f"    import numpy as np; print('x finite:', bool(np.isfinite(np.asarray(toy.x)).all()))\n"
        f"except ConfigError as e:\n    print('refused:', e)"
    )


def _pursuit_folder(folder: Path, max_iterations) -> Path:
    import numpy as np
    from safetensors.numpy import save_file

    sae = folder / "mp"
    sae.mkdir()
    d, m = 8, 16  # the tiny run's d, so that only the field under test can refuse it
    save_file({"W_dec": np.eye(m, d, dtype=np.float32), "b_dec": np.zeros(d, np.float32)}, str(sae / "sae_weights.safetensors"))
    (sae / "cfg.json").write_text(
        json.dumps(
            {"architecture": "matching_pursuit", "d_in": d, "d_sae": m, "max_iterations": max_iterations, "apply_b_dec_to_input": True}
        )
    )
    return sae


def cases(runner: Runner):
    """(name, function(folder) -> (exit code, stderr)) for each input."""
    r = runner

    def signal_case(args, delay, signum=signal.SIGTERM):
        return lambda f: r.run(
            [*args, "--out", str(f / "out")] if args[0] in ("run", "theory") and "--help" not in args else args,
            cwd=f,
            signal_at=delay,
            signum=signum,
        )

    def evaluate_with(edit):
        def case(f):
            run = _copy_run(r, f)
            edit(run)
            return r.run(["evaluate", str(run)], cwd=f)

        return case

    def listing_with(edit, command="runs"):
        def case(f):
            run = _copy_run(r, f, "out")
            edit(run)
            return r.run([command, str(f / "out")], cwd=f)

        return case

    deep = "[" * 100_000 + "]" * 100_000
    yield "SIGTERM 0.15 s into run two-feature", signal_case(TWO_FEATURE, 0.15)
    yield "SIGTERM 2.5 s into run two-feature", signal_case(TWO_FEATURE, 2.5)
    yield "SIGTERM 1.5 s into run superposition --help", signal_case(["run", "superposition", "--help"], 1.5)
    yield "SIGTERM 1.0 s into theory --quick", signal_case(["theory", "--quick"], 1.0)
    yield "SIGINT 0.15 s into run two-feature", signal_case(TWO_FEATURE, 0.15, signal.SIGINT)
    yield (
        "SIGTERM to theory as config.json appears",
        lambda f: r.run(["theory", "--quick", "--out", str(f / "out")], cwd=f, when_file="out/theory/*/config.json"),
    )
    yield (
        "SIGHUP mid-training (two-feature)",
        lambda f: r.run(
            [*TWO_FEATURE[:-2], "--set", "steps=20000000", "--out", str(f / "out")], cwd=f, signal_at=8.0, signum=signal.SIGHUP
        ),
    )
    yield (
        "SIGTERM as results.json appears",
        lambda f: r.run(
            ["run", "superposition", "--quick", *TINY, "--out", str(f / "out")], cwd=f, when_file="out/superposition/*/results.json"
        ),
    )
    yield "status.json nested 100,000 deep: runs", listing_with(lambda run: (run / "status.json").write_text(deep))
    yield "status.json nested 100,000 deep: report", listing_with(lambda run: (run / "status.json").write_text(deep), "report")
    yield "cfg.json nested 100,000 deep: evaluate", evaluate_with(lambda run: (_dictionary(run, "topk") / "cfg.json").write_text(deep))
    yield "status.json a FIFO: runs", listing_with(lambda run: ((run / "status.json").unlink(), os.mkfifo(run / "status.json")))
    yield "status.json a FIFO: report", listing_with(lambda run: ((run / "status.json").unlink(), os.mkfifo(run / "status.json")), "report")
    yield "report /proc", lambda f: r.run(["report", "/proc"], cwd=f)
    yield (
        "401-digit integer in a cfg.json hyperparameter",
        evaluate_with(
            lambda run: _edit_json(_dictionary(run, "topk") / "cfg.json", lambda c: c["toylab"]["hparams"].update(k=int("9" * 401)))
        ),
    )
    yield (
        "MatchingPursuit max_iterations 1e30",
        lambda f: r.run(["evaluate", "--sae", str(_pursuit_folder(f, 1e30)), "--toy", str(_copy_run(r, f)), "--out", str(f / "o")], cwd=f),
    )
    yield (
        "MatchingPursuit max_iterations 10^9",
        lambda f: r.run(["evaluate", "--sae", str(_pursuit_folder(f, 10**9)), "--toy", str(_copy_run(r, f)), "--out", str(f / "o")], cwd=f),
    )
    yield (
        "--set steps=10000000000000",
        lambda f: r.run(["run", "superposition", "--quick", *TINY, "--set", "steps=10000000000000", "--out", str(f / "out")], cwd=f),
    )
    yield "float64 weights holding 1e300: evaluate", evaluate_with(_weights_1e300)
    yield "from_npy float64 1e300", lambda f: _python(r, _npy(f, "float64", 1e300), f)
    yield "from_npy longdouble 1e4000", lambda f: _python(r, _npy(f, "longdouble", "1e4000"), f)
    yield (
        'apply_b_dec_to_input: "true"',
        evaluate_with(lambda run: _edit_json(_dictionary(run, "topk") / "cfg.json", lambda c: c.update(apply_b_dec_to_input="true"))),
    )
    yield (
        "residual_threshold: true (pursuit)",
        lambda f: r.run(
            [
                "evaluate",
                "--sae",
                str(_edit_pursuit(_pursuit_folder(f, 4), residual_threshold=True)),
                "--toy",
                str(_copy_run(r, f)),
                "--out",
                str(f / "o"),
            ],
            cwd=f,
        ),
    )
    yield (
        'architecture: ["topk"]',
        evaluate_with(lambda run: _edit_json(_dictionary(run, "topk") / "cfg.json", lambda c: c.update(architecture=["topk"]))),
    )
    yield (
        "relu dictionary grouped as topk",
        evaluate_with(
            lambda run: _edit_json(
                _dictionary(run, "relu") / "cfg.json",
                lambda c: c["toylab"].update(group=json.loads((_dictionary(run, "topk") / "cfg.json").read_text())["toylab"]["group"]),
            )
        ),
    )
    yield (
        "LC_ALL=C run (UTF-8 summary)",
        lambda f: r.run(
            ["run", "superposition", "--quick", *TINY, "--out", str(f / "out")],
            cwd=f,
            env={"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
        ),
    )
    yield (
        "LC_ALL=C runs",
        lambda f: (
            _copy_run(r, f, "out"),
            r.run(["runs", str(f / "out")], cwd=f, env={"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}),
        )[1],
    )
    yield "--devices ²", lambda f: r.run(["run", "superposition", "--quick", "--devices", "²", "--out", str(f / "out")], cwd=f)
    yield "--out ~nosuchuser/x", lambda f: r.run(["run", "superposition", "--quick", "--out", "~nosuchuser/x"], cwd=f)
    yield "evaluate RUN from a deleted working directory", _evaluate_from_deleted(r)
    yield "evaluate RUN from a read-only working directory", _evaluate_from_readonly(r)
    yield "evaluate RUN --toy X", lambda f: r.run(["evaluate", str(_copy_run(r, f)), "--toy", str(f)], cwd=f)


def _edit_pursuit(folder: Path, **fields) -> Path:
    _edit_json(folder / "cfg.json", lambda c: c.update(fields))
    return folder


def _python(runner: Runner, source: str, folder: Path):
    done = subprocess.run([sys.executable, "-c", source], cwd=folder, env=runner.env, capture_output=True, timeout=HANG_S)
    out = done.stdout.decode().strip().splitlines()
    return done.returncode, (done.stderr.decode() + "\n" + (out[-1] if out else "")).strip()


def _evaluate_from_deleted(runner):
    def case(folder):
        run = _copy_run(runner, folder)
        gone = folder / "gone"
        gone.mkdir()
        process = subprocess.Popen(
            f"cd {gone} && rmdir {gone} && exec {' '.join(runner.command)} evaluate {run}",
            shell=True,
            env=runner.env,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        _, err = process.communicate(timeout=HANG_S)
        return process.returncode, err.decode("utf-8", "replace")

    return case


def _evaluate_from_readonly(runner):
    def case(folder):
        run = _copy_run(runner, folder)
        locked = folder / "locked"
        locked.mkdir()
        os.chmod(locked, 0o555)
        try:
            if os.geteuid() == 0:  # root writes anywhere: /proc stands in for a read-only folder
                return runner.run(["evaluate", str(run)], cwd="/proc")
            return runner.run(["evaluate", str(run)], cwd=locked)
        finally:
            os.chmod(locked, 0o755)

    return case


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--only", default=None)
    args = parser.parse_args(argv)
    runner = Runner(args.code.resolve())
    for index, (name, case) in enumerate(cases(runner), 1):
        if args.only and args.only not in name:
            continue
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            code, err = case(folder)
            lines = [line for line in err.strip().splitlines() if line.strip()]
            made = [p for where in ("out", "o") for p in (folder / where).rglob("*") if p.is_file() or p.name == "status.json"] + list(
                (folder / "fixture").glob("*/*/dictionaries/results.json")
            )
            states = []
            for path in made:
                if path.name == "status.json":
                    try:
                        states.append(guarded.read_json(path, "status.json").get("state"))
                    except guarded.GuardedReadError:
                        states.append("unreadable")
            print(
                json.dumps(
                    {
                        "case": index,
                        "input": name,
                        "exit": code,
                        "traceback": "Traceback" in err,
                        "last_line": lines[-1][:160] if lines else "",
                        "states": states,
                        # (a listing's case holds a finished run under out/ from the start)
                        "results_json": sorted(str(p.relative_to(folder)) for p in made if p.name == "results.json"),
                    },
                    ensure_ascii=False,
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
