"""tools/loop_readings.py refuses bad input in one line with exit code 2, before it trains anything."""

import pytest
import tool_input
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def tool():
    return tool_input.load("loop_readings")


def _refused(tool, argv, capsys) -> str:
    return tool_input.refused(tool, "loop_readings", argv, capsys)


# capsys is read and emptied on every example, so sharing it across examples is safe
@settings(derandomize=True, deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=6).filter(lambda t: not (t.isascii() and t.isdigit() and int(t) >= 1)))
def test_any_bad_seed_count_is_one_line(tool, capsys, text):
    assert "SEEDS" in _refused(tool, [text], capsys)
    assert "SEEDS" in _refused(tool, ["planted", text], capsys)


def test_an_unknown_kind_is_named(tool, capsys):
    assert "'square'" in _refused(tool, ["1", "circle,square"], capsys)
