"""Reading multi-dimensional geometry back from a dictionary (Engels et al.'s pipeline).

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): n samples, m latents, d activation
dimensions, S the latents of one cluster.

Takes arrays only: decoder rows D [m, d], codes f [n, m] (the dictionary's latent
activations on n samples) and, for scoring, a planted plane and true phases.

Pipeline:
1. Group latents: `sae.readers.manifold_finder` (linked against chance, in both modes an SAE
   uses for a manifold), or any list of latent groups.
2. Reconstruct with one cluster's latents only: x̂_S = f[:, S] D[S], on the samples
   where some latent of S fires, and read each reconstruction's direction
   x̂_S / ‖x̂_S‖ (our variant of Engels et al.'s step, "direction PCA"). A latent that
   fires weakly on an unrelated sample (TopK fills its k slots) puts a scaled-down copy
   of its decoder row near the origin; with an offset c those copies would make
   "distance from the origin along c" the first principal direction. A direction is
   blind to that scale, and a circle c + r(cos θ u + sin θ v) with c ⟂ (u, v) keeps its
   shape: its directions form a circle of radius r/√(‖c‖² + r²) in the same plane.
3. PCA of those directions (the eigen-decomposition of the centred scatter matrix
   Σ_n (y_n − ȳ)(y_n − ȳ)ᵀ: the eigenvalues are sums of squares, not variances, so an
   exactly planted circle of N equally spaced points of radius ρ gives N ρ²/2 twice).
4. The cluster's dimension: the elbow of its scree plot by Zhu & Ghodsi's profile
   likelihood (2006): split the sorted eigenvalues after q, model each group as
   Gaussian with its own mean and a pooled variance, and take the q of largest
   likelihood.

Scores against the truth:
- principal angles between the cluster's top-k PCA plane and the planted k-plane
  (scipy.linalg.subspace_angles); the largest one is reported (0° = same plane);
- the ordering score |ρ_FL| between the recovered angle α = atan2(pc₂, pc₁) and the
  true phase θ, with ρ_FL the Fisher–Lee circular correlation
      ρ_FL = Σ_{i<j} sin(α_i − α_j) sin(θ_i − θ_j) / √(Σ_{i<j} sin²(α_i − α_j) Σ_{i<j} sin²(θ_i − θ_j)),
  which is +1 for α = θ + c and −1 for α = −θ + c; its absolute value is invariant to
  rotating and reflecting the plane;
- membership: latent j lies on a manifold when at least half of its decoder row's
  energy lies in the manifold's span (including its offset direction),
  ‖B D_j‖² ≥ ½ ‖D_j‖²; a cluster's purity = |S ∩ on| / |S|, recall = |S ∩ on| / |on|.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg
from jaxtyping import Bool, Float, Int

from sae import metrics
from toys.engine.shapes import AnyArray

_EPS = 1e-12
MEMBERSHIP_ENERGY = metrics.ON_PLANE_SHARE  # a latent is on a manifold with ≥ ½ of its energy in its span
# The ordering score is reported only on enough samples with enough distinct true values:
# any 3 points on a circle are in order or reversed (|ρ| = 1 trivially), and under the
# null (independent angles) the 99th percentile of |ρ_FL| is 0.47 at n = 10, 0.15 at
# n = 30 and 0.05 at n = 100 (2000 simulations each). Below these it is None ("unavailable").
MIN_ORDERING_SAMPLES = 100
MIN_ORDERING_VALUES = 4


def _unit_rows(decoder) -> np.ndarray:
    decoder = np.asarray(decoder, np.float64)
    return decoder / np.maximum(np.linalg.norm(decoder, axis=1, keepdims=True), _EPS)


def cosine_matrix(decoder: Float[AnyArray, "m d"]) -> Float[np.ndarray, "m m"]:
    """cos(D_i, D_j)."""
    unit = _unit_rows(decoder)
    return np.clip(unit @ unit.T, -1.0, 1.0)


def groups(labels, min_size: int = 2) -> list[np.ndarray]:
    """The latent indices of each cluster with at least min_size members (label −1 = left out)."""
    labels = np.asarray(labels)
    return [np.flatnonzero(labels == c) for c in np.unique(labels) if c >= 0 and np.sum(labels == c) >= min_size]


class PCA(NamedTuple):
    mean: np.ndarray  # [d]
    eigenvalues: np.ndarray  # [d] descending, of the centred scatter matrix (sums of squares)
    components: np.ndarray  # [d, d] rows = principal directions, in the same order


def pca(points: Float[AnyArray, "n d"]) -> PCA:
    """PCA of points through the eigen-decomposition of the centred scatter matrix."""
    points = np.asarray(points, np.float64)
    mean = points.mean(axis=0)
    centred = points - mean
    eigenvalues, vectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(eigenvalues)[::-1]
    return PCA(mean, np.maximum(eigenvalues[order], 0.0), vectors[:, order].T)


def zhu_ghodsi_elbow(eigenvalues) -> int:
    """The number of leading values before the scree plot's elbow (Zhu & Ghodsi 2006).

    For q = 1 … p−1 the values split into λ_1..λ_q and λ_{q+1}..λ_p; each group is
    modelled as N(μ_g, σ²) with its own mean and the pooled variance σ²; the q with the
    largest profile log-likelihood is returned (1 when p ≤ 1).
    """
    values = np.sort(np.asarray(eigenvalues, np.float64))[::-1]
    p = len(values)
    if p <= 1:
        return 1
    scale = max(values[0], _EPS)  # likelihoods are compared across q, so scale-free is fine
    values = values / scale
    best_q, best = 1, -np.inf
    for q in range(1, p):
        head, tail = values[:q], values[q:]
        residual = np.sum((head - head.mean()) ** 2) + np.sum((tail - tail.mean()) ** 2)
        variance = max(residual / p, 1e-12)
        loglik = -0.5 * p * np.log(2 * np.pi * variance) - 0.5 * residual / variance
        if loglik > best + 1e-9:
            best_q, best = q, loglik
    return best_q


def principal_angles_deg(basis_a: Float[AnyArray, "ka d"], basis_b: Float[AnyArray, "kb d"]) -> Float[np.ndarray, " angles"]:
    """Principal angles (degrees, descending) between the row spans of basis_a and basis_b."""
    return np.degrees(scipy.linalg.subspace_angles(np.asarray(basis_a, np.float64).T, np.asarray(basis_b, np.float64).T))


def circular_correlation(alpha, theta) -> float:
    """Fisher–Lee ρ between two angle samples (definition in the module docstring), O(n).

    Uses Σ_{i<j} sin(α_i − α_j) sin(θ_i − θ_j) = 2(AB − CD) with A = Σ cos α cos θ,
    B = Σ sin α sin θ, C = Σ cos α sin θ, D = Σ sin α cos θ, and
    Σ_{i<j} sin²(α_i − α_j) = (n² − (Σ cos 2α)² − (Σ sin 2α)²)/4.
    Returns 0 when either sample has no spread.
    """
    alpha = np.asarray(alpha, np.float64)
    theta = np.asarray(theta, np.float64)
    n = len(alpha)
    A = np.sum(np.cos(alpha) * np.cos(theta))
    B = np.sum(np.sin(alpha) * np.sin(theta))
    C = np.sum(np.cos(alpha) * np.sin(theta))
    D = np.sum(np.sin(alpha) * np.cos(theta))
    spread_alpha = n**2 - np.sum(np.cos(2 * alpha)) ** 2 - np.sum(np.sin(2 * alpha)) ** 2
    spread_theta = n**2 - np.sum(np.cos(2 * theta)) ** 2 - np.sum(np.sin(2 * theta)) ** 2
    denominator = np.sqrt(max(spread_alpha, 0.0) * max(spread_theta, 0.0))
    if denominator < 1e-9 * max(n, 1) ** 2:
        return 0.0
    return float(4.0 * (A * B - C * D) / denominator)


def ordering_score(alpha, theta) -> float:
    """|ρ_FL(α, θ)| ∈ [0, 1]: 1 when α = ±θ + c (order recovered up to rotation and reflection)."""
    return abs(circular_correlation(alpha, theta))


def on_manifold(decoder: Float[AnyArray, "m d"], span: Float[AnyArray, "k d"]) -> Bool[np.ndarray, " m"]:
    """Latents whose decoder row has ≥ ½ of its energy in the row span of `span`."""
    unit = _unit_rows(decoder)
    if len(span) == 0:
        return np.zeros(len(unit), bool)
    q, _ = np.linalg.qr(np.asarray(span, np.float64).T)
    return np.sum((unit @ q) ** 2, axis=1) >= MEMBERSHIP_ENERGY


class ClusterGeometry(NamedTuple):
    latents: np.ndarray  # [|S|] indices
    firing: np.ndarray  # [n] bool: some latent of S fires
    pca: PCA | None  # of the reconstructions' directions on firing samples (None if < 3 of them)
    dimension: int  # Zhu–Ghodsi elbow of the scree plot (0 without a PCA)


def group_directions(
    codes: Float[AnyArray, "n m"], decoder: Float[AnyArray, "m d"], latents: Int[AnyArray, " S"], rows: Int[AnyArray, " r"]
) -> Float[np.ndarray, "r d"]:
    """x̂_S / ‖x̂_S‖ on samples `rows`: the directions of the group-only reconstructions."""
    reconstructions = np.asarray(codes[rows][:, latents], np.float64) @ np.asarray(decoder, np.float64)[latents]
    return reconstructions / np.maximum(np.linalg.norm(reconstructions, axis=1, keepdims=True), _EPS)


def cluster_geometry(
    codes: Float[AnyArray, "n m"], decoder: Float[AnyArray, "m d"], latents: Int[AnyArray, " S"], max_eigenvalues: int = 10
) -> ClusterGeometry:
    """Steps 2–4 of the pipeline for one cluster S: reconstruct with S only, directions, PCA, elbow.

    The elbow is taken over the leading `max_eigenvalues` eigenvalues (and at most |S|,
    the rank of the reconstructions).
    """
    latents = np.asarray(latents)
    firing = np.any(np.asarray(codes[:, latents]) > 0, axis=1)
    if firing.sum() < 3:
        return ClusterGeometry(latents, firing, None, 0)
    fitted = pca(group_directions(codes, decoder, latents, np.flatnonzero(firing)))
    rank = min(len(latents), max_eigenvalues, len(fitted.eigenvalues))
    return ClusterGeometry(latents, firing, fitted, zhu_ghodsi_elbow(fitted.eigenvalues[:rank]))


def project_points(
    geometry: ClusterGeometry, codes: Float[AnyArray, "n m"], decoder: Float[AnyArray, "m d"], rows: Int[AnyArray, " r"]
) -> Float[np.ndarray, "r 2"]:
    """The directions of the cluster-only reconstructions of samples `rows` in the cluster's top-2 PCA plane."""
    if geometry.pca is None:
        raise ValueError("project_points: the cluster has no PCA (no sample fires it)")
    return (group_directions(codes, decoder, geometry.latents, rows) - geometry.pca.mean) @ geometry.pca.components[:2].T


