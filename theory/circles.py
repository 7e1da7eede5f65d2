"""A circle against a dictionary of m equally spaced atoms (the polygon bounds).

Axes: n points, m atoms.

Points x(θ) = r (cos θ, sin θ) on a circle of radius r; atoms a_j = (cos 2πj/m,
sin 2πj/m); Δ = the angle from x to its nearest atom, uniform on [−π/m, π/m] when θ is.
- 1-sparse code with a free nonnegative coefficient, as an SAE's (x̂ = max(a·x, 0) a
  for the best atom; a negative coefficient would make −a_j an atom too): relative
  error ‖x − x̂‖²/r² = sin²Δ; worst sin²(π/m); mean over uniform θ
      E sin²Δ = ½ − sin(2π/m) / (4π/m).
- 2-sparse nonnegative code on the two atoms bracketing x: exact, with L1 norm
  cos(Δ′ − π/m)/cos(π/m) · r (Δ′ ∈ [0, 2π/m] the angle past the first atom); its
  maximum is sec(π/m) and its mean tan(π/m)/(π/m) ≈ 1 + π²/(3m²): tiling a circle
  with more atoms buys only O(m⁻²) in L1.
"""

from __future__ import annotations

import numpy as np

from theory.claims import Claim


def one_sparse_error_worst(m):
    """max_θ ‖x − x̂‖²/r² for the best single atom: sin²(π/m)."""
    return np.sin(np.pi / np.asarray(m, float)) ** 2


def one_sparse_error_mean(m):
    """E_θ ‖x − x̂‖²/r² for the best single atom, θ uniform: ½ − sin(2π/m)/(4π/m)."""
    m = np.asarray(m, float)
    return 0.5 - np.sin(2.0 * np.pi / m) / (4.0 * np.pi / m)


def two_sparse_l1_mean(m):
    """E_θ of the minimal L1 norm of an exact nonnegative 2-sparse code (r = 1): tan(π/m)/(π/m)."""
    m = np.asarray(m, float)
    return np.tan(np.pi / m) / (np.pi / m)


def two_sparse_l1_max(m):
    """max_θ of that L1 norm: sec(π/m)."""
    return 1.0 / np.cos(np.pi / np.asarray(m, float))


