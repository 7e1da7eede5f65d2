"""tools/feature_map_codes.py refuses bad input in one line with exit code 2, before it trains anything."""

import pytest
import tool_input
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def tool():
    return tool_input.load("feature_map_codes")


def _refused(tool, argv, capsys) -> str:
    return tool_input.refused(tool, "feature_map_codes", argv, capsys)


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
