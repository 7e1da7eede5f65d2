"""Knockoff activation spaces: an SAE's latent activations, placed by different explanations.

Axes: N samples, m latents, d dimensions.

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
- `described_placement`: each group of latents the geometry finder reports
  (sae.manifold_finder) keeps what a description of it says — its plane (the finder's
  reported plane, or the top two principal directions of its decoder rows), each latent's
  angle (its order around the circle) and radius in that plane, and the group's mean
  offset — laid out in a fresh random frame; every other latent, and every group's
  out-of-plane part, goes at random (explanation in words plus geometry).
A knockoff whose P equals D is the original reconstruction (the must-match control).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def _norms(decoder) -> np.ndarray:
    return np.linalg.norm(np.asarray(decoder, np.float64), axis=1)


def _random_units(rng: np.random.Generator, m: int, d: int) -> np.ndarray:
    rows = rng.normal(size=(m, d))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def reconstruction(codes, decoder, bias=None) -> np.ndarray:
    """x̂ = a(x) D + b, [N, d]."""
    out = np.asarray(codes, np.float64) @ np.asarray(decoder, np.float64)
    return out if bias is None else out + np.asarray(bias, np.float64)


def random_placement(rng: np.random.Generator, decoder) -> np.ndarray:
    """P [m, d]: random unit rows times the decoder's row norms."""
    decoder = np.asarray(decoder, np.float64)
    return _random_units(rng, *decoder.shape) * _norms(decoder)[:, None]


class CorrelationPlacement(NamedTuple):
    placement: np.ndarray  # [m, d]
    feasible: bool  # whether the Gram reproduces R exactly (rank R ≤ d)
    relative_error: float  # ‖G − R‖_F / ‖R‖_F of the unit-row Gram G


def correlation_placement(rng: np.random.Generator, codes, decoder) -> CorrelationPlacement:
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


def described_placement(rng: np.random.Generator, decoder, groups, planes=None) -> np.ndarray:
    """P [m, d] from a geometry description of `groups` (lists of latent indices; module docstring),
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


def place(codes, placement) -> np.ndarray:
    """x' = a(x) P, [N, d]."""
    return np.asarray(codes, np.float64) @ np.asarray(placement, np.float64)