def polygon_atoms(m: int) -> np.ndarray:
    """m unit atoms equally spaced on the circle, [m, 2]."""
    angles = 2.0 * np.pi * np.arange(m) / m
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def one_sparse_errors(atoms: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Exact estimator: ‖x − max(a·x, 0) a‖²/‖x‖² for the best unit atom a, per point [n]."""
    overlaps = np.maximum(points @ atoms.T, 0.0)
    norms_sq = np.sum(points**2, axis=1)
    return 1.0 - np.max(overlaps**2, axis=1) / norms_sq


def circle_grid(m: int, per_arc: int) -> np.ndarray:
    """Unit points at angles 2πj/(m·per_arc): every arc between atoms gets `per_arc` points,
    and for even `per_arc` the grid contains the arc midpoints (the worst case Δ = π/m)."""
    angles = 2.0 * np.pi * np.arange(m * per_arc) / (m * per_arc)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def midpoint_circle_grid(m: int, per_arc: int) -> np.ndarray:
    """Unit points at the midpoints of m·per_arc equal cells (a midpoint rule for means over θ)."""
    angles = 2.0 * np.pi * (np.arange(m * per_arc) + 0.5) / (m * per_arc)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def half_circle_atoms(m: int) -> np.ndarray:
    """m atoms spread over [0, π) only (a negative control: their cone misses half the circle)."""
    angles = np.pi * np.arange(m) / m
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def min_l1_nonnegative_codes(atoms: np.ndarray, points: np.ndarray) -> np.ndarray:
    """min Σ_j c_j subject to Σ_j c_j a_j = x, c ≥ 0, per point (HiGHS linear programme) → [n, m].

    A point outside the cone of the atoms has no exact nonnegative code: its row is NaN.
    """
    from scipy import optimize

    atoms = np.asarray(atoms, np.float64)
    codes = np.full((len(points), len(atoms)), np.nan)
    for row, x in enumerate(np.asarray(points, np.float64)):
        result = optimize.linprog(np.ones(len(atoms)), A_eq=atoms.T, b_eq=x, bounds=(0, None), method="highs")
        if result.status == 0:
            codes[row] = result.x
    return codes


def _atoms(instance: dict) -> np.ndarray:
    return half_circle_atoms(instance["m"]) if instance.get("half_circle") else polygon_atoms(instance["m"])


def _min_l1(instance: dict, grid) -> np.ndarray:
    codes = min_l1_nonnegative_codes(_atoms(instance), grid(instance["m"], instance["per_arc"]))
    return codes.sum(axis=1)  # NaN where no exact code exists


def _jittered_atoms(m: int, jitter: float) -> np.ndarray:
    angles = 2.0 * np.pi * np.arange(m) / m + jitter * np.pi / m * np.sin(np.arange(m))
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _describe(instance: dict) -> str:
    atoms = (
        "half-circle"
        if instance.get("half_circle")
        else (f"jittered by {instance['jitter']}" if instance.get("jitter") else "equally spaced")
    )
    return f"m={instance['m']} {atoms} atoms, {instance['m'] * instance['per_arc']} points on a θ grid"


def _midpoint_rule_error(instance: dict) -> float:
    """The midpoint rule's bound on a mean, h² max|f''|/24 with h = 2π/N, for |f''| ≤ 2.

    Cells never straddle an atom, so f is smooth in each: f = sin²Δ has f'' = 2cos 2Δ, and
    the L1 cos(Δ′ − π/m)/cos(π/m) has |f''| ≤ sec(π/m) ≤ 2 for m ≥ 3.
    """
    h = 2.0 * np.pi / (instance["m"] * instance["per_arc"])
    return h**2 / 12.0


def _instance(quick: bool, seed: int) -> dict:
    return {"m": 16, "per_arc": 16 if quick else 64}


CLAIMS = [
    Claim(
        id="circle_one_sparse_mean_error",
        statement="one nonnegative atom of m equally spaced ones leaves mean relative error ½ − sin(2π/m)/(4π/m)",
        source="polygon geometry",
        relation="=",
        predict=lambda inst: float(one_sparse_error_mean(inst["m"])),
        measure=lambda inst: float(
            np.mean(
                one_sparse_errors(_jittered_atoms(inst["m"], inst.get("jitter", 0.0)), midpoint_circle_grid(inst["m"], inst["per_arc"]))
            )
        ),
        instance=_instance,
        describe=_describe,
        tolerance=_midpoint_rule_error,
    ),
    Claim(
        id="circle_one_sparse_worst_error",
        statement="… and worst relative error sin²(π/m), midway between atoms",
        source="polygon geometry",
        relation="=",
        predict=lambda inst: float(one_sparse_error_worst(inst["m"])),
        measure=lambda inst: float(
            np.max(one_sparse_errors(_jittered_atoms(inst["m"], inst.get("jitter", 0.0)), circle_grid(inst["m"], inst["per_arc"])))
        ),
        instance=_instance,
        describe=_describe,
        tolerance=lambda inst: 1e-12,
    ),
    Claim(
        id="circle_two_sparse_mean_l1",
        statement="the minimal-L1 exact nonnegative code has mean L1 tan(π/m)/(π/m) ≈ 1 + π²/(3m²)",
        source="polygon geometry",
        relation="=",
        predict=lambda inst: float(two_sparse_l1_mean(inst["m"])),
        measure=lambda inst: float(np.mean(_min_l1(inst, midpoint_circle_grid))),
        instance=_instance,
        describe=_describe,
        tolerance=_midpoint_rule_error,
    ),
    Claim(
        id="circle_two_sparse_max_l1",
        statement="… and maximal L1 sec(π/m), midway between atoms",
        source="polygon geometry",
        relation="=",
        predict=lambda inst: float(two_sparse_l1_max(inst["m"])),
        measure=lambda inst: float(np.max(_min_l1(inst, circle_grid))),
        instance=_instance,
        describe=_describe,
        tolerance=lambda inst: 1e-9,
    ),
]
