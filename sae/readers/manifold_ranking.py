"""Ranking manifold candidates without the truth: how circle-like is each group, and is the best one a claim?

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): n samples, m latents, d activation
dimensions, S the latents of one candidate group, r the samples a group is read on.

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
`MIN_PLACES` = 4 places gets evidence 0 (any three points lie on a circle). So does a group
whose latents occupy fewer than `MIN_LATENTS` = 4 places: each latent's unit decoder row,
projected into the same plane, sits at an angle about the centre (rows that project within
half the points' radius of the centre, an offset direction, name no angle), and latents at
one place count once. Three latents whose features co-fire in pairs draw the boundary of a
spherical triangle, a closed loop of directions that no reading of the directions alone
tells from a circle held by three tiles; a fourth latent that duplicates one of them (an
SAE splits a feature into near-copies) adds no place.
The loop must also close in the space around the plane:
- seam ζ = 1 − max(0, J_max − J_med) / R, J the distances between the mean out-of-plane
  parts (the points less their projection on the plane) of neighbouring places, going round
  (J_max the largest, J_med the median), R the points' mean radius in the plane. A circle's
  out-of-plane part does not depend on the angle (ζ ≈ 1); a helix rises with the angle and
  falls back at one seam, a jump of its rise (ζ ≈ 1 − rise / radius).
A fourth reading is taken from the decoder rows themselves: a circle lives in at most three
directions (its plane and its offset), whatever the number of latents that hold it, as
tiles (rows on the circle) or as a span (±u, ±v, c). With ε₃ the energy of the group's unit
rows outside their top three singular directions, the
- span concentration σ = max(0, 1 − ε₃ · |S| / (|S| − 3)) is 1 when the rows lie in three
  directions and 0 when they are orthogonal (ε₃ = (|S| − 3)/|S|), as independent features'
  rows nearly are.
The **circle evidence** is e = η · ρ · κ · ζ · σ ∈ [0, 1].

**Ranking.** Candidates are ranked by e, ties by the number of samples they fire on.

**The claim and its p-value.** The top candidate of a dictionary is claimed to be a circle
when its evidence beats what comparable dictionaries *without* a circle reach: the p-value is
    p = (1 + #{null dictionaries whose top evidence ≥ e}) / (1 + N_null),
over the top evidence of N_null null dictionaries: TopK SAEs trained on toys of sparse
features alone (the circle zeroed), run through the same finder and ranking. The null is
conditioned on what moves its upper tail: the TopK k (dense co-firing draws near-planar
loops), and the training budget and sample count it was read at (`Stratum`). Stored strata
(`circle_null.json`, written by `toylab run circle-null`, per cell and per k) are read by
`stored_null`; a study whose settings have no stored stratum draws its own null twins in
the same run. Random dictionaries are reported beside the null, never pooled with it: their
tops are near 0 and would lower the level. The top candidate is claimed at level α
(`CLAIM_ALPHA` = 0.05) when p ≤ α. Because the null is the *top* of each null dictionary, the
level holds for the claim as made (one per dictionary), with no further correction for the
number of candidates; and since every candidate of a null dictionary is at most its top,
claiming *every* candidate with p ≤ α (`claims`, for a dictionary that may hold several
circles) makes a false claim in a circle-free dictionary with the same probability α. With
N_null exchangeable with the dictionary read (same toy family, k, budget), the level is exact.

**The claim's second condition: a ring in the activations.** Latents co-firing cyclically in pairs over
a filled region of a plane (a circle's coordinates with independent phases, a sphere's cross-section)
draw the same loop of directions as latents tiling a circle, and their evidence can beat the null. A
candidate is claimed only if, besides p ≤ α, the activations x where it fires, projected on the plane its
directions fit, are rounder than any sphere's shadow (`sae.readers.activation_ring`: ρ_x > ρ_shell ≈
0.196, from theory).
The condition only removes claims, so the level stays ≤ α (the null is not re-read through it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
from jaxtyping import Float, Int

from sae.readers import activation_ring, geometry, manifold_finder
from toys.engine.shapes import AnyArray

MAX_ROWS = 2048  # samples a group's evidence is read on (evenly thinned)
MIN_PLACES = 4
MIN_LATENTS = 4  # distinct latent places (module docstring)
PLACE_TOLERANCE = 2 * np.pi / 72  # 5°: points closer in angle share a place
CLAIM_ALPHA = 0.05
NULL_FILE = Path(__file__).with_name("circle_null.json")  # the stored null strata (`toylab run circle-null`)


class CircleEvidence(NamedTuple):
    planarity: float
    roundness: float
    closure: float
    seam: float
    concentration: float
    places: int
    latent_places: int
    evidence: float  # planarity · roundness · closure · seam · concentration; 0 under MIN_PLACES places or MIN_LATENTS latent places
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


def seam(angles: np.ndarray, outside: np.ndarray, radius: float, tolerance: float = PLACE_TOLERANCE) -> float:
    """ζ = 1 − max(0, J_max − J_med) / R (module docstring): angles [r] about the centre, outside [r, d]
    the points' parts out of the plane, radius R; 1 with fewer than 3 places."""
    place = np.floor(np.mod(angles, 2 * np.pi) / tolerance).astype(int)
    occupied, inverse = np.unique(place, return_inverse=True)
    if len(occupied) < 3:
        return 1.0
    means = np.zeros((len(occupied), outside.shape[1]))
    np.add.at(means, inverse, outside)
    means /= np.bincount(inverse, minlength=len(occupied))[:, None]
    jumps = np.linalg.norm(np.roll(means, -1, axis=0) - means, axis=1)
    return float(max(0.0, 1.0 - max(0.0, jumps.max() - np.median(jumps)) / max(radius, 1e-12)))


