"""Superposition as geometry: feature dimensionality and its bounds (Elhage et al. 2022).

Axes: m hidden dimensions, n features. W is [m, n]; column W_i is feature i's embedding.

Feature dimensionality
    D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)²,    Ŵ_i = W_i / ‖W_i‖,
is the share of a hidden dimension feature i owns: 1 for a feature with a dimension to
itself, 1/2 for an antipodal pair, 2/5 for a pentagon, 0 for a dropped feature. For
every W, 0 ≤ D_i ≤ 1 and Σ_i D_i ≤ rank W; a tight frame of k features in d
dimensions gives D_i = d/k.
"""

from __future__ import annotations

import jax.numpy as jnp


def feature_dimensionality(W, eps: float = 1e-12):
    """D_i for each column of W [m, n] → [n]; a zero column (dropped feature) gets 0."""
    W = jnp.asarray(W)
    norms_sq = jnp.sum(W**2, axis=0)  # [n]
    unit = W / jnp.sqrt(jnp.maximum(norms_sq, eps))  # Ŵ_i
    overlaps = unit.T @ W  # [n, n], (Ŵ_i · W_j)
    denominator = jnp.sum(overlaps**2, axis=1)
    return jnp.where(norms_sq > eps, norms_sq / jnp.maximum(denominator, eps), 0.0)


def tight_frame_dimensionality(d: int, k: int) -> float:
    """D_i = d/k for k features forming a tight frame in d dimensions."""
    return d / k