class CircleMatch(NamedTuple):
    """The cluster that best matches one planted circle, with its scores."""

    latents: np.ndarray
    max_principal_angle_deg: float
    ordering_score: float | None  # None: fewer than MIN_ORDERING_SAMPLES samples or MIN_ORDERING_VALUES values
    dimension: int  # the cluster's elbow dimension
    purity: float
    recall: float
    coverage: float  # share of the circle's samples on which the cluster fires
    n_clusters: int  # clusters with ≥ 2 latents that were searched
    ordering_samples: int = 0  # the samples the ordering score is measured on
    cyclic_order: bool | None = None  # (a) per-value centroids in cyclic order (see cyclic_order)
    adjacent_share: float | None = None  # (a) share of consecutive values at neighbouring places
    rank_circular_correlation: float | None = None  # (b) triple concordance, not lowered by ties


PLANE_MATCH_DEG = 10.0  # groups whose plane is this close count as "on the plane" when choosing among them


def match_circle(
    codes, decoder, candidates, plane, span, present, phases, values: int = 0, within_deg: float = PLANE_MATCH_DEG
) -> CircleMatch:
    """Choose, among candidate groups, the one that best matches a planted circle, and score it.

    candidates: a list of latent-index arrays (e.g. `[c.latents for c in
    manifold_finder.find_manifolds(...)]`, or `groups(labels)` of a clustering). The
    choice: among groups whose top-2 PCA plane lies within `within_deg` of the planted
    plane, the one that fires on most of the circle's samples (ties: the smaller angle) —
    a few latents of a tiling can lie as close to the plane as all of them, but they cover
    an arc; when no group is that close, the group with the smallest angle.

    plane [2, d] the planted (u, v); span [k, d] the circle's whole span (for membership);
    present [n] bool the samples carrying the circle; phases [n] their true θ; values the
    circle's number of values (0: continuous, read in 12 arcs) for the order measures.
    As in Engels et al., the ordering score is measured on the samples that carry the
    circle and on which the cluster fires; `coverage`, the share of the circle's
    samples on which it fires, is reported beside it so a cluster that covers only an
    arc is visible.
    """
    decoder = np.asarray(decoder)
    members = on_manifold(decoder, span)
    rows = np.flatnonzero(np.asarray(present))
    scored = []
    clusters = [np.asarray(latents) for latents in candidates if len(latents)]
    for latents in clusters:
        geometry = cluster_geometry(codes, decoder, latents)
        if geometry.pca is None:
            continue
        angle = float(principal_angles_deg(geometry.pca.components[:2], plane).max())
        scored.append((angle, int(geometry.firing[rows].sum()), geometry))
    best = None
    if scored:
        close = [entry for entry in scored if entry[0] <= within_deg]
        choice = max(close, key=lambda e: (e[1], -e[0])) if close else min(scored, key=lambda e: e[0])
        best = (choice[0], choice[2])
    if best is None:
        return CircleMatch(np.array([], int), 90.0, None, 0, 0.0, 0.0, 0.0, len(clusters), 0)
    angle, geometry = best
    rows = rows[geometry.firing[rows]]
    plane_points = project_points(geometry, codes, decoder, rows)
    alpha = np.arctan2(plane_points[:, 1], plane_points[:, 0])
    theta = np.asarray(phases)[rows]
    period = values or 12
    value = value_labels(theta, values)
    # the same minimum as the per-sample score: a handful of samples in a few values proves nothing
    measured = len(rows) >= MIN_ORDERING_SAMPLES
    in_order, adjacent = cyclic_order(plane_points, value, period) if measured else (None, None)
    rank = rank_circular_correlation(group_angles(plane_points, value), theta, period) if measured else None
    enough = len(rows) >= MIN_ORDERING_SAMPLES and len(np.unique(np.round(theta, 6))) >= MIN_ORDERING_VALUES
    inside = np.isin(geometry.latents, np.flatnonzero(members)).sum()
    return CircleMatch(
        latents=geometry.latents,
        max_principal_angle_deg=angle,
        ordering_score=ordering_score(alpha, theta) if enough else None,
        ordering_samples=int(len(rows)),
        cyclic_order=in_order,
        adjacent_share=adjacent,
        rank_circular_correlation=rank,
        dimension=geometry.dimension,
        purity=float(inside / len(geometry.latents)),
        recall=float(inside / members.sum()) if members.any() else 0.0,
        coverage=float(len(rows) / max(np.sum(present), 1)),
        n_clusters=len(clusters),
    )


