"""tools/feature_map_codes.py refuses bad input in one line with exit code 2, before it trains anything."""

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TOOL = Path(__file__).resolve().parents[1] / "tools" / "feature_map_codes.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("feature_map_codes", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refused(tool, argv, capsys) -> str:
    sys_argv = sys.argv
    sys.argv = ["feature_map_codes.py", *argv]
    try:
        with pytest.raises(SystemExit) as exit_:
            tool.main()
    finally:
        sys.argv = sys_argv
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("feature_map_codes: ")
    return err


def _is_count(text: str) -> bool:
    return text.strip().lstrip("+").isdigit() and int(text) >= 1


# capsys is read and emptied on every example, so sharing it across examples is safe
@settings(derandomize=True, deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=6).filter(lambda t: not _is_count(t)))
def test_any_bad_step_count_is_one_line(tool, capsys, text):
    assert "STEPS" in _refused(tool, ["0.3", "0", text], capsys)


@settings(derandomize=True, deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=6), st.floats(max_value=-1e-9).map(str), st.sampled_from(["nan", "inf", "-inf"])))
def test_any_bad_closeness_is_one_line(tool, capsys, text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is not None and value >= 0 and value != float("inf"):
        return  # a valid closeness: not this test's case
    assert "CLOSENESS" in _refused(tool, [text], capsys)


def test_too_many_arguments_are_refused(tool, capsys):
    assert "at most 4" in _refused(tool, ["0.3", "0", "10", "0", "extra"], capsys)
