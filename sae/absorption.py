"""Feature absorption: does a parent's latent go silent exactly when a child fires too?

Axes: n samples, F true features, m latents.

Given the planted hierarchy as a parent array (parents[c] = index of c's parent, −1
for roots) and true codes c [n, F], each parent feature p (a feature with children)
is read by its best latent j(p) = argmax_j cos(t_p, D_j) (decoder cosine). On the
samples where p fires,
    recall_alone(p) = P(f_{j(p)} > 0 | p fires, none of its children fires),
    recall_child(p) = P(f_{j(p)} > 0 | p fires, at least one child fires),
and the absorption score is a(p) = recall_alone(p) − recall_child(p) ∈ [−1, 1]: 1
when the latent fires whenever the parent is alone and never when a child is present
(the child's latent has absorbed the parent), 0 when the latent does not care.

Across parents with at least `min_samples` samples of both kinds,
    absorption_rate = mean_p max(a(p), 0),   absorbed_share = #{p : a(p) ≥ ½} / #p.
The counts are additive, so they are accumulated over a streamed eval set.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

MIN_SAMPLES = 20  # a parent needs this many samples of each kind to be scored
ABSORBED = 0.5  # a(p) at or above this counts the parent as absorbed


class AbsorptionCounts(NamedTuple):
    """Additive per-feature counts, each [F] (zero for features without children)."""

    alone: jax.Array  # #(p fires, no child fires)
    alone_hit: jax.Array  # … and j(p) fires
    with_child: jax.Array  # #(p fires, a child fires)
    with_child_hit: jax.Array  # … and j(p) fires


def children_fire(fires: jax.Array, parents: jax.Array) -> jax.Array:
    """any_child [n, F]: whether at least one child of each feature fires (fires [n, F] bool)."""
    n_features = parents.shape[0]
    segment = jnp.where(parents >= 0, parents, n_features)  # roots go to a dropped extra segment
    per_parent = jax.ops.segment_max(fires.T.astype(jnp.int32), segment, num_segments=n_features + 1)
    return per_parent[:n_features].T > 0


def counts(latents: jax.Array, codes: jax.Array, parents: jax.Array, best_latent: jax.Array) -> AbsorptionCounts:
    """Counts for latents [n, m], true codes [n, F], parents [F] and j(p) = best_latent [F]."""
    fires = codes > 0
    any_child = children_fire(fires, parents)
    hit = latents[:, best_latent] > 0
    alone = fires & ~any_child
    with_child = fires & any_child
    return AbsorptionCounts(alone.sum(0), (alone & hit).sum(0), with_child.sum(0), (with_child & hit).sum(0))


def best_latents(true_features: jax.Array, decoder: jax.Array) -> jax.Array:
    """j(f) = argmax_j cos(t_f, D_j) for each true feature, [F] (signed cosine)."""
    t = true_features / jnp.linalg.norm(true_features, axis=-1, keepdims=True)
    w = decoder / jnp.maximum(jnp.linalg.norm(decoder, axis=-1, keepdims=True), 1e-12)
    return jnp.argmax(t @ w.T, axis=1)


class AbsorptionScores(NamedTuple):
    scores: np.ndarray  # a(p) per feature [F]; NaN where not scored
    rate: float  # mean_p max(a(p), 0) over scored parents
    absorbed_share: float  # share of scored parents with a(p) ≥ ABSORBED
    n_scored: int


def scores(total: AbsorptionCounts, min_samples: int = MIN_SAMPLES) -> AbsorptionScores:
    """a(p), the absorption rate and the absorbed share from accumulated counts."""
    alone = np.asarray(total.alone, np.float64)
    with_child = np.asarray(total.with_child, np.float64)
    scored = (alone >= min_samples) & (with_child >= min_samples)
    a = np.full(alone.shape, np.nan)
    a[scored] = (np.asarray(total.alone_hit)[scored] / alone[scored]
                 - np.asarray(total.with_child_hit)[scored] / with_child[scored])
    if not scored.any():
        return AbsorptionScores(a, float("nan"), float("nan"), 0)
    return AbsorptionScores(
        a, float(np.mean(np.maximum(a[scored], 0.0))), float(np.mean(a[scored] >= ABSORBED)), int(scored.sum())
    )