def latent_places(
    decoder: Float[AnyArray, "m d"],
    latents: Int[AnyArray, " S"],
    fitted: geometry.PCA,
    centre: np.ndarray,
    radius: float,
    tolerance: float = PLACE_TOLERANCE,
) -> int:
    """The places the group's latents occupy: their unit decoder rows projected into the group's
    plane, read as angles about the centre (module docstring); rows within radius / 2 of the
    centre name no angle and count no place."""
    rows = np.asarray(decoder, np.float64)[np.asarray(latents)]
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    projected = (rows - fitted.mean) @ fitted.components[:2].T - centre
    named = np.linalg.norm(projected, axis=1) >= radius / 2
    if not named.any():
        return 0
    return _places(np.arctan2(projected[named, 1], projected[named, 0]), tolerance)[0]


def circle_evidence(
    codes: Float[AnyArray, "n m"], decoder: Float[AnyArray, "m d"], latents: Int[AnyArray, " S"], max_rows: int = MAX_ROWS
) -> CircleEvidence:
    """The circle evidence of one latent group (module docstring)."""
    codes = np.asarray(codes)
    latents = np.asarray(latents)
    fires = np.any(codes[:, latents] > 0, axis=1)
    rows = _thin(np.flatnonzero(fires), max_rows)
    empty = CircleEvidence(0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0.0, int(fires.sum()))
    if len(rows) < MIN_PLACES:
        return empty
    points = geometry.group_directions(codes, decoder, latents, rows)
    fitted = geometry.pca(points)
    total = float(fitted.eigenvalues.sum())
    if total <= 1e-12:
        return empty
    planarity = float(fitted.eigenvalues[:2].sum() / total)
    centred = points - fitted.mean
    plane = centred @ fitted.components[:2].T
    centre = geometry.circle_centre(plane)
    radii = np.linalg.norm(plane - centre, axis=1)
    radius = float(max(radii.mean(), 1e-12))
    roundness = float(max(0.0, 1.0 - radii.std() / radius))
    angles = np.arctan2(plane[:, 1] - centre[1], plane[:, 0] - centre[0])
    places, gap = _places(angles, PLACE_TOLERANCE)
    closure = float(1.0 - gap / (2 * np.pi))
    closed = seam(angles, centred - plane @ fitted.components[:2], radius)
    concentration = span_concentration(decoder, latents)
    held = latent_places(decoder, latents, fitted, centre, radius)
    enough = places >= MIN_PLACES and held >= MIN_LATENTS
    evidence = planarity * roundness * closure * closed * concentration if enough else 0.0
    return CircleEvidence(planarity, roundness, closure, closed, concentration, places, held, float(evidence), int(fires.sum()))


