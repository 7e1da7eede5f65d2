"""Run folders: OUT/NAME/<run-id>/{config.json, results.json, arrays.npz, figures/*.png}.

Every file is written atomically (a temporary file in the same folder, then
`os.replace`), so an interrupted run never leaves a results.json that looks complete.
config.json records the resolved config, the seed and the provenance (versions of the
project, jax, flax, optax and numpy; the device it ran on).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

from toys.engine.files import atomic_path


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def provenance() -> dict:
    import jax

    device = jax.devices()[0]
    return {
        "versions": {
            "toylab": _version("toylab"),
            "jax": _version("jax"),
            "jaxlib": _version("jaxlib"),
            "flax": _version("flax"),
            "optax": _version("optax"),
            "numpy": _version("numpy"),
            "python": platform.python_version(),
        },
        "device": {
            "platform": device.platform,
            "kind": device.device_kind,
            "count": jax.device_count(),
            "host": platform.machine(),
        },
        "command": sys.argv,
    }


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: Path, payload: dict) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n", encoding="utf-8")


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_arrays(path: Path, arrays: dict) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, **{name: np.asarray(value) for name, value in arrays.items()})


def save_figure(figure, path: Path, dpi: int = 150) -> Path:
    """Save a matplotlib figure atomically as PNG and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(figure)
    return Path(path)


def check_out_dir(text: str, field: str = "--out") -> Path:
    """The output folder, if it exists as a directory or can be created; ConfigError otherwise.

    Nothing is left behind (bad input writes nothing): an absent folder is accepted when a
    folder can be created in its nearest existing ancestor. Names longer than the file system
    allows, symbolic-link loops and dangling links are refused here rather than failing later.
    """
    from toys.engine.config import ConfigError

    if not text or not text.strip():
        raise ConfigError(f"{field}: got an empty path, expected a directory that exists or can be created")
    shown = shown_path(text)
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~name of no user on this machine
        raise ConfigError(f"{field}: {shown}: no such user's home directory") from None
    longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
    if longest > NAME_MAX or len(os.fsencode(str(path.absolute()))) > PATH_MAX:
        raise ConfigError(f"{field}: {shown}: too long (each name ≤ {NAME_MAX} bytes, the whole path ≤ {PATH_MAX})")
    try:
        path.resolve(strict=False)  # raises on a symbolic-link loop
        if path.is_symlink() and not path.exists():
            raise ConfigError(f"{field}: {shown} is a symbolic link to a missing target")
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{field}: {shown} exists and is not a directory")
        ancestor = path.absolute()
        while not ancestor.exists() and not ancestor.is_symlink():
            ancestor = ancestor.parent
        if not ancestor.is_dir() or not can_create_in(ancestor):
            what = "is not writable" if path.exists() else f"cannot be created ({ancestor} is not a writable directory)"
            raise ConfigError(f"{field}: {shown} {what}")
    except (OSError, RuntimeError) as error:  # ELOOP, EACCES on a parent, … (RuntimeError: a loop, Python < 3.13)
        reason = os.strerror(error.errno) if getattr(error, "errno", None) else "symbolic-link loop"
        raise ConfigError(f"{field}: {shown}: {reason.lower()}") from None
    return path


def shown_path(text: str) -> str:
    """A path as a one-line message shows it: control characters escaped (a newline in a name must
    not split the line), a long one cut in the middle with its length."""
    text = str(text)
    shown = text if text.isprintable() else repr(text)[1:-1]
    return shown if len(shown) <= 80 else f"{shown[:40]}…{shown[-20:]} ({len(text)} characters)"


NAME_MAX = 255  # bytes in one file name (Linux, macOS)
PATH_MAX = 4096  # bytes in a whole path (Linux)


def can_create_in(folder: Path) -> bool:
    """Whether a folder can be made inside `folder`: tried, then removed (permission bits are not
    enough: root passes os.access everywhere, yet cannot write into /proc)."""
    try:
        probe = tempfile.mkdtemp(dir=folder, prefix=".toylab-probe-")
    except OSError:
        return False
    os.rmdir(probe)
    return True


def new_run_folder(out: Path, name: str, seed: int, quick: bool) -> Path:
    """Create OUT/NAME/<UTC time>-seed<N>[-quick][-k] (a fresh folder, never reused)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-seed{seed}" + ("-quick" if quick else "")
    parent = Path(out) / name
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        folder = parent / (base if attempt == 0 else f"{base}-{attempt}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a fresh run folder under {parent}")
