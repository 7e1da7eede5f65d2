"""Where a unit fires on a two-input modular task: on a band of a + b, of a − b, or on a box.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): p residues (odd), N = p² input pairs
(a-major: pair index a·p + b), m units (latents, neurons, atoms).

A unit's firing set is F = {(a, b) : A(a, b) > 0} over every pair; s = (a + b) mod p and
d = (a − b) mod p (for odd p, (a, b) ↦ (s, d) is a bijection of the grid). With the
correlation ratio of the firing indicator 1_F grouped by g,
    η²_g = Σ_v n_v (P(F | g = v) − P(F))² / Σ (1_F − P(F))²
(1: whether the unit fires is a function of g), each unit that fires on some pairs but
not all takes the first category it meets, with a threshold τ (`THRESHOLD`):
- "sum_narrow": η²_s ≥ τ on fewer than `MIN_SLICE_WIDTH` = 3 residues R = {s : P(F | s) ≥ ½}:
  a function of a + b, but no slice evidence — every set of one or two residues is an arc
  at some frequency (k = (s₂ − s₁)⁻¹ puts any two next to each other);
- "sum_slice": η²_s ≥ τ and R, of at least 3 residues, forms one arc of the circle of
  a + b at some frequency k (k·R mod p is a contiguous run): a slice of the a + b
  circle — a pizza slice, or one tile of a circle the latents tile;
- "sum_band": η²_s ≥ τ, at least 3 residues, not an arc: a function of a + b on scattered residues;
- "difference_narrow", "difference_slice", "difference_band": the same for a − b;
- "box": F nearly fills the product of its rows and columns, |F| ≥ τ · |A_F| · |B_F| with
  A_F = {a : some (a, ·) ∈ F}, B_F likewise, and neither spans all residues: a and b
  enter apart (an integration box of a numerical integration over the two inputs);
- "other".
Units that never fire or always fire are "dead" / "always". `tiling` says how the sum
slices cover the residues of a + b.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, Float, Int

from toys.engine.shapes import AnyArray

CATEGORIES = ("sum_slice", "sum_band", "sum_narrow", "difference_slice", "difference_band", "difference_narrow", "box", "other")
THRESHOLD = 0.9  # τ: the share of the firing indicator's variance, or of the box, a category needs
MIN_SLICE_WIDTH = 3  # residues a slice must cover: one or two residues are an arc at some frequency, always


def correlation_ratio(indicator: Bool[np.ndarray, "N m"], groups: Int[np.ndarray, " N"], n_groups: int) -> Float[np.ndarray, " m"]:
    """η² of each column of a 0/1 indicator grouped by groups (ints < n_groups)."""
    values = np.asarray(indicator, np.float64)
    centred = values - values.mean(axis=0)
    counts = np.bincount(groups, minlength=n_groups).astype(np.float64)
    sums = np.zeros((n_groups, values.shape[1]))
    np.add.at(sums, groups, centred)
    between = np.sum(sums**2 / np.maximum(counts, 1)[:, None], axis=0)
    return between / np.maximum(np.sum(centred**2, axis=0), 1e-300)


def group_rates(fires: Bool[np.ndarray, "N m"], groups: Int[np.ndarray, " N"], p: int) -> Float[np.ndarray, "p m"]:
    """P(unit fires | group = v) for every residue v and unit (each group holds p pairs)."""
    rates = np.zeros((p, fires.shape[1]))
    np.add.at(rates, groups, np.asarray(fires, np.float64))
    return rates / p


def is_arc(residues: Bool[AnyArray, " p"], p: int) -> bool:
    """Whether a proper, non-empty set of residues is one contiguous arc of the circle
    at some frequency k ∈ 1 … (p − 1)/2 (the points k·s mod p, s in the set, run without a gap)."""
    residues = np.asarray(residues, bool)
    if residues.all() or not residues.any():
        return False
    members = np.flatnonzero(residues)
    for k in range(1, (p - 1) // 2 + 1):
        on = np.zeros(p, bool)
        on[(k * members) % p] = True
        if np.sum(on & ~np.roll(on, 1)) == 1:  # one run start on the circle
            return True
    return False


def categorise(activations: Float[AnyArray, "N m"], p: int, threshold: float = THRESHOLD) -> np.ndarray:
    """The category of every unit (module docstring), [m] strings."""
    a, b = np.divmod(np.arange(p * p), p)
    fires = np.asarray(activations) > 0
    share = fires.mean(axis=0)
    eta = {"sum": correlation_ratio(fires, (a + b) % p, p), "difference": correlation_ratio(fires, (a - b) % p, p)}
    rates = {"sum": group_rates(fires, (a + b) % p, p), "difference": group_rates(fires, (a - b) % p, p)}
    out = np.full(fires.shape[1], "other", dtype=object)
    for j in range(fires.shape[1]):
        if share[j] == 0.0 or share[j] == 1.0:
            out[j] = "dead" if share[j] == 0.0 else "always"
            continue
        for name in ("sum", "difference"):
            if eta[name][j] >= threshold:
                residues = rates[name][:, j] >= 0.5
                if residues.sum() < MIN_SLICE_WIDTH:
                    out[j] = f"{name}_narrow"
                else:
                    out[j] = f"{name}_slice" if is_arc(residues, p) else f"{name}_band"
                break
        else:
            grid = fires[:, j].reshape(p, p)
            rows, columns = grid.any(axis=1), grid.any(axis=0)
            if not rows.all() and not columns.all() and grid.sum() >= threshold * rows.sum() * columns.sum():
                out[j] = "box"
    return out


def counts(categories: np.ndarray) -> dict[str, int]:
    """How many units fall in each category (dead and always-on ones apart)."""
    categories = np.asarray(categories)
    return {name: int(np.sum(categories == name)) for name in (*CATEGORIES, "dead", "always")}


def slice_widths(activations: Float[AnyArray, "N m"], categories: np.ndarray, p: int) -> dict[int, int]:
    """{residues covered: number of units} over the "sum_slice" and "sum_narrow" units (a unit covers
    s when it fires on at least half of the p pairs with a + b ≡ s): slices reported by width."""
    a, b = np.divmod(np.arange(p * p), p)
    chosen = np.isin(np.asarray(categories), ("sum_slice", "sum_narrow"))
    if not chosen.any():
        return {}
    widths = (group_rates(np.asarray(activations)[:, chosen] > 0, (a + b) % p, p) >= 0.5).sum(axis=0)
    values, number = np.unique(widths, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, number)}


def tiling(activations: Float[AnyArray, "N m"], categories: np.ndarray, p: int) -> dict:
    """How the "sum_slice" units cover the residues of a + b: a unit covers s when it fires on at
    least half of the p pairs with a + b ≡ s. `coverage`: the share of residues covered by at
    least one unit; `mean_cover`: units per residue; `unit_width`: the mean share of residues one
    unit covers (1/p: it reads a single residue)."""
    a, b = np.divmod(np.arange(p * p), p)
    chosen = np.asarray(categories) == "sum_slice"
    if not chosen.any():
        return {"n_units": 0, "coverage": 0.0, "mean_cover": 0.0, "unit_width": None}
    covers = group_rates(np.asarray(activations)[:, chosen] > 0, (a + b) % p, p) >= 0.5  # [p residues, units]
    return {
        "n_units": int(chosen.sum()),
        "coverage": float(covers.any(axis=1).mean()),
        "mean_cover": float(covers.sum(axis=1).mean()),
        "unit_width": float(covers.mean()),
    }
