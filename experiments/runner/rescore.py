"""`toylab evaluate`: score saved dictionaries again, without retraining.

- `rescore_run(RUN_FOLDER)`: every dictionary under RUN_FOLDER/dictionaries/ (SAELens
  format, written by the run) scored with the current metrics on the run's own toy and
  eval samples (or its fixed samples), rebuilt from config.json by the experiment's `evaluation_source(config)`,
  and graded by the study's own graders where it declares them (a standard study's).
  Dictionaries trained in one stacked call are re-stacked in the same order, so the
  numbers equal the run's own: the re-scored numbers are written as rows of the results table
  (`experiments.runner.table`) at the coordinates the run saved with each dictionary, and
  compared with the run's own rows ("agreement_with_run"). Writes RUN_FOLDER/dictionaries/results.json.
- `score_sae(SAE_FOLDER, RUN_FOLDER)`: one SAE folder (written by toylab or by SAELens)
  scored on a run's toy.
Everything that can be checked is checked before any scoring (a missing or corrupt
file, an unknown architecture, d_in different from the toy's d, an experiment without
a re-buildable toy): `FormatError`/`ConfigError` with one line. What needs neither the study
nor JAX is checked first, by `experiments.runner.saved_runs` (the CLI runs it before it
imports this module).
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.runner import overrides, registry, runfolder, saved_runs, table
from sae import pipeline, saelens_format
from toys.engine import guarded
from toys.engine.config import ConfigError


def load_run(run_folder: str | Path):
    """(experiment module, config, the run's eval source dict) of a run folder."""
    name, values = saved_runs.read_config(run_folder)
    experiment = registry.get(name)  # read_config admits only studies with an evaluation_source
    config = overrides.from_dict(experiment.Config, values)
    config.validate()
    return experiment, config, experiment.evaluation_source(config)


def _d_of(source: dict) -> int:
    """The activation dimension of an evaluation source: its toy's d, its fixed samples' width, or the d
    it states (samples per dictionary)."""
    if "toy" in source:
        return int(source["toy"].d)
    return int(source["d"]) if "x_of" in source else int(np.shape(source["x"])[1])


def _check_fits(loaded: saelens_format.Loaded, folder: Path, source: dict) -> None:
    d = _d_of(source)
    if loaded.cfg["d_in"] != d:
        raise ConfigError(f"{runfolder.shown_path(folder)}: d_in={loaded.cfg['d_in']} does not match the toy's d={d}")


def _own_samples(source: dict, folder: Path, loaded: saelens_format.Loaded) -> np.ndarray:
    """A dictionary's own fixed samples (`x_of` its place in the table); a place the source cannot read
    is one line naming the dictionary's cfg.json."""
    try:
        return source["x_of"](loaded.cfg.get("toylab", {}).get("table"))
    except ConfigError as error:
        raise ConfigError(f"{runfolder.shown_path(folder / 'cfg.json')}: {error}") from None


def _score(groups: list[list[tuple[Path, saelens_format.Loaded]]], source: dict) -> list[dict]:
    entries = []
    for done, members in enumerate(groups):
        # progress on stderr: scoring streams fresh samples per group and can take minutes on a busy machine
        print(
            f"  evaluate: scoring {members[0][0].name}{f' and {len(members) - 1} more' if len(members) > 1 else ''} "
            f"({done + 1} of {len(groups)} groups)",
            file=sys.stderr,
            flush=True,
        )
        arch = members[0][1].arch
        params = pipeline.stack([jax.tree.map(jnp.asarray, loaded.params) for _, loaded in members])
        hps = pipeline.stack([loaded.hparams() for _, loaded in members])
        # each dictionary's own fixed samples (`x_of` its table coordinates: a network layer, say)
        own = [_own_samples(source, folder, loaded) for folder, loaded in members] if "x_of" in source else None
        if "toy" in source:  # fresh samples from the run's toy and eval key
            scores = pipeline.evaluate(
                arch, params, hps, source["toy"], key=source["key"], n_eval=source["n_eval"], parents=source.get("parents")
            )
        elif own is not None:
            scores = [
                pipeline.evaluate(arch, *jax.tree.map(lambda leaf, g=g: leaf[g : g + 1], (params, hps)), (jnp.asarray(x),))[0]
                for g, x in enumerate(own)
            ]
        else:  # the run's fixed samples, every row once
            scores = pipeline.evaluate(arch, params, hps, (jnp.asarray(source["x"]),))
        for g, ((folder, loaded), metrics) in enumerate(zip(members, scores)):
            for grader in source.get("graders", ()):  # the study's own graders, as its run applied them
                if hasattr(grader, "grade_dictionary"):
                    one = jax.tree.map(lambda leaf, g=g: leaf[g : g + 1], (params, hps))
                    metrics.update(grader.grade_dictionary(arch, *one, source if own is None else {**source, "x": own[g]}))
                else:
                    metrics.update(grader.grade(np.asarray(loaded.params.W_dec), source["toy"]))
            entries.append(
                {
                    "name": folder.name,
                    "arch": arch,
                    "folder": str(folder),
                    "metrics": metrics,
                    "table": loaded.cfg.get("toylab", {}).get("table"),
                }
            )
    return entries


def run_table(run_folder: Path) -> list[table.Row]:
    """The run's own results table (none for a run without results.json, or from before the table);
    ConfigError, one line naming the file, when results.json or its table cannot be read."""
    path = run_folder / "results.json"
    if not path.exists():
        return []
    try:
        return table.read(guarded.read_json(path, "results.json"))
    except guarded.GuardedReadError as error:
        raise ConfigError(str(error)) from None
    except ValueError as error:
        raise ConfigError(f"{runfolder.shown_path(path)}: {error}") from None


def beside_run(entries: list[dict], run_rows: list[table.Row], readers: dict[str, str] | None = None) -> tuple[list[table.Row], dict]:
    """The re-scored numbers as rows of the results table (each dictionary at the coordinates the run
    saved with it, chance as the run's row has it), and their agreement with the run's own rows of the
    same key: {"compared", "equal", "max_abs_difference", "differing" (up to 10 keys)}."""
    by_key = {row.key(): row for row in run_rows}
    rows, compared, equal, worst, differing = [], 0, 0, 0.0, []
    for entry in entries:
        where = entry.get("table")
        if not isinstance(where, dict):
            continue
        for row in table.from_entries(
            [{"kind": where["arm"], "size": where["size"], "seed": where["seed"], "metrics": entry["metrics"]}],
            readers=readers,
            setting=lambda _, where=where: where.get("setting", {}),
        ):
            own = by_key.get(row.key())
            rows.append(table.Row(**{**row.__dict__, "chance": None if own is None else own.chance}))
            if own is None or own.value is None or row.value is None:
                continue
            compared += 1
            difference = abs(own.value - row.value)
            equal += difference == 0.0
            worst = max(worst, difference)
            if difference and len(differing) < 10:
                differing.append(f"{row.arm} m={row.size} seed={row.seed} {row.metric}: {own.value} → {row.value}")
    return rows, {"compared": compared, "equal": equal, "max_abs_difference": worst, "differing": differing}


def rescore_run(run_folder: str | Path) -> dict:
    run_folder = Path(run_folder)
    experiment, config, source = load_run(run_folder)
    folders = saved_runs.dictionary_folders(run_folder)
    loaded = [(folder, saelens_format.load(folder)) for folder in folders]
    for folder, item in loaded:
        _check_fits(item, folder, source)
    groups: dict[str, list] = {}
    for folder, item in loaded:
        meta = item.cfg.get("toylab", {})
        groups.setdefault(meta.get("group", folder.name), []).append((meta.get("index", 0), folder, item))
    for name, members in groups.items():  # a group is scored as one stack: one architecture, one size
        _, first_folder, first = members[0]
        for _, folder, item in members[1:]:
            if item.arch != first.arch or item.cfg["d_sae"] != first.cfg["d_sae"]:
                raise ConfigError(
                    f"{runfolder.shown_path(folder)}: toylab.group {name!r} puts this {item.arch} "
                    f"dictionary (d_sae={item.cfg['d_sae']}) with {runfolder.shown_path(first_folder)} "
                    f"({first.arch}, d_sae={first.cfg['d_sae']}); a group holds one architecture and size"
                )
        prefix = name.split(":", 1)[0] if ":" in name else None
        if prefix is not None and prefix != first.arch:
            raise ConfigError(
                f"{runfolder.shown_path(first_folder)}: toylab.group {name!r} names {prefix!r}, but its "
                f"weights and cfg.json are a {first.arch} dictionary"
            )
    ordered = [[(folder, item) for _, folder, item in sorted(members, key=lambda m: m[0])] for members in groups.values()]
    run_rows = run_table(run_folder)  # checked before any scoring
    entries = _score(ordered, source)
    readers = {metric: grader.reader for grader in source.get("graders", ()) for metric in grader.metrics}
    rows, agreement = beside_run(entries, run_rows, readers)
    return {
        "run": str(run_folder),
        "experiment": experiment.name,
        "seed": config.seed,
        "dictionaries": entries,
        "table": table.to_json(rows),
        "agreement_with_run": agreement,
    }


def score_sae(sae_folder: str | Path, run_folder: str | Path) -> dict:
    sae_folder = Path(sae_folder)
    loaded = saelens_format.load(sae_folder)
    experiment, config, source = load_run(run_folder)
    _check_fits(loaded, sae_folder, source)
    return {
        "run": str(run_folder),
        "experiment": experiment.name,
        "seed": config.seed,
        "dictionaries": _score([[(sae_folder, loaded)]], source),
    }


def summary(results: dict) -> str:
    columns = ("mmcs", "mcc", "uniqueness", "f1", "f1_live", "explained_variance", "l0", "dead_fraction")
    header = f"{'dictionary':<34}" + "".join(f"{c[:10]:>11}" for c in columns)
    lines = [header, "-" * len(header)]
    for entry in results["dictionaries"]:
        metrics = entry["metrics"]
        lines.append(f"{entry['name'][:33]:<34}" + "".join(f"{metrics[c]:>11.4f}" if c in metrics else f"{'—':>11}" for c in columns))
    agreement = results.get("agreement_with_run")
    if agreement is not None:
        lines.append(
            f"beside the run's own results table: {agreement['equal']} of {agreement['compared']} numbers equal "
            f"(largest difference {agreement['max_abs_difference']:.3g})" + "".join(f"\n  {line}" for line in agreement["differing"])
        )
    return "\n".join(lines)
