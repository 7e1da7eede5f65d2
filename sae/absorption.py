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

Per planted edge p → c (`edges`), with the same latent j(p):
    recall_alone(p)        = P(f_{j(p)} > 0 | p fires, none of its children fires),
    recall_with_child(p, c) = P(f_{j(p)} > 0 | p fires and c fires),
    symptom_gap(p, c) = recall_alone(p) − recall_with_child(p, c) ∈ [−1, 1].
This is the **symptom** only — higher = the parent's latent drops out more when c fires —
and TopK competition for the k slots, or a parent split over several latents, drop it too.

**The absorbed rate** (toylab's own variant; the field's definition, SAEBench's calculator, is
`sae.absorption_saebench`): the parent's direction has moved into the child's latent. On the samples where p and c fire and j(p) is silent,
the sample counts as absorbed only when the child's own latent j(c) = argmax_j cos(t_c, D_j)
fires and carries the parent's direction, cos(D_{j(c)}, t_p) > τ, with j(c) ≠ j(p); τ is
the level a random dictionary reaches (`random_level`: the 99th percentile over directions
t of max_j |cos(t, R_j)| for a Gaussian dictionary R of the same m and d). Per edge,
    absorbed_rate(p, c) = #(p, c fire, j(p) silent, j(c) fires and carries t_p) / #(p, c fire).