# --- a planted circle, as arrays ---


class PlantedCircle(NamedTuple):
    """The truth of one planted circle on n samples (arrays; sae never imports toys)."""

    name: str
    plane: np.ndarray  # [2, d] the planted (u, v)
    span: np.ndarray  # [k, d] the circle's whole span, offset direction included (for membership)
    present: np.ndarray  # [n] bool: the samples that carry the circle
    phases: np.ndarray  # [n] their true θ
    radius: float
    values: int = 0  # P equally spaced values (days: 7), or 0 for a continuous circle


def in_plane_error(x: Float[AnyArray, "n d"], reconstruction: Float[AnyArray, "n d"], circle: PlantedCircle) -> float:
    """Mean over the circle's samples of ‖P(x̂ − x)‖² / r² (P the projection on the planted plane)."""
    residual = (np.asarray(reconstruction, np.float64) - np.asarray(x, np.float64))[np.asarray(circle.present)]
    return float(np.sum((residual @ np.asarray(circle.plane, np.float64).T) ** 2, axis=1).mean() / circle.radius**2)


def cluster_plane_points(codes, decoder, latents, rows) -> tuple[np.ndarray, np.ndarray]:
    """The cluster-only reconstructions of those samples of `rows` on which the cluster fires,
    in the cluster's top-2 PCA plane: (points [r, 2], the rows kept [r])."""
    fitted = cluster_geometry(codes, decoder, latents)
    chosen = np.asarray(rows)[fitted.firing[np.asarray(rows)]]
    return project_points(fitted, codes, decoder, chosen), chosen


