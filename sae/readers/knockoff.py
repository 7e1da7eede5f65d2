"""Knockoff activation spaces: an SAE's latent activations, placed by different explanations.

Shapes are in the signatures (jaxtyping; `toys.engine.shapes`): N samples, m latents, d dimensions.

"You understand an activation space if, from your explanation alone, someone can build a
functionally equivalent one." Given latent activations a(x) [N, m] of an SAE with decoder
D [m, d] and bias b, each function below places the same activations by what one kind of
explanation says about the latents, x' = a(x) P (+ b), with P [m, d]:
- `reconstruction`: P = D, plus b — the explanation including the decoder;
- `random_placement`: row j of P is a random unit vector times ‖D_j‖ — superposition only
  ("any nearly orthogonal overcomplete basis will do");
- `correlation_placement`: unit rows whose Gram is the latents' correlation matrix R
  (corr of the columns of a(x)), then times ‖D_j‖ — the correlations only. Exact when
  rank R ≤ d; otherwise the nearest rank-d Gram (R's top-d eigenpairs, rows renormalised),
  reported as `feasible` False with its relative Frobenius error; a random rotation
  places it in R^d;
- `group_coordinates_placement`: each group of latents the geometry finder reports
  (sae.readers.manifold_finder) keeps its exact coordinates — each latent's angle and radius in
  the group's plane, the offset's norm, every out-of-plane norm and decoder norm — laid
  out in a fresh random frame; every other latent goes at random. More than any
  description states: the group's Gram matrix is reproduced exactly;
- `described_placement`: only what a description of a circle states — "these latents go
  round a circle of radius r, in this order, about an offset of length ‖c‖": each group
  becomes |S| points equally spaced in its cyclic order (`cyclic_order`, read from the
  group's decoder rows) on a circle of the group's mean radius in a fresh plane, plus the
  offset along a fresh third direction; every other latent goes at random.
A knockoff whose P equals D is the original reconstruction (the must-match control).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Float, Int

from sae.readers import manifold_finder, manifold_ranking
from toys.engine.shapes import AnyArray


def _norms(decoder) -> np.ndarray:
    return np.linalg.norm(np.asarray(decoder, np.float64), axis=1)


def _random_units(rng: np.random.Generator, m: int, d: int) -> np.ndarray:
    rows = rng.normal(size=(m, d))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def reconstruction(codes: Float[AnyArray, "N m"], decoder: Float[AnyArray, "m d"], bias=None) -> np.ndarray:
    """x̂ = a(x) D + b, [N, d]."""
    out = np.asarray(codes, np.float64) @ np.asarray(decoder, np.float64)
    return out if bias is None else out + np.asarray(bias, np.float64)


def random_placement(rng: np.random.Generator, decoder: Float[AnyArray, "m d"]) -> np.ndarray:
    """P [m, d]: random unit rows times the decoder's row norms."""
    decoder = np.asarray(decoder, np.float64)
    return _random_units(rng, *decoder.shape) * _norms(decoder)[:, None]


class CorrelationPlacement(NamedTuple):
    placement: np.ndarray  # [m, d]
    feasible: bool  # whether the Gram reproduces R exactly (rank R ≤ d)
    relative_error: float  # ‖G − R‖_F / ‖R‖_F of the unit-row Gram G


def correlation_placement(rng: np.random.Generator, codes: Float[AnyArray, "N m"], decoder: Float[AnyArray, "m d"]) -> CorrelationPlacement:
    """Unit rows with Gram R = corr(a(x)) (or its nearest rank-d form), times ‖D_j‖ (module docstring).
    Latents that never vary get a random unit row (their correlations are undefined)."""
    codes = np.asarray(codes, np.float64)
    decoder = np.asarray(decoder, np.float64)
    m, d = decoder.shape
    varies = codes.std(axis=0) > 0
    corr = np.eye(m)
    if varies.sum() > 1:
        corr[np.ix_(varies, varies)] = np.corrcoef(codes[:, varies], rowvar=False)
    values, vectors = np.linalg.eigh(corr)
    order = np.argsort(values)[::-1][:d]
    rows = vectors[:, order] * np.sqrt(np.maximum(values[order], 0.0))
    if d > rows.shape[1]:
        rows = np.pad(rows, ((0, 0), (0, d - rows.shape[1])))
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    rows[~varies] = _random_units(rng, int((~varies).sum()), d)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    rows = rows @ rotation
    error = float(np.linalg.norm(rows @ rows.T - corr) / np.linalg.norm(corr))
    feasible = bool(np.sum(values > 1e-9 * values.max()) <= d)
    return CorrelationPlacement(rows * _norms(decoder)[:, None], feasible, error)