def span_concentration(decoder: Float[AnyArray, "m d"], latents: Int[AnyArray, " S"], directions: int = 3) -> float:
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
    claimed: bool  # p_value ≤ alpha and the top candidate holds a ring in its activations
    claims: int = 0  # leading candidates of `order` claimed each on its own p-value and ring (several circles)
    top_ring: float = float("nan")  # the top candidate's activation ring roundness ρ_x (nan: no activations read)


def p_value(top_evidence: float, null_top) -> float:
    """(1 + #{null top evidence ≥ e}) / (1 + N_null) (module docstring); 1 with no null."""
    null_top = np.asarray(null_top, np.float64)
    return float((1 + np.sum(null_top >= top_evidence)) / (1 + len(null_top)))


def claimed(top_evidence: float, null_top, alpha: float = CLAIM_ALPHA) -> bool:
    """The claim on a top evidence: p ≤ alpha against the null tops."""
    return p_value(top_evidence, null_top) <= alpha


def claim_threshold(null_top, alpha: float = CLAIM_ALPHA) -> float | None:
    """The level a top evidence must exceed to be claimed at alpha (claimed iff e > it), or None when
    no evidence can be (fewer than 1/alpha − 1 nulls)."""
    tops = np.sort(np.asarray(null_top, np.float64))
    allowed = int(np.floor(alpha * (len(tops) + 1) + 1e-9)) - 1  # null tops ≥ e a claim can afford
    if allowed < 0:
        return None
    return float(tops[len(tops) - 1 - allowed]) if allowed < len(tops) else -np.inf


