"""tools/loop_readings.py refuses bad input in one line with exit code 2, before it trains anything."""

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TOOL = Path(__file__).resolve().parents[1] / "tools" / "loop_readings.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("loop_readings", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refused(tool, argv, capsys) -> str:
    sys_argv = sys.argv
    sys.argv = ["loop_readings.py", *argv]
    try:
        with pytest.raises(SystemExit) as exit_:
            tool.main()
    finally:
        sys.argv = sys_argv
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("loop_readings: ")
    return err


# capsys is read and emptied on every example, so sharing it across examples is safe
@settings(derandomize=True, deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=6).filter(lambda t: not (t.isascii() and t.isdigit() and int(t) >= 1)))
def test_any_bad_seed_count_is_one_line(tool, capsys, text):
    assert "SEEDS" in _refused(tool, [text], capsys)
    assert "SEEDS" in _refused(tool, ["planted", text], capsys)


def test_an_unknown_kind_is_named(tool, capsys):
    assert "'square'" in _refused(tool, ["1", "circle,square"], capsys)
