"""Score dictionaries against the truth on a streamed eval set.

Axes: G dictionaries of one shape, n eval samples (in chunks), F true features,
m latents, d dims.

`evaluate` draws n_eval samples chunk by chunk from `sample_fn(data, key, n) ->
(x [n, d], codes [n, F])` inside one jit-compiled `lax.scan`, encodes them with every
dictionary of a stacked grid at once (`jax.vmap`), accumulates the additive counts
and sums of `sae.metrics`, and turns them into the scores defined there. Every
dictionary sees the same eval samples. Nothing here knows about toys: it takes a
sampling function and arrays.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from sae import absorption, architectures, metrics
from sae.architectures import HParams
from sae.params import SAEParams

MIN_EVAL_SAMPLES = 100_000  # dead latents are judged on at least this many samples


@functools.partial(jax.jit, static_argnames=("arch_name", "sample_fn", "n_chunks", "chunk", "k_max"))
def _accumulate(arch_name, sample_fn, data, params, hps, true_features, parents, key, n_chunks, chunk, k_max):
    arch = architectures.get(arch_name)
    assignment = jax.vmap(lambda p: metrics.best_feature(metrics.abs_cosine(true_features, p.W_dec)))(params)
    parent_latents = jax.vmap(lambda p: absorption.best_latents(true_features, p.W_dec))(params)

    def stats_one(p, hp, a, j, x, codes):
        f = arch.encode(p, x, hp, k_max)
        x_hat = arch.reconstruct(p, x, f)
        stats = (metrics.firing_counts(f, codes, a), metrics.reconstruction_sums(x, x_hat, f, codes))
        if parents is None:
            return stats
        return (*stats, absorption.counts(f, codes, parents, j))

    stats_all = jax.vmap(stats_one, in_axes=(0, 0, 0, 0, None, None))

    def body(totals, index):
        x, codes = sample_fn(data, jax.random.fold_in(key, index), chunk)
        stats = stats_all(params, hps, assignment, parent_latents, x, codes)
        return jax.tree.map(jnp.add, totals, stats), None

    zeros = jax.eval_shape(lambda: stats_all(params, hps, assignment, parent_latents, *sample_fn(data, key, chunk)))
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), zeros)
    totals, _ = jax.lax.scan(body, zeros, jnp.arange(n_chunks))
    return totals


def evaluate(
    arch_name: str,
    params: SAEParams,
    hps: HParams,
    sample_fn,
    data,
    true_features,
    key: jax.Array,
    n_eval: int = MIN_EVAL_SAMPLES,
    chunk: int = 10_000,
    k_max: int = 1,
    parents=None,
) -> list[dict]:
    """Scores for each of G dictionaries (params and hps stacked on axis 0).

    Returns one dict per dictionary with mmcs, mcc, uniqueness, precision, recall, f1,
    explained_variance, l0, true_l0, dead_fraction, shrinkage; given the planted
    hierarchy (parents [F], −1 for roots) also absorption_rate, absorbed_share and
    absorption_scores (a(p) per feature, None where not scored; see sae.absorption).
    n_eval is rounded up to whole chunks.
    """
    n_chunks = -(-n_eval // chunk)
    totals = _accumulate(arch_name, sample_fn, data, params, hps, true_features, parents, key, n_chunks, chunk, k_max)
    counts, sums = totals[:2]
    cosines = np.asarray(jax.vmap(lambda p: metrics.abs_cosine(true_features, p.W_dec))(params))
    results = []
    for g in range(cosines.shape[0]):
        counts_g = jax.tree.map(lambda a: np.asarray(a[g]), counts)
        sums_g = jax.tree.map(lambda a: np.asarray(a[g]), sums)
        live = counts_g.latent_fires > 0
        detection = metrics.detection_scores(counts_g)
        n = float(sums_g.n)
        results.append(
            {
                "mmcs": metrics.mmcs(cosines[g]),
                "mcc": metrics.mcc(cosines[g]),
                "uniqueness": metrics.uniqueness(cosines[g], live),
                "precision": detection.precision,
                "recall": detection.recall,
                "f1": detection.f1,
                "explained_variance": metrics.explained_variance(sums_g),
                "l0": float(sums_g.latent_l0) / n,
                "true_l0": float(sums_g.true_l0) / n,
                "dead_fraction": float(1.0 - live.mean()),
                "shrinkage": metrics.shrinkage(sums_g),
            }
        )
        if parents is not None:
            absorbed = absorption.scores(jax.tree.map(lambda a: np.asarray(a[g]), totals[2]))
            results[-1].update(
                absorption_rate=absorbed.rate,
                absorbed_share=absorbed.absorbed_share,
                absorption_scores=[None if np.isnan(a) else round(float(a), 4) for a in absorbed.scores],
            )
    return results


@functools.partial(jax.jit, static_argnames=("arch_name", "k_max"))
def encode_grid(arch_name: str, params: SAEParams, hps: HParams, x, k_max: int):
    """Latent codes of every dictionary of a stacked grid on the same samples x [n, d] → [G, n, m]."""
    arch = architectures.get(arch_name)
    return jax.vmap(lambda p, hp: arch.encode(p, x, hp, k_max))(params, hps)


@functools.partial(jax.jit, static_argnames=("arch_name", "k_max"))
def encode_each(arch_name: str, params: SAEParams, hps: HParams, xs, k_max: int):
    """Dictionary g of a stacked grid encodes its own samples xs[g]: xs [G, n, d] → [G, n, m]."""
    arch = architectures.get(arch_name)
    return jax.vmap(lambda p, hp, x: arch.encode(p, x, hp, k_max))(params, hps, xs)
