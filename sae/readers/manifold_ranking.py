"""Ranking manifold candidates without the truth: how circle-like is each group, and is the best one a claim?

Axes: n samples, m latents, d activation dimensions, S the latents of one candidate group,
r the samples a group is read on.

This is a *method*: it reads a dictionary's codes [n, m] and decoder [m, d] and the groups
`sae.readers.manifold_finder` proposed, never a planted plane, phase or label. A grader
(`sae.readers.manifold_grading`) compares its answer with the truth afterwards.

**Circle evidence of a group S.** On the samples where some latent of S fires (at most
`MAX_ROWS`, evenly thinned), read the group-only reconstructions' directions
y = x̂_S / ‖x̂_S‖ (`sae.readers.geometry.group_directions`). A circle c + r(cos θ u + sin θ v) gives
directions on a circle in one affine 2-plane (with an offset c ⟂ (u, v) as well), going all
the way round. Three truth-free readings, each in [0, 1]:
- planarity η = (λ₁ + λ₂) / Σ λ, the share of the centred scatter in the top two principal
  directions (1: the directions lie in one affine plane);
- roundness ρ = max(0, 1 − std(R) / mean(R)), R the distances of the points, in that plane,
  from the centre of the best-fitting circle (Kåsa's fit, `sae.readers.geometry.circle_centre`);
- closure κ = 1 − G / 2π, G the largest angular gap between the points' angles about that
  centre. A group that spans two features with nonnegative codes (u, v, u + v ...) has
  directions on an arc of at most a half-turn (κ ≤ ½); a circle's P values leave gaps of
  2π/P (κ = 1 − 1/P).
The points occupy *places*, arcs of `PLACE_TOLERANCE` = 5°; a group with fewer than
`MIN_PLACES` = 4 places gets evidence 0 (any three points lie on a circle), and so does a
group of fewer than `MIN_LATENTS` = 4 latents: three latents whose features co-fire in
pairs draw the boundary of a spherical triangle, a closed loop of directions that no
reading of the directions alone tells from a circle held by three tiles.
A fourth reading is taken from the decoder rows themselves: a circle lives in at most three
directions (its plane and its offset), whatever the number of latents that hold it, as
tiles (rows on the circle) or as a span (±u, ±v, c). With ε₃ the energy of the group's unit
rows outside their top three singular directions, the
- span concentration σ = max(0, 1 − ε₃ · |S| / (|S| − 3)) is 1 when the rows lie in three
  directions and 0 when they are orthogonal (ε₃ = (|S| − 3)/|S|), as independent features'
  rows nearly are.
The **circle evidence** is e = η · ρ · κ · σ ∈ [0, 1].

**Ranking.** Candidates are ranked by e, ties by the number of samples they fire on.

**The claim and its p-value.** The top candidate of a dictionary is claimed to be a circle
when its evidence beats what dictionaries *without* a circle reach: the p-value is
    p = (1 + #{null dictionaries whose top evidence ≥ e}) / (1 + N_null),
over `NULL_TOP_EVIDENCE`, the top evidence of N_null null dictionaries (TopK SAEs trained on
toys of sparse features alone, and random dictionaries, run through the same finder and
ranking; `toylab run circle-null` redraws them and prints the sorted list stored below). The top candidate is claimed at level α (`CLAIM_ALPHA` = 0.05)
when p ≤ α. Because the null is the *top* of each null dictionary, the level holds for the
claim as made (one per dictionary), with no further correction for the number of candidates;
and since every candidate of a null dictionary is at most its top, claiming *every*
candidate with p ≤ α (`claims`, for a dictionary that may hold several circles) makes a
false claim in a circle-free dictionary with the same probability α.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sae.readers import geometry

MAX_ROWS = 2048  # samples a group's evidence is read on (evenly thinned)
MIN_PLACES = 4
MIN_LATENTS = 4
PLACE_TOLERANCE = 2 * np.pi / 72  # 5°: points closer in angle share a place
CLAIM_ALPHA = 0.05


class CircleEvidence(NamedTuple):
    planarity: float
    roundness: float
    closure: float
    concentration: float
    places: int
    evidence: float  # planarity · roundness · closure · concentration, 0 under MIN_PLACES places or MIN_LATENTS latents
    samples: int  # samples the group fires on


def _thin(rows: np.ndarray, limit: int) -> np.ndarray:
    if len(rows) <= limit:
        return rows
    return rows[np.linspace(0, len(rows) - 1, limit).astype(int)]


def _places(angles: np.ndarray, tolerance: float) -> tuple[int, float]:
    """(number of places: the occupied arcs of width `tolerance`, the largest angular gap between
    neighbouring points) of angles about a centre."""
    wrapped = np.mod(angles, 2 * np.pi)
    places = len(np.unique(np.floor(wrapped / tolerance)))
    ordered = np.sort(wrapped)
    gaps = np.diff(np.concatenate([ordered, ordered[:1] + 2 * np.pi]))
    return places, float(gaps.max()) if len(gaps) else 2 * np.pi


def circle_evidence(codes, decoder, latents, max_rows: int = MAX_ROWS) -> CircleEvidence:
    """The circle evidence of one latent group (module docstring)."""
    codes = np.asarray(codes)
    latents = np.asarray(latents)
    fires = np.any(codes[:, latents] > 0, axis=1)
    rows = _thin(np.flatnonzero(fires), max_rows)
    empty = CircleEvidence(0.0, 0.0, 0.0, 0.0, 0, 0.0, int(fires.sum()))
    if len(rows) < MIN_PLACES:
        return empty
    points = geometry.group_directions(codes, decoder, latents, rows)
    fitted = geometry.pca(points)
    total = float(fitted.eigenvalues.sum())
    if total <= 1e-12:
        return empty
    planarity = float(fitted.eigenvalues[:2].sum() / total)
    plane = (points - fitted.mean) @ fitted.components[:2].T
    centre = geometry.circle_centre(plane)
    radii = np.linalg.norm(plane - centre, axis=1)
    roundness = float(max(0.0, 1.0 - radii.std() / max(radii.mean(), 1e-12)))
    places, gap = _places(np.arctan2(plane[:, 1] - centre[1], plane[:, 0] - centre[0]), PLACE_TOLERANCE)
    closure = float(1.0 - gap / (2 * np.pi))
    concentration = span_concentration(decoder, latents)
    enough = places >= MIN_PLACES and len(latents) >= MIN_LATENTS
    evidence = planarity * roundness * closure * concentration if enough else 0.0
    return CircleEvidence(planarity, roundness, closure, concentration, places, float(evidence), int(fires.sum()))


def span_concentration(decoder, latents, directions: int = 3) -> float:
    """σ = max(0, 1 − ε · |S| / (|S| − q)), ε the energy of the group's unit decoder rows outside their
    top q = 3 singular directions (module docstring); 1 for |S| ≤ q."""
    rows = np.asarray(decoder, np.float64)[np.asarray(latents)]
    if len(rows) <= directions:
        return 1.0
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    singular = np.linalg.svd(rows, compute_uv=False) ** 2
    outside = float(singular[directions:].sum() / max(singular.sum(), 1e-12))
    return float(max(0.0, 1.0 - outside * len(rows) / (len(rows) - directions)))


class Ranked(NamedTuple):
    """The candidates of one dictionary in blind order, with the top one's claim."""

    order: np.ndarray  # candidate indices, best first
    evidence: list[CircleEvidence]  # per candidate (input order)
    top_evidence: float
    p_value: float  # of the top candidate against the null dictionaries' top evidence
    claimed: bool  # p_value ≤ alpha
    claims: int = 0  # candidates whose own p-value is ≤ alpha (several circles in one dictionary); they lead `order`


