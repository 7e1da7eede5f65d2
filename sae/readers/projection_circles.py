"""Circles that are projections: planes of a latent group in which its points close into a ring.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): n samples, m latents, d activation
dimensions, S the latents of one candidate group, r the distinct points a group is read on, q the
principal directions searched.

This is a *method* (codes [n, m] and decoder [m, d] only, never a planted plane or phase).
`sae.readers.manifold_ranking` asks whether a group's points lie on one planar loop. A group
can hold several circles at once in orthogonal planes: the embedding of a residue a in a
modular-addition network is Σ_f A_f (cos(2πfa/p) u_f + sin(2πfa/p) v_f), one circle per key
frequency f, all carried by the same latents (one latent per residue). No plane of such a
group holds all its variance, so one planar loop is never read; each frequency's circle is
a 2-D *projection* of the group.

**The search.** Read the group's distinct points Y (the group-only reconstructions
x̂_S = f[:, S] D[S] on the samples where it fires, deduplicated, at most `MAX_POINTS`),
centre them and keep their top q principal directions (at most `MAX_DIRECTIONS`, those
above `MIN_VARIANCE_SHARE` of the variance, and few enough that the r points over-determine a
plane: a plane among q directions has 2(q − 2) freedoms and a ring puts r − 1 constraints on
it, so q ≤ (r − 1)/(2 · `CONSTRAINTS_PER_FREEDOM`) + 2; with more freedom any points lie on a
ring). In a plane A (q × 2, orthonormal) the points'
squared radii are s_i = ‖Aᵀ y_i‖². A *ring plane* minimises their spread
    c(A) = var(s) / mean(s)²
(0 exactly when every point sits at one radius about the centre). For a sum of circles in
orthogonal planes the zeros of c are exactly each circle's plane: a plane that mixes two
frequencies f ≠ g reads cos²(fθ) + cos²(gθ), which varies with θ. The search (`sae.readers.ring_search`) descends c
on the Stiefel manifold (gradient, QR retraction) from neighbouring eigenvector pairs of the
least-squares quadric y_iᵀ M y_i = 1 (`ring_quadric`: a ring of radius r in plane P solves it
with M = P/r², so M's eigenvectors pair up into ring planes), `STARTS` random planes and, with
few directions, every pair of principal directions, keeps the best plane, removes it from the points
(deflation) and searches again, `MAX_PLANES` times or until too few directions are left.

**The evidence of a plane**, in [0, 1], read on the points projected into it:
- ring roundness ρ = max(0, 1 − CV(R) / CV_disc), CV(R) = std(R) / mean(R) of the radii R about
  Kåsa's centre (`sae.readers.geometry.circle_centre`) and CV_disc = 1/√8 ≈ 0.354 that of points
  filling a disc uniformly: a ring scores 1, a filled disc (a region, not a circle) 0. The
  search chooses the plane, so its points are rounder than a random plane's by selection; the
  null (below) is read through the same search;
- closure κ = 1 − G / 2π, G the largest angular gap (a full turn leaves gaps of 2π/r);
- places: the points occupy ≥ `manifold_ranking.MIN_PLACES` arcs of
  `manifold_ranking.PLACE_TOLERANCE`, and the group's latents ≥ `manifold_ranking.MIN_LATENTS`
  places, else 0 (as in `manifold_ranking`: three latents trace any triangle). A latent's place
  is the angle of its decoder row projected into the plane (the centred points are sums of
  rows, so a row's projection points where it pushes the ring); rows reaching less than half
  as far into the plane as the farthest one name no angle.
e = ρ · κ. Unlike a single planar loop, a projection circle has no seam reading: the other
circles of the group change with the angle and jump between neighbouring places.

**What it cannot tell.** Any structure whose projection is a ring passes: a helix seen
along its axis *is* a circle in projection. A claim made with this reader says "these
latents hold a ring in this plane", and its null must come from the same reader on
dictionaries without rings (`manifold_ranking.p_value` on their top plane evidence).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Float, Int

from sae.readers import geometry, manifold_finder, manifold_ranking
from sae.readers.activation_ring import DISC_SPREAD
from sae.readers.ring_search import STARTS, best_ring_plane
from toys.engine.shapes import AnyArray

MAX_POINTS = 512  # distinct points a group is read on (evenly thinned)
MAX_DIRECTIONS = 24  # principal directions searched (twelve circles)
CONSTRAINTS_PER_FREEDOM = 3  # q ≤ (r − 1)/(2·3) + 2: a plane in q directions has 2(q − 2) freedoms,
# a ring puts r − 1 constraints on it; with fewer constraints any r points lie on some ring
MIN_VARIANCE_SHARE = 1e-3  # a direction with less of the variance is noise, not searched
MAX_PLANES = 12


class RingPlane(NamedTuple):
    """One ring plane of a group: its basis in activation space and its evidence."""

    basis: np.ndarray  # [2, d] orthonormal
    spread: float  # c(A) = var(s) / mean(s)² at the plane found
    roundness: float
    closure: float
    places: int
    latent_places: int
    evidence: float  # roundness · closure; 0 under MIN_PLACES places or MIN_LATENTS latent places
    order: np.ndarray  # the group's latents that name an angle, in their cyclic order in the plane
    radius: float  # the points' mean radius about the plane's centre


def group_points(
    codes: Float[AnyArray, "n m"], decoder: Float[AnyArray, "m d"], latents: Int[AnyArray, " S"], max_points: int = MAX_POINTS
) -> np.ndarray:
    """The group's distinct reconstructions x̂_S on the samples where it fires, [r, d] (rows equal to
    1e-9 relative precision counted once; evenly thinned to max_points)."""
    codes = np.asarray(codes)
    latents = np.asarray(latents)
    sub = codes[:, latents]
    rows = np.flatnonzero(np.any(sub > 0, axis=1))
    points = np.asarray(sub[rows], np.float64) @ np.asarray(decoder, np.float64)[latents]
    if not len(points):
        return points
    scale = max(float(np.abs(points).max()), 1e-12)
    _, first = np.unique(np.round(points / scale, 9), axis=0, return_index=True)
    points = points[np.sort(first)]
    if len(points) > max_points:
        points = points[np.linspace(0, len(points) - 1, max_points).astype(int)]
    return points


def _plane_evidence(points: np.ndarray, basis: np.ndarray, decoder, latents, value: float) -> RingPlane:
    """Read the ring of centred points [r, d] in the plane `basis` [2, d] (module docstring)."""
    plane = points @ basis.T
    centre = geometry.circle_centre(plane)
    radii = np.linalg.norm(plane - centre, axis=1)
    radius = float(max(radii.mean(), 1e-12))
    roundness = float(max(0.0, 1.0 - radii.std() / radius / DISC_SPREAD))
    angles = np.arctan2(plane[:, 1] - centre[1], plane[:, 0] - centre[0])
    places, gap = manifold_ranking._places(angles, manifold_ranking.PLACE_TOLERANCE)
    closure = float(1.0 - gap / (2 * np.pi))
    rows = np.asarray(decoder, np.float64)[np.asarray(latents)]
    projected = rows @ basis.T
    # a latent names an angle when its row reaches into the plane: at least half as far as the
    # group's farthest-reaching row (several latents may co-fire to build one point)
    reach = np.linalg.norm(projected, axis=1)
    named = reach >= max(float(reach.max(initial=0.0)), 1e-12) / 2
    row_angles = np.arctan2(projected[:, 1], projected[:, 0])
    held = manifold_ranking._places(row_angles[named], manifold_ranking.PLACE_TOLERANCE)[0] if named.any() else 0
    order = np.asarray(latents)[named][np.argsort(row_angles[named])]
    enough = places >= manifold_ranking.MIN_PLACES and held >= manifold_ranking.MIN_LATENTS
    evidence = roundness * closure if enough else 0.0
    return RingPlane(basis, value, roundness, closure, places, int(held), float(evidence), order, radius)


def ring_planes(
    codes: Float[AnyArray, "n m"],
    decoder: Float[AnyArray, "m d"],
    latents: Int[AnyArray, " S"],
    max_planes: int = MAX_PLANES,
    starts: int = STARTS,
    seed: int = 0,
) -> list[RingPlane]:
    """The group's ring planes, in the order found (module docstring); empty when the group's
    points span fewer than two directions."""
    points = group_points(codes, decoder, latents)
    if len(points) < manifold_ranking.MIN_PLACES:
        return []
    mean = points.mean(axis=0)
    centred = points - mean
    fitted = geometry.pca(points)
    total = float(fitted.eigenvalues.sum())
    if total <= 1e-12:
        return []
    kept = int(np.sum(fitted.eigenvalues > MIN_VARIANCE_SHARE * total))
    determined = (len(points) - 1) // (2 * CONSTRAINTS_PER_FREEDOM) + 2  # 2(q − 2) freedoms, r − 1 constraints
    directions = fitted.components[: min(kept, MAX_DIRECTIONS, determined)]  # [q, d]
    rng = np.random.default_rng(seed)
    found = []
    while len(directions) >= 2 and len(found) < max_planes:
        coordinates = centred @ directions.T
        best_value, best_plane = best_ring_plane(coordinates, rng, starts)
        basis = best_plane.T @ directions  # [2, d]
        found.append(_plane_evidence(centred, basis, decoder, latents, best_value))
        # deflate: the remaining directions, orthogonal to the plane found
        complement = np.linalg.svd(directions.T - basis.T @ (basis @ directions.T), full_matrices=False)
        u, singular, _ = complement
        directions = u[:, singular > 1e-6].T[: len(directions) - 2]
    return found


def blind_planes(codes: Float[AnyArray, "n m"], decoder: Float[AnyArray, "m d"], seed: int = 0) -> tuple[list[np.ndarray], list[dict]]:
    """The method on one dictionary: the finder's groups (`manifold_finder.candidate_groups`) and every
    ring plane in each group with at least `manifold_ranking.MIN_LATENTS` latents, best evidence first:
    (groups, planes), each plane {"group", "evidence", "spread", "roundness", "closure",
    "latent_places", "basis", "order"}."""
    groups = [latents for _, latents in manifold_finder.candidate_groups(codes, decoder, seed=seed)]
    planes = []
    for index, group in enumerate(groups):
        if len(group) < manifold_ranking.MIN_LATENTS:
            continue
        for ring in ring_planes(codes, decoder, group, seed=seed):
            planes.append(
                {
                    "group": index,
                    "evidence": ring.evidence,
                    "spread": ring.spread,
                    "roundness": ring.roundness,
                    "closure": ring.closure,
                    "latent_places": ring.latent_places,
                    "basis": ring.basis,
                    "order": ring.order,
                }
            )
    planes.sort(key=lambda plane: -plane["evidence"])
    return groups, planes