A split parent (several latents along t_p, the child's latent along t_c) and TopK
competition (no latent carries t_p) raise the symptom, not the absorbed rate.

Each edge carries its raw counts (n_alone, n_alone_hit, n_with_child, n_with_child_hit,
n_absorbed); a recall with no samples behind it is None (JSON null), and so is the gap
then. The counts are additive, so they are accumulated over a streamed eval set.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sae.metrics import codes_on_at

MIN_SAMPLES = 20  # a parent needs this many samples of each kind to be scored
ABSORBED = 0.5  # a(p) at or above this counts the parent as absorbed


class AbsorptionCounts(NamedTuple):
    """Additive per-feature counts, each [F] (zero for features without children)."""

    alone: jax.Array  # #(p fires, no child fires)
    alone_hit: jax.Array  # … and j(p) fires
    with_child: jax.Array  # #(p fires, a child fires)
    with_child_hit: jax.Array  # … and j(p) fires
    edge_with_child: jax.Array  # per child c: #(parent(c) fires and c fires)
    edge_with_child_hit: jax.Array  # … and j(parent(c)) fires
    edge_absorbed: jax.Array  # … and j(parent(c)) silent while j(c) fires and carries t_parent(c)


def children_fire(fires: jax.Array, parents: jax.Array) -> jax.Array:
    """any_child [n, F]: whether at least one child of each feature fires (fires [n, F] bool)."""
    n_features = parents.shape[0]
    segment = jnp.where(parents >= 0, parents, n_features)  # roots go to a dropped extra segment
    per_parent = jax.ops.segment_max(fires.T.astype(jnp.int32), segment, num_segments=n_features + 1)
    return per_parent[:n_features].T > 0


def counts(latents: jax.Array, codes, parents: jax.Array, best_latent: jax.Array, carries: jax.Array | None = None) -> AbsorptionCounts:
    """Counts for latents [n, m], true codes [n, F] (dense, or sparse as `sae.metrics` reads
    them), parents [F], j(f) = best_latent [F] and carries [F] bool: whether j(c) carries the
    direction of c's parent (`carriers`; None: no latent does, nothing is absorbed proper)."""
    parents = jnp.asarray(parents)
    fires = codes_on_at(codes, jnp.arange(parents.shape[0]))
    any_child = children_fire(fires, parents)
    hit = latents[:, best_latent] > 0
    alone = fires & ~any_child
    with_child = fires & any_child
    has_parent = parents >= 0
    up = jnp.where(has_parent, parents, 0)
    both = fires & fires[:, up] & has_parent
    carries = jnp.zeros(parents.shape[0], bool) if carries is None else jnp.asarray(carries)
    absorbed = both & ~hit[:, up] & hit & carries[None, :]  # hit[:, c]: the child's own latent fires
    return AbsorptionCounts(
        alone.sum(0),
        (alone & hit).sum(0),
        with_child.sum(0),
        (with_child & hit).sum(0),
        both.sum(0),
        (both & hit[:, up]).sum(0),
        absorbed.sum(0),
    )


RANDOM_LEVEL_QUANTILE = 0.99
RANDOM_LEVEL_DIRECTIONS = 256


def random_level(m: int, d: int, key: jax.Array | None = None) -> jax.Array:
    """τ: the 99th percentile, over random unit directions t, of max_j |cos(t, R_j)| for a Gaussian
    dictionary R [m, d] (a fixed key: the same τ for every dictionary of this shape)."""
    key = jax.random.PRNGKey(0) if key is None else key
    key_dictionary, key_directions = jax.random.split(key)
    rows = jax.random.normal(key_dictionary, (m, d))
    directions = jax.random.normal(key_directions, (RANDOM_LEVEL_DIRECTIONS, d))
    cosine = (directions / jnp.linalg.norm(directions, axis=1, keepdims=True)) @ (rows / jnp.linalg.norm(rows, axis=1, keepdims=True)).T
    return jnp.quantile(jnp.max(jnp.abs(cosine), axis=1), RANDOM_LEVEL_QUANTILE)


def carriers(true_features: jax.Array, decoder: jax.Array, parents: jax.Array, best_latent: jax.Array) -> jax.Array:
    """carries [F] bool: the child c's latent j(c) carries its parent's direction, cos(D_{j(c)}, t_p) above
    the random level and j(c) ≠ j(p) (False for roots)."""
    parents = jnp.asarray(parents)
    t = true_features / jnp.linalg.norm(true_features, axis=-1, keepdims=True)
    w = decoder / jnp.maximum(jnp.linalg.norm(decoder, axis=-1, keepdims=True), 1e-12)
    up = jnp.where(parents >= 0, parents, 0)
    cosine = jnp.sum(w[best_latent] * t[up], axis=-1)  # cos(D_{j(c)}, t_{p(c)})
    tau = random_level(decoder.shape[0], decoder.shape[1])
    return (parents >= 0) & (cosine > tau) & (best_latent != best_latent[up])


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
    a[scored] = np.asarray(total.alone_hit)[scored] / alone[scored] - np.asarray(total.with_child_hit)[scored] / with_child[scored]
    if not scored.any():
        return AbsorptionScores(a, float("nan"), float("nan"), 0)
    return AbsorptionScores(a, float(np.mean(np.maximum(a[scored], 0.0))), float(np.mean(a[scored] >= ABSORBED)), int(scored.sum()))


def edges(total: AbsorptionCounts, parents) -> list[dict]:
    """One record per planted edge p → c (module docstring; higher = more absorbed):
    {"parent", "child", "recall_alone", "recall_with_child", "symptom_gap", "absorbed_rate", "n_alone",
    "n_alone_hit", "n_with_child", "n_with_child_hit", "n_absorbed"}; recalls without samples, and their
    gap, are None, and so is the absorbed rate without samples of both."""
    parents = np.asarray(parents)
    alone, alone_hit = np.asarray(total.alone), np.asarray(total.alone_hit)
    both, both_hit = np.asarray(total.edge_with_child), np.asarray(total.edge_with_child_hit)
    absorbed = np.asarray(total.edge_absorbed)
    records = []
    for child in np.flatnonzero(parents >= 0):
        parent = int(parents[child])
        n_alone, n_with = int(alone[parent]), int(both[child])
        recall_alone = alone_hit[parent] / n_alone if n_alone else None
        recall_with = both_hit[child] / n_with if n_with else None
        gap = None if recall_alone is None or recall_with is None else recall_alone - recall_with
        records.append(
            {
                "parent": parent,
                "child": int(child),
                "recall_alone": None if recall_alone is None else round(float(recall_alone), 4),
                "recall_with_child": None if recall_with is None else round(float(recall_with), 4),
                "symptom_gap": None if gap is None else round(float(gap), 4),
                "absorbed_rate": round(float(absorbed[child] / n_with), 4) if n_with else None,
                "n_alone": n_alone,
                "n_alone_hit": int(alone_hit[parent]),
                "n_with_child": n_with,
                "n_with_child_hit": int(both_hit[child]),
                "n_absorbed": int(absorbed[child]),
            }
        )
    return records


def edge_summary(records: list[dict], min_samples: int = MIN_SAMPLES) -> dict:
    """Over edges with at least `min_samples` samples of both kinds: how many, the mean symptom gap
    and the share with gap ≥ ABSORBED; the mean absorbed rate (toylab's variant) and the share of
    edges with absorbed rate ≥ ABSORBED; and how many edges had no samples of one kind at all."""
    kept = [r for r in records if r["n_alone"] >= min_samples and r["n_with_child"] >= min_samples]
    scored = [r["symptom_gap"] for r in kept]
    proper = [r["absorbed_rate"] for r in kept]
    return {
        "n_edges": len(records),
        "n_scored": len(scored),
        "mean_symptom_gap": float(np.mean(scored)) if scored else None,
        "symptom_edge_share": float(np.mean(np.asarray(scored) >= ABSORBED)) if scored else None,
        "mean_absorbed_rate": float(np.mean(proper)) if proper else None,
        "absorbed_edge_share": float(np.mean(np.asarray(proper) >= ABSORBED)) if proper else None,
        "n_unavailable": sum(r["symptom_gap"] is None for r in records),
    }
