"""sae.readers.grid_latents: hand-built units land in their category; random units do not.

Counterparts that must fail: units firing on random pairs are "other"; a band of a + b on
scattered residues is a band, not a slice; a box that spans every row is not a box.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sae.readers import grid_latents

P = 31
A, B = np.divmod(np.arange(P * P), P)
S, D = (A + B) % P, (A - B) % P


def unit(fires_on: np.ndarray) -> np.ndarray:
    """An activation column that is 1 + a pair-dependent wiggle where it fires, 0 elsewhere."""
    return np.where(fires_on, 1.0 + 0.1 * np.cos(A + 2 * B), 0.0)[:, None]


@settings(max_examples=10)
@given(st.integers(1, (P - 1) // 2), st.integers(0, P - 1), st.integers(3, P // 2))
def test_arcs_of_a_plus_b_and_a_minus_b_are_slices(k, start, width):
    # residues whose k-multiples form an arc: s = k⁻¹ · (start … start + width − 1)
    inverse = pow(k, -1, P)
    arc = np.zeros(P, bool)
    arc[(inverse * (start + np.arange(width))) % P] = True
    assert grid_latents.is_arc(arc, P)
    assert grid_latents.categorise(unit(arc[S]), P)[0] == "sum_slice"
    assert grid_latents.categorise(unit(arc[D]), P)[0] == "difference_slice"


@settings(max_examples=10)
@given(st.integers(0, P - 1), st.integers(1, P - 1))
def test_one_or_two_residues_are_narrow_not_slices(first, step):
    # every pair of residues is an arc at some frequency, so a unit on ≤ 2 residues is no slice evidence
    pair = np.zeros(P, bool)
    pair[[first, (first + step) % P]] = True
    assert grid_latents.is_arc(pair, P)
    assert grid_latents.categorise(unit(pair[S]), P)[0] == "sum_narrow"
    single = np.zeros(P, bool)
    single[first] = True
    assert grid_latents.categorise(unit(single[D]), P)[0] == "difference_narrow"
    assert grid_latents.slice_widths(unit(pair[S]), np.array(["sum_narrow"]), P) == {2: 1}


def test_scattered_residues_are_bands_and_boxes_are_boxes():
    rng = np.random.default_rng(0)
    scattered = np.zeros(P, bool)
    while True:  # a random set of residues that is an arc at no frequency
        scattered[:] = rng.random(P) < 0.4
        if not grid_latents.is_arc(scattered, P):
            break
    assert grid_latents.categorise(unit(scattered[S]), P)[0] == "sum_band"
    box = (A < 10) & (B >= 5) & (B < 20)
    assert grid_latents.categorise(unit(box), P)[0] == "box"
    stripe = A < 10  # every column: a function of a alone, not a box
    assert grid_latents.categorise(unit(stripe), P)[0] == "other"


def test_random_units_are_other_dead_or_always():
    rng = np.random.default_rng(1)
    random_units = rng.normal(size=(P * P, 200)) - 0.5
    categories = grid_latents.categorise(random_units, P)
    assert set(categories) == {"other"}
    assert grid_latents.counts(np.array(["dead", "always", "other"]))["always"] == 1
    silent = grid_latents.categorise(np.zeros((P * P, 2)), P)
    assert list(silent) == ["dead", "dead"]


def test_tiling_counts_how_sum_slices_cover_the_residues():
    # p units, each reading one residue of a + b: they tile the circle exactly once
    units = np.stack(
        [np.where((S == r) | (S == (r + 1) % P) | (S == (r + 2) % P), 1.0, 0.0) for r in range(P)], axis=1
    )  # each unit reads an arc of three residues
    categories = grid_latents.categorise(units, P)
    assert set(categories) == {"sum_slice"}
    tiles = grid_latents.tiling(units, categories, P)
    assert tiles["coverage"] == 1.0 and tiles["mean_cover"] == 3.0 and abs(tiles["unit_width"] - 3 / P) < 1e-12
    assert grid_latents.slice_widths(units, categories, P) == {3: P}
    half = grid_latents.tiling(units[:, : P // 3], categories[: P // 3], P)
    assert half["coverage"] < 0.5
