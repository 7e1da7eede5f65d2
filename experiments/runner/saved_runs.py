"""What `toylab evaluate` reads from a run folder, checked before the study and JAX are imported.

A run folder holds config.json (`{"experiment": NAME, "config": {...}}`) and, for the studies
that can be re-scored, dictionaries/<name>/ in SAELens' format. `check_run` refuses, with one
line and before any import of JAX: a missing or malformed config.json, a study without a
re-buildable toy, saved settings of the wrong type or outside their declared rules (through the
settings index, `experiments.runner.settings_index.check_saved`), no saved dictionaries, a
`dictionaries/` evaluate cannot write its results.json into, and any dictionary whose files fail
`sae.saved_files.read`. `experiments.runner.rescore` then loads the study and scores, starting
from the same functions.
"""

from __future__ import annotations

import re
from pathlib import Path

from experiments.runner import runfolder, settings_index
from sae import saved_files
from toys.engine import guarded
from toys.engine.config import ConfigError


def read_config(run_folder: str | Path) -> tuple[str, dict]:
    """(study name, saved settings) of a run folder's config.json."""
    run_folder = Path(run_folder)
    config_path = run_folder / "config.json"
    if not config_path.exists():
        raise ConfigError(f"RUN_FOLDER: {runfolder.shown_path(run_folder)} has no config.json (expected a folder written by toylab run)")
    written = guarded.read_json(config_path, "config.json")
    name, values = written.get("experiment"), written.get("config")
    if not isinstance(name, str) or not isinstance(values, dict):
        raise ConfigError(f"{config_path}: not a toylab run config (needs 'experiment' and 'config')")
    rescorable = settings_index.rescorable()
    if not isinstance(name, str) or name not in rescorable:
        raise ConfigError(f"RUN_FOLDER: experiment {name!r} has no re-buildable toy; allowed: {', '.join(rescorable)}")
    return name, values


def dictionary_folders(run_folder: str | Path) -> list[Path]:
    """The saved dictionaries' folders in natural order (relu-256 before relu-1024); refuses a run
    without any, or whose dictionaries/ evaluate could not write its results.json into."""
    root = Path(run_folder) / "dictionaries"
    natural = lambda path: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]  # noqa: E731
    folders = sorted((path for path in root.iterdir() if path.is_dir()), key=natural) if root.is_dir() else []
    if not folders:
        raise ConfigError(f"RUN_FOLDER: {runfolder.shown_path(root)} holds no saved dictionaries")
    if not runfolder.can_create_in(root):  # checked before the scoring, not after it
        raise ConfigError(f"RUN_FOLDER: {runfolder.shown_path(root)} is not writable (evaluate writes its results.json there)")
    return folders


def check_run(run_folder: str | Path, with_dictionaries: bool = True) -> None:
    """Everything above, for `evaluate RUN_FOLDER` (and, without the dictionaries, for the run
    whose toy scores `--sae`)."""
    name, values = read_config(run_folder)
    settings_index.check_saved(name, values)
    if with_dictionaries:
        for folder in dictionary_folders(run_folder):
            saved_files.read(folder)
