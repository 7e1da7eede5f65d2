"""A claim about the mathematics: a closed-form prediction, an estimator, and how they compare.

Every claim in `theory/` is one `Claim`: a one-line statement with its source, a
`predict(instance)` that evaluates the closed form, a `measure(instance)` that computes
the same quantity independently (exactly — by enumeration, a linear programme, an
eigendecomposition — or by Monte Carlo with a rigorous error radius), and a relation

    "="   holds when |measured − predicted| ≤ tolerance
    "≤"   holds when measured ≤ predicted + tolerance
    "≥"   holds when measured ≥ predicted − tolerance

An instance is a dict of parameters (sizes, vectors, seeds, and the knobs a negative
control turns: a hypothesis of the claim, violated). `instance(quick, seed)` builds the
one `toylab theory` runs — larger than the property tests use. Adding a claim: write
the prediction, the estimator, a `Claim(...)` in the topic module's `CLAIMS`, and a
property test with its negative control.

Probabilistic bounds are checked at failure probability δ = 1e-9 per instance
(`FAILURE_PROBABILITY`), so nothing flakes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

FAILURE_PROBABILITY = 1e-9
RELATIONS = ("=", "≤", "≥")


@dataclasses.dataclass(frozen=True)
class Check:
    """One evaluated claim: predicted, measured, the slack allowed, and whether it holds."""

    claim: str
    predicted: float
    measured: float
    relation: str
    tolerance: float
    holds: bool

    def __str__(self) -> str:
        return (
            f"{self.claim}: measured {self.measured:.6g} {self.relation} predicted {self.predicted:.6g} "
            f"(tolerance {self.tolerance:.2g}) → {'holds' if self.holds else 'FAILS'}"
        )


def compare(predicted: float, measured: float, relation: str, tolerance: float) -> bool:
    """Whether `measured relation predicted` holds within `tolerance` (NaN never holds)."""
    if not (math.isfinite(predicted) and math.isfinite(measured)):
        return False
    if relation == "=":
        return abs(measured - predicted) <= tolerance
    if relation == "≤":
        return measured <= predicted + tolerance
    if relation == "≥":
        return measured >= predicted - tolerance
    raise ValueError(f"relation: got {relation!r}, allowed {RELATIONS}")


def round_off(instance: dict) -> float:
    """The default tolerance: float64 round-off on quantities of order one."""
    return 1e-9


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    source: str
    relation: str
    predict: Callable[[dict], float]
    measure: Callable[[dict], float]
    instance: Callable[[bool, int], dict]
    describe: Callable[[dict], str]
    tolerance: Callable[[dict], float] = round_off

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"relation: got {self.relation!r}, allowed {RELATIONS}")

    def check(self, instance: dict) -> Check:
        predicted = float(self.predict(instance))
        measured = float(self.measure(instance))
        tolerance = float(self.tolerance(instance))
        return Check(self.id, predicted, measured, self.relation, tolerance, compare(predicted, measured, self.relation, tolerance))