def threshold_interval(
    null_top, alpha: float = CLAIM_ALPHA, draws: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """A bootstrap interval (percentile, `level`) of `claim_threshold`: the nulls resampled with
    replacement `draws` times; None when no threshold exists."""
    tops = np.asarray(null_top, np.float64)
    if claim_threshold(tops, alpha) is None:
        return None
    rng = np.random.default_rng(seed)
    levels = [claim_threshold(rng.choice(tops, len(tops)), alpha) for _ in range(draws)]
    low, high = np.quantile(levels, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def rank(
    codes: Float[AnyArray, "n m"],
    decoder: Float[AnyArray, "m d"],
    groups,
    null_top,
    alpha: float = CLAIM_ALPHA,
    x: Float[AnyArray, "n d"] | None = None,
) -> Ranked:
    """Rank candidate groups (latent-index arrays) by circle evidence, best first, and test the top one
    against `null_top`, the null dictionaries' top evidences (`stored_null`, or a run's own null twins;
    an empty null claims nothing). A claim also needs the activations x: the candidate must hold a ring
    where it fires (`activation_ring.holds_ring`; without x nothing is claimed). `claims` counts the
    leading candidates that pass both, stopping at the first that does not."""
    evidence = [circle_evidence(codes, decoder, g) for g in groups]
    order = np.array(sorted(range(len(groups)), key=lambda i: (-evidence[i].evidence, -evidence[i].samples)), int)
    top = evidence[order[0]].evidence if len(order) else 0.0
    p = p_value(top, null_top)

    def ring(index: int) -> float:
        return float("nan") if x is None else activation_ring.read(x, codes, decoder, groups[index]).roundness

    top_ring = ring(int(order[0])) if len(order) else (float("nan") if x is None else 0.0)
    claims = 0  # the leading candidates claimed, each on its own p-value and ring (the top's ring read once)
    for position, index in enumerate(order.tolist()):
        if p_value(evidence[index].evidence, null_top) > alpha or not activation_ring.holds_ring(
            top_ring if position == 0 else ring(index)
        ):
            break
        claims += 1
    claimed = bool(len(order) and p <= alpha and activation_ring.holds_ring(top_ring))
    return Ranked(order, evidence, float(top), p, claimed, int(claims), top_ring)


# --- the stored null ------------------------------------------------------------------------


class Stratum(NamedTuple):
    """What a null dictionary's top evidence depends on besides its k: its training budget and the
    sample count its codes are read on."""

    steps: int
    batch_size: int
    n_geometry: int


def stored_strata(path: Path | None = None) -> list[dict]:
    """The stored null strata: each {"stratum": {steps, batch_size, n_geometry}, "cells": [{...,
    "trained_top_evidence": {k: e}, "random_top_evidence": {k: e}}], "source": ...}."""
    return json.loads(Path(path or NULL_FILE).read_text(encoding="utf-8"))["strata"]


def stratum_tops(stratum: dict, k: int, kind: str = "trained") -> np.ndarray:
    """One stored stratum's null tops at k (`kind` "trained" or "random"), one per cell, [cells]."""
    return np.asarray(
        [cell[f"{kind}_top_evidence"][str(k)] for cell in stratum["cells"] if str(k) in cell[f"{kind}_top_evidence"]], np.float64
    )


def stored_null(k: int, stratum: Stratum, path: Path | None = None) -> np.ndarray | None:
    """The trained null dictionaries' top evidences stored for this k and stratum, or None when
    no stored stratum matches (the caller then draws its own null twins)."""
    for stored in stored_strata(path):
        if Stratum(**stored["stratum"]) == stratum:
            tops = stratum_tops(stored, k)
            return tops if len(tops) else None
    return None


def nearest_null(k: int, stratum: Stratum, path: Path | None = None) -> tuple[np.ndarray, Stratum | None]:
    """The null for a study that draws no null twins of its own: the stored stratum matching
    `stratum`, else the stored stratum nearest in training budget (steps × batch size) and sample
    count (log distance), at this k. Returns (tops, the stratum used); (empty, None) when no stored
    stratum has this k (nothing is then claimed). A study using it says which stratum decided."""
    best, best_distance = None, np.inf
    for stored in stored_strata(path):
        tops = stratum_tops(stored, k)
        if not len(tops):
            continue
        other = Stratum(**stored["stratum"])
        distance = abs(np.log(other.steps * other.batch_size / (stratum.steps * stratum.batch_size))) + abs(
            np.log(other.n_geometry / stratum.n_geometry)
        )
        if distance < best_distance:
            best, best_distance = (tops, other), distance
    return best if best is not None else (np.zeros(0), None)


class Answer(NamedTuple):
    """The blind method's answer on one dictionary (`find_and_rank`)."""

    groups: list  # candidate groups, latent-index arrays
    found_by: list  # how the finder found each (its mode)
    ranked: Ranked  # their ranking and the top one's claim


def find_and_rank(
    x: Float[AnyArray, "n d"] | None,
    codes: Float[AnyArray, "n m"],
    decoder: Float[AnyArray, "m d"],
    seed: int = 0,
    null_top=(),
    report=None,
) -> Answer:
    """The method, truth-free, on one dictionary (activations x [n, d], codes [n, m], decoder [m, d]): the
    finder's candidate groups (`manifold_finder.candidate_groups`, every latent considered) ranked by
    circle evidence, the top one tested against `null_top` (empty: ranked, nothing claimed) and read for
    a ring in x (`Ranked.top_ring`; x None: not read, nothing claimed)."""
    candidates = manifold_finder.candidate_groups(codes, decoder, seed=seed, report=report)
    groups, found_by = [latents for _, latents in candidates], [mode for mode, _ in candidates]
    return Answer(groups, found_by, rank(codes, decoder, groups, null_top=np.asarray(null_top, np.float64), x=x))