def group_coordinates_placement(rng: np.random.Generator, decoder: Float[AnyArray, "m d"], groups, planes=None) -> np.ndarray:
    """P [m, d] from the exact in-plane coordinates of `groups` (lists of latent indices; module docstring),
    each read in its reported plane (planes[i], orthonormal rows [2, d]) or, without one, in the top
    two principal directions of its decoder rows."""
    decoder = np.asarray(decoder, np.float64)
    m, d = decoder.shape
    placement = random_placement(rng, decoder)
    for i, group in enumerate(groups):
        group = np.asarray(group, int)
        rows = decoder[group]
        offset = rows.mean(axis=0)
        centred = rows - offset
        if planes is not None and planes[i] is not None:
            plane = np.asarray(planes[i], np.float64)[:2]
        else:
            _, _, principal = np.linalg.svd(centred, full_matrices=False)
            plane = principal[:2] if len(principal) >= 2 else np.vstack([principal, np.zeros((2 - len(principal), d))])
        coordinates = centred @ plane.T  # angle and radius of each latent in the plane
        frame, _ = np.linalg.qr(rng.normal(size=(d, 3)))  # a fresh plane and offset direction
        in_plane = coordinates @ frame[:, :2].T
        offset_part = np.linalg.norm(offset) * frame[:, 2]
        leftover = np.linalg.norm(centred - coordinates @ plane, axis=1)  # what the description does not say
        placement[group] = offset_part + in_plane + leftover[:, None] * _random_units(rng, len(group), d)
    return placement


def coordinate_groups(codes: Float[AnyArray, "N m"], decoder: Float[AnyArray, "m d"]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The geometry finder's candidates that read as circles — a scree dimension of 1 to 3 (a
    circle with its offset) — largest first, each keeping only latents no earlier one took; with
    each one's reported plane (the top two principal directions of its reconstructions)."""
    taken, groups, planes = set(), [], []
    candidates = manifold_finder.find_manifolds(codes, decoder, shapes=False)
    for candidate in sorted(candidates, key=lambda c: -len(c.latents)):
        if candidate.pca is None or not 1 <= candidate.dimension <= 3:
            continue
        fresh = [int(j) for j in candidate.latents if int(j) not in taken]
        if len(fresh) >= manifold_finder.MIN_GROUP:
            groups.append(np.asarray(fresh))
            planes.append(candidate.pca.components[:2])
            taken.update(fresh)
    return groups, planes


class CircleDescription(NamedTuple):
    """What a description of one circle group says."""

    latents: np.ndarray  # [|S|] in cyclic order
    radius: float  # the mean distance of the rows from their centroid, in the group's plane
    offset: float  # ‖centroid‖


def describe_circle(decoder: Float[AnyArray, "m d"], latents: Int[AnyArray, " S"]) -> CircleDescription:
    """A circle group's description: its latents' cyclic order (by angle in the top-2 principal plane of
    the centred decoder rows), its radius and its offset length."""
    rows = np.asarray(decoder, np.float64)[np.asarray(latents, int)]
    centroid = rows.mean(axis=0)
    centred = rows - centroid
    _, _, principal = np.linalg.svd(centred, full_matrices=False)
    coordinates = centred @ principal[:2].T if len(principal) >= 2 else np.zeros((len(rows), 2))
    order = np.argsort(np.arctan2(coordinates[:, 1], coordinates[:, 0]))
    return CircleDescription(
        np.asarray(latents, int)[order], float(np.linalg.norm(coordinates, axis=1).mean()), float(np.linalg.norm(centroid))
    )