# --- "in order", measured as meant: per-value centroids, and triples that ignore ties ----------


def _wrap(angle):
    """Angles to (−π, π]."""
    return np.angle(np.exp(1j * np.asarray(angle, np.float64)))


def value_labels(phases: Float[AnyArray, " n"], values: int, bins: int = 12) -> Int[np.ndarray, " n"]:
    """Integer value labels of true phases: round(θ·P/2π) mod P for P values, or `bins` equal arcs
    of a continuous circle (values = 0)."""
    period = values if values else bins
    labels = np.floor(np.asarray(phases, np.float64) * period / (2 * np.pi) + (0.5 if values else 0.0))
    return labels.astype(int) % period


def circle_centre(points: Float[AnyArray, "n 2"]) -> Float[np.ndarray, " 2"]:
    """The centre of the circle best fitting 2-D points (Kåsa's algebraic fit: least squares on
    x² + y² + Dx + Ey + F = 0), [2]; their mean when they are (nearly) collinear or < 3.

    Angles are read about this centre rather than about the mean of the data: a circle whose
    samples crowd on one arc (several values sharing one latent) has its mean near that arc,
    where the crowd's own noise would spin the angles around.
    """
    points = np.asarray(points, np.float64)
    if len(points) < 3:
        return points.mean(axis=0)
    design = np.column_stack([points, np.ones(len(points))])
    solution, _, rank, _ = np.linalg.lstsq(design, -np.sum(points**2, axis=1), rcond=None)
    if rank < 3:
        return points.mean(axis=0)
    return -solution[:2] / 2


