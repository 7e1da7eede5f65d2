"""Is there a ring in the activations where a group fires? The second condition of a blind circle claim.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): n samples, m latents, d activation
dimensions, S the latents of one candidate group.

This is a *method* (activations x [n, d], codes [n, m] and decoder [m, d], never a planted plane
or phase). `sae.readers.manifold_ranking` reads a group's *latents*: their directions and how they
co-fire. Latents that co-fire cyclically in pairs over a filled region of a plane (a circle's two
coordinates drawn with independent phases, a sphere's cross-section, a split triangle) draw the same
loop of directions as latents tiling a circle. What tells a loop from a region is the activations
themselves: on a circle the points sit at one radius about its centre; in a region they fill it.

**The reading.** On the samples the evidence reads (those where some latent of S fires, at most
`manifold_ranking.MAX_ROWS`, evenly thinned), take the plane the evidence fits: the top two principal
directions of the group's reconstruction directions x̂_S / ‖x̂_S‖ (`geometry.group_directions`). Project
x onto it; about Kåsa's centre the radii R give
    ring roundness ρ_x = max(0, 1 − CV(R) / CV_disc),  CV_disc = 1/√8,
the CV of points filling a disc uniformly (ρ_x = 0 for a filled disc, 1 for a ring), and the
closure 1 − G / 2π (G the largest angular gap). The plane is fixed by the latents before x is read,
not searched for the roundest view of x: a search over the planes of a span of several directions
would make any region look rounder by selection, and the threshold below is for one plane.

**The threshold, from theory.** Of the regions a referee would offer in place of a loop, the roundest
in projection is the shadow of a sphere's surface: a uniform point of S² seen in a plane has radius
density r / √(1 − r²) on [0, 1], mean π/4 and mean square 2/3, so
    CV_shell = √(2/3 − π²/16) / (π/4) ≈ 0.284,  ρ_shell = 1 − CV_shell · √8 ≈ 0.196.
(A ball, or a sphere in more dimensions, is fuller: S³'s shadow is the uniform disc.) A group *holds a
ring in its activations* when ρ_x > ρ_shell. A blind claim needs it beside its evidence's p-value
(`manifold_ranking.rank`); since it only removes claims, the claim's level under the null stays α.

**What it cannot tell.** A helix seen along its axis and a thin annulus are rings in projection; so is
a single sparse feature of constant magnitude seen with another at the same radius (its points sit at
one radius but fill no turn: the evidence's places and closure, not this reading, refuse it). What
else projects into the plane fattens the ring: a circle whose latents also fire on samples that do not
carry it (sparse features they absorb) puts those samples inside the ring and reads a lower ρ_x, often
0 (`docs/studies/circles-grid.md`). Choosing the samples by how much of their code the group holds
would keep such a ring, and the rim of a filled square too, so every sample the group fires on is read.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Float, Int

from sae.readers import geometry
from toys.engine.shapes import AnyArray

MAX_ROWS = 2048  # samples read (evenly thinned): manifold_ranking.MAX_ROWS, the rows the evidence reads
MIN_POINTS = 8
DISC_SPREAD = 1 / np.sqrt(8)  # CV of the radii of points filling a disc uniformly
SHELL_SPREAD = float(np.sqrt(2 / 3 - np.pi**2 / 16) / (np.pi / 4))  # CV of the radii of a sphere's shadow
SHELL_ROUNDNESS = float(1 - SHELL_SPREAD / DISC_SPREAD)  # ≈ 0.196 (module docstring)


class ActivationRing(NamedTuple):
    """The ring reading of the activations where a group fires."""

    roundness: float  # ρ_x; 0 with fewer than MIN_POINTS samples or a span under two directions
    closure: float
    samples: int  # samples read


def read(
    x: Float[AnyArray, "n d"], codes: Float[AnyArray, "n m"], decoder: Float[AnyArray, "m d"], latents: Int[AnyArray, " S"]
) -> ActivationRing:
    """The ring reading (module docstring) of x on the samples where some latent of `latents` fires, in
    the plane of the group's reconstruction directions."""
    codes = np.asarray(codes)
    latents = np.asarray(latents, int)
    rows = np.flatnonzero(np.any(codes[:, latents] > 0, axis=1)) if len(latents) else np.zeros(0, int)
    if len(rows) > MAX_ROWS:
        rows = rows[np.linspace(0, len(rows) - 1, MAX_ROWS).astype(int)]
    if len(rows) < MIN_POINTS:
        return ActivationRing(0.0, 0.0, int(len(rows)))
    fitted = geometry.pca(geometry.group_directions(codes, decoder, latents, rows))
    if float(fitted.eigenvalues[:2].sum()) <= 1e-12:
        return ActivationRing(0.0, 0.0, int(len(rows)))
    return ring_of(np.asarray(x, np.float64)[rows] @ fitted.components[:2].T, int(len(rows)))


def ring_of(points: Float[AnyArray, "r 2"], samples: int | None = None) -> ActivationRing:
    """ρ_x and the closure of points in a plane [r, 2], about Kåsa's centre."""
    points = np.asarray(points, np.float64)
    centre = geometry.circle_centre(points)
    radii = np.linalg.norm(points - centre, axis=1)
    radius = max(float(radii.mean()), 1e-300)
    angles = np.sort(np.mod(np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0]), 2 * np.pi))
    gap = float(np.max(np.diff(np.concatenate([angles, angles[:1] + 2 * np.pi])))) if len(angles) else 2 * np.pi
    roundness = float(max(0.0, 1.0 - radii.std() / radius / DISC_SPREAD))
    return ActivationRing(roundness, float(1.0 - gap / (2 * np.pi)), len(points) if samples is None else samples)


def holds_ring(roundness: float) -> bool:
    """ρ_x above a sphere's shadow (`SHELL_ROUNDNESS`): a loop, not a region (module docstring)."""
    return bool(np.isfinite(roundness) and roundness > SHELL_ROUNDNESS)