def described_placement(rng: np.random.Generator, decoder: Float[AnyArray, "m d"], descriptions: list[CircleDescription]) -> np.ndarray:
    """P [m, d]: each described circle as equally spaced points in its cyclic order, at its radius, about
    its offset, in a fresh frame; every other latent a random unit row times its decoder norm."""
    decoder = np.asarray(decoder, np.float64)
    placement = random_placement(rng, decoder)
    for description in descriptions:
        frame, _ = np.linalg.qr(rng.normal(size=(decoder.shape[1], 3)))
        angles = 2 * np.pi * np.arange(len(description.latents)) / len(description.latents)
        placement[description.latents] = description.offset * frame[:, 2] + description.radius * (
            np.cos(angles)[:, None] * frame[:, 0] + np.sin(angles)[:, None] * frame[:, 1]
        )
    return placement


def place(codes: Float[AnyArray, "N m"], placement) -> np.ndarray:
    """x' = a(x) P, [N, d]."""
    return np.asarray(codes, np.float64) @ np.asarray(placement, np.float64)


class RingDescription(NamedTuple):
    """What a description of one ring plane of a group says (`sae.readers.projection_circles`): these
    latents go round a ring of this radius, in this order; several rings may share latents."""

    latents: np.ndarray  # in cyclic order
    radius: float


def describe_ring(decoder: Float[AnyArray, "m d"], order, basis) -> RingDescription:
    """A ring plane's description: its named latents in cyclic order (`RingPlane.order`) and their
    rows' mean reach into the plane (basis [2, d])."""
    order = np.asarray(order, int)
    reach = np.linalg.norm(np.asarray(decoder, np.float64)[order] @ np.asarray(basis, np.float64).T, axis=1)
    return RingDescription(order, float(reach.mean()) if len(order) else 0.0)


def projection_placement(
    rng: np.random.Generator, decoder: Float[AnyArray, "m d"], groups, rings: list[list[RingDescription]]
) -> np.ndarray:
    """P [m, d] from what descriptions of ring planes state: each group's latents sit at the group's
    offset (‖mean row‖, along a fresh direction) plus, for each of its described rings, the point
    of a ring of its radius in a fresh plane (all fresh directions orthonormal) at an angle equally
    spaced in that ring's cyclic order (a latent named by some rings but not by another sits at that
    one's centre); every latent no ring names goes at random (`random_placement`), in the group or not."""
    decoder = np.asarray(decoder, np.float64)
    m, d = decoder.shape
    placement = random_placement(rng, decoder)
    for group, described in zip(groups, rings):
        group = np.asarray(group, int)
        if not described:
            continue
        frame, _ = np.linalg.qr(rng.normal(size=(d, min(d, 1 + 2 * len(described)))))
        rows = np.linalg.norm(decoder[group].mean(axis=0)) * np.tile(frame[:, 0], (len(group), 1))
        position = {int(j): i for i, j in enumerate(group)}
        named = np.zeros(len(group), bool)
        for r, ring in enumerate(described):
            if 2 + 2 * r >= frame.shape[1]:
                break
            angles = 2 * np.pi * np.arange(len(ring.latents)) / max(len(ring.latents), 1)
            for angle, latent in zip(angles, ring.latents):
                rows[position[int(latent)]] += ring.radius * (np.cos(angle) * frame[:, 1 + 2 * r] + np.sin(angle) * frame[:, 2 + 2 * r])
                named[position[int(latent)]] = True
        placement[group[named]] = rows[named]
    return placement


def claimed_circle_groups(
    x: Float[AnyArray, "N d"], codes: Float[AnyArray, "N m"], decoder: Float[AnyArray, "m d"], null_top, seed: int = 0
) -> list[np.ndarray]:
    """The blind method's circles: the finder's candidates in the order of `manifold_ranking.rank`,
    those claimed against `null_top` (each on its own p-value and its ring in the activations x), each
    keeping only latents no earlier one took."""
    candidates = [latents for _, latents in manifold_finder.candidate_groups(codes, decoder, seed=seed)]
    ranked = manifold_ranking.rank(codes, decoder, candidates, np.asarray(null_top, np.float64), x=x)
    taken, groups = set(), []
    for index in ranked.order[: ranked.claims]:
        fresh = [int(j) for j in candidates[index] if int(j) not in taken]
        if len(fresh) >= manifold_ranking.MIN_LATENTS:
            groups.append(np.asarray(fresh))
            taken.update(fresh)
    return groups
