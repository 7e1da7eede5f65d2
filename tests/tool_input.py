"""Load a script of tools/ as a module and run its main() on arguments that it must refuse: one line on
stderr starting with its name, exit code 2 (the tools' input tests share this)."""

import importlib.util
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"tools/{name}.py: not loadable"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refused(tool, name: str, argv: list[str], capsys) -> str:
    """The one stderr line main() refuses `argv` with (exit code 2 asserted)."""
    saved = sys.argv
    sys.argv = [f"{name}.py", *argv]
    try:
        with pytest.raises(SystemExit) as exit_:
            tool.main()
    finally:
        sys.argv = saved
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{name}: ")
    return err
