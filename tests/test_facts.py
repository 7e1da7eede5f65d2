"""A run's facts (experiments.runner.facts): written as results.json holds them, read back typed and checked."""

import dataclasses
import json
from typing import NamedTuple

import pytest

from experiments.runner import facts


class Budget(NamedTuple):
    steps: int
    batch_size: int


@dataclasses.dataclass(frozen=True)
class Facts:
    alpha: float
    budget: Budget
    ks: tuple[int, ...]
    name: str
    note: str | None
    extra: dict


EXAMPLE = Facts(0.05, Budget(2000, 256), (1, 2, 4), "circle", None, {"a": [1, 2]})


def test_round_trip_through_json():
    written = facts.write(EXAMPLE)
    assert written == {
        "alpha": 0.05,
        "budget": {"steps": 2000, "batch_size": 256},
        "ks": [1, 2, 4],
        "name": "circle",
        "note": None,
        "extra": {"a": [1, 2]},
    }
    back = facts.read(json.loads(json.dumps({**written, "table": []})), Facts)
    assert back == EXAMPLE and isinstance(back.budget, Budget) and back.budget.steps == 2000


def test_an_integer_reads_as_a_float_but_a_bool_does_not():
    assert facts.read({**facts.write(EXAMPLE), "alpha": 1}, Facts).alpha == 1.0
    with pytest.raises(ValueError, match=r"^results.json: alpha: got bool, allowed float$"):
        facts.read({**facts.write(EXAMPLE), "alpha": True}, Facts)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"alpha": "0.05"}, r"^results.json: alpha: got str, allowed float$"),
        ({"budget": {"steps": 2000}}, r"^results.json: budget: batch_size: missing, which the study reads$"),
        ({"budget": [2000, 256]}, r"^results.json: budget: got list, allowed an object$"),
        ({"ks": [1, 2.5]}, r"^results.json: ks\[1\]: got float, allowed int$"),
        ({"ks": [1, True]}, r"^results.json: ks\[1\]: got bool, allowed int$"),  # a bool is an int to Python
        ({"name": None}, r"^results.json: name: got NoneType, allowed str$"),
        ({"note": 3}, r"^results.json: note: got int, allowed str$"),
        ({"extra": []}, r"^results.json: extra: got list, allowed dict$"),
    ],
)
def test_a_mistyped_fact_is_one_line_naming_it(change, message):
    with pytest.raises(ValueError, match=message):
        facts.read({**facts.write(EXAMPLE), **change}, Facts)


def test_a_missing_fact_is_named():
    written = facts.write(EXAMPLE)
    del written["ks"]
    with pytest.raises(ValueError, match=r"^results.json: ks: missing, which the study reads$"):
        facts.read(written, Facts)


def test_write_refuses_what_is_not_a_dataclass_instance():
    with pytest.raises(TypeError):
        facts.write({"alpha": 0.05})
    with pytest.raises(TypeError):
        facts.write(Facts)


class Network(NamedTuple):
    name: str
    p: int | None = None  # only some networks have one


@dataclasses.dataclass(frozen=True)
class Networks:
    networks: tuple[Network, ...]


def test_a_field_with_a_default_may_be_absent_and_is_still_checked_when_present():
    read = facts.read({"networks": [{"name": "modular", "p": 37}, {"name": "calendar"}]}, Networks)
    assert read.networks == (Network("modular", 37), Network("calendar", None))
    with pytest.raises(ValueError, match=r"^results.json: networks\[1\]: p: got str, allowed int$"):
        facts.read({"networks": [{"name": "modular"}, {"name": "calendar", "p": "37"}]}, Networks)
    with pytest.raises(ValueError, match=r"^results.json: networks\[0\]: name: missing, which the study reads$"):
        facts.read({"networks": [{"p": 37}]}, Networks)


@dataclasses.dataclass(frozen=True)
class ByName:
    budgets: dict[str, Budget]


def test_a_mapping_of_records_reads_each_value():
    read = facts.read({"budgets": {"quick": {"steps": 10, "batch_size": 2}}}, ByName)
    assert read.budgets == {"quick": Budget(10, 2)}
    with pytest.raises(ValueError, match=r"^results.json: budgets: full: steps: got str, allowed int$"):
        facts.read({"budgets": {"quick": {"steps": 10, "batch_size": 2}, "full": {"steps": "x", "batch_size": 2}}}, ByName)
    with pytest.raises(ValueError, match=r"^results.json: budgets: got list, allowed an object$"):
        facts.read({"budgets": []}, ByName)