def _centroids(points, labels):
    labels = np.asarray(labels)
    present = np.unique(labels)
    return present, np.stack([np.asarray(points, np.float64)[labels == v].mean(axis=0) for v in present])


def group_angles(points, labels) -> np.ndarray:
    """Each sample's angle [n] about the circle fitted to the per-value centroids (see circle_centre)."""
    _, centroids = _centroids(points, labels)
    centre = circle_centre(centroids)
    points = np.asarray(points, np.float64)
    return np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])


def cyclic_order(points, labels, period: int, tie_fraction: float = 0.25) -> tuple[bool | None, float | None]:
    """Engels et al.'s reading of "in order": do the per-value centroids go around in cyclic order?

    points [n, 2] (a group's reconstructions in its top-2 PCA plane), labels [n] integer values
    in [0, period). The centroid of each present value is placed at its angle β_v around the
    centre of the circle fitted to the centroids (`circle_centre`). Walking the present values in their natural cyclic order, each step
    visits the places around the circle (centroids sorted by angle; centroids closer than
    `tie_fraction`·2π/period share a place — a tie). The values are **in cyclic order** (up
    to rotation and reflection) when every step stays or moves to the next place, always the
    same way round, and the walk goes round exactly once. The **adjacent share** is the share
    of naturally consecutive values at the same or neighbouring places. Returns (None, None)
    with fewer than 4 present values or 4 places (any 3 points are in order, and values in 3
    contiguous arcs always walk round once).
    """
    if len(np.unique(labels)) < 4:
        return None, None
    _, centroids = _centroids(points, labels)
    centre = circle_centre(centroids)
    beta = np.arctan2(centroids[:, 1] - centre[1], centroids[:, 0] - centre[0])
    tie = tie_fraction * 2 * np.pi / period
    # places around the circle, by angle; tied centroids share one place
    order = np.argsort(beta)
    place = np.zeros(len(beta), int)
    for rank in range(1, len(order)):
        gap = _wrap(beta[order[rank]] - beta[order[rank - 1]])
        place[order[rank]] = place[order[rank - 1]] + (abs(gap) >= tie)
    places = place.max() + 1
    if places > 1 and abs(_wrap(beta[order[0]] - beta[order[-1]])) < tie:  # the last place wraps onto the first
        place[place == places - 1] = 0
        places -= 1
    if places < 4:  # values spread over 3 arcs read "in order" whatever their order: no evidence
        return None, None
    # walking the values in their natural order, each step stays or moves one place, always the
    # same way round, and the walk goes round exactly once
    step = (np.roll(place, -1) - place) % places
    forward = bool(np.all(np.isin(step, (0, 1))) and np.sum(step == 1) == places)
    backward = bool(np.all(np.isin(step, (0, places - 1))) and np.sum(step == places - 1) == places)
    in_order = forward or backward
    distance = np.abs(np.roll(place, -1) - place) % max(places, 1)
    adjacent = (distance <= 1) | (distance == places - 1)
    return in_order, float(np.mean(adjacent))


