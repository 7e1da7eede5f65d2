"""Atomic writes: a file or a folder appears whole, or not at all, with the umask's modes.

A result is written to a temporary sibling, then renamed into place (`os.replace`, atomic on
one file system), so an interrupted or failing write leaves the old version or nothing —
never half a file. Used by run folders, SAE folders (SAELens' format) and synthetic models.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once at import (umask is process-wide; never toggled while threads write)


def file_mode() -> int:
    """0o666 less the umask: what `open(path, "w")` would give (mkstemp alone gives 0o600)."""
    return 0o666 & ~_UMASK


@contextlib.contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside `path`; on success rename it onto `path` (with the umask's mode)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, file_mode())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_folder(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """Create or replace `folder` atomically: `write(temporary)` fills a temporary sibling folder,
    which gets the umask's modes and is then renamed into place (removed on any error)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        write(temporary)
        os.chmod(temporary, 0o777 & ~_UMASK)  # mkdtemp gives 0o700; a folder gets the umask's mode
        for path in temporary.iterdir():
            os.chmod(path, file_mode())
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(temporary, folder)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return folder