def p_value(top_evidence: float, null_top=None) -> float:
    """(1 + #{null top evidence ≥ e}) / (1 + N_null) (module docstring)."""
    null_top = np.asarray(NULL_TOP_EVIDENCE if null_top is None else null_top, np.float64)
    return float((1 + np.sum(null_top >= top_evidence)) / (1 + len(null_top)))


def rank(codes, decoder, groups, alpha: float = CLAIM_ALPHA, null_top=None) -> Ranked:
    """Rank candidate groups (latent-index arrays) by circle evidence, best first, and test the top one."""
    evidence = [circle_evidence(codes, decoder, g) for g in groups]
    order = np.array(sorted(range(len(groups)), key=lambda i: (-evidence[i].evidence, -evidence[i].samples)), int)
    top = evidence[order[0]].evidence if len(order) else 0.0
    p = p_value(top, null_top)
    claims = sum(p_value(e.evidence, null_top) <= alpha for e in evidence)
    return Ranked(order, evidence, float(top), p, bool(len(order) and p <= alpha), int(claims))


# The top circle evidence of 80 null dictionaries (module docstring), sorted: `toylab run circle-null`
# (seed 100, 40 cells: 40 TopK SAEs on sparse features alone and 40 random dictionaries), its
# summary.txt's last line. With 80 of them a claim at α = 0.05 needs e above the 77th (0.6691).
NULL_TOP_EVIDENCE: tuple[float, ...] = (
    0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000,
    0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000,
    0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0049, 0.0088,
    0.1243, 0.1437, 0.1490, 0.1562, 0.1632, 0.1640, 0.1671, 0.1813, 0.1909, 0.2054,
    0.2075, 0.2165, 0.2180, 0.2285, 0.2322, 0.2424, 0.2507, 0.2603, 0.2642, 0.2711,
    0.2829, 0.2850, 0.3019, 0.3365, 0.3487, 0.3583, 0.3825, 0.3914, 0.4249, 0.4339,
    0.4386, 0.4473, 0.4638, 0.4679, 0.5021, 0.5079, 0.5159, 0.5264, 0.5311, 0.5761,
    0.5764, 0.5790, 0.5824, 0.6044, 0.6409, 0.6421, 0.6691, 0.6694, 0.7046, 0.8190,
)