def _orientation(a, b, c) -> np.ndarray:
    """+1 / −1: whether angles a → b → c go counter-clockwise or clockwise around the circle."""
    return np.sign(np.sin(b - a) + np.sin(c - b) + np.sin(a - c))


def rank_circular_correlation(
    alpha, theta, period: int, n_triples: int = 20_000, seed: int = 0, tie_fraction: float = 0.25
) -> float | None:
    """A rank-based circular correlation that ties do not lower: |2·P(concordant) − 1| over triples.

    For random triples of samples whose recovered angles α are pairwise apart (no tie: every
    gap ≥ `tie_fraction`·2π/period) and whose true phases θ are pairwise distinct, a triple is
    concordant when α and θ go around in the same orientation. Orientation only depends on
    cyclic ranks, so any rotation, reflection (the absolute value) or order-preserving merge of
    neighbouring values (tied triples are left out) keeps the score at 1; independent angles
    score ≈ 0. None when fewer than 100 usable triples are found.
    """
    alpha, theta = np.asarray(alpha, np.float64), np.asarray(theta, np.float64)
    if len(alpha) < 3:
        return None
    rng = np.random.default_rng(seed)
    i, j, k = rng.integers(0, len(alpha), size=(3, n_triples))
    tie = tie_fraction * 2 * np.pi / period
    apart = lambda x, p, q: np.abs(_wrap(x[p] - x[q])) >= tie  # noqa: E731
    distinct = lambda x, p, q: np.abs(_wrap(x[p] - x[q])) > 1e-9  # noqa: E731
    usable = (
        apart(alpha, i, j) & apart(alpha, j, k) & apart(alpha, i, k) & distinct(theta, i, j) & distinct(theta, j, k) & distinct(theta, i, k)
    )
    if usable.sum() < 100:
        return None
    i, j, k = i[usable], j[usable], k[usable]
    agreement = _orientation(alpha[i], alpha[j], alpha[k]) * _orientation(theta[i], theta[j], theta[k])
    return float(abs(np.mean(agreement)))
