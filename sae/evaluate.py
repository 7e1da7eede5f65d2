"""Score dictionaries against the truth on a streamed eval set, with composable metrics.

Axes: G dictionaries of one shape, n eval samples (in chunks), F true features,
m latents, d dims.

`evaluate` reads its eval samples from a *source*: a toy (anything with
`sample(key, n) -> Batch`, drawn chunk by chunk inside one jit-compiled `lax.scan`, so
nothing is materialised) or stored arrays `(x [N, d], codes [N, F] | None)`, read in
fixed chunks (the last, shorter chunk in a second call). Every dictionary of a stacked
grid encodes the same samples (`jax.vmap`) through its architecture's own encoder and
reconstruction (`Architecture.reconstruct`, which undoes per-sample input scaling).

A metric is one `StreamedMetric` (as optax builds transformations from small pieces):
- `prepare(params, truth)`: per-dictionary constants, traced (e.g. each latent's best
  true feature);
- `accumulate(prepared, evaluated, truth)`: additive statistics of one chunk (a pytree);
- `finalize(total, params, truth)`: the scores (a dict), on the host, from the totals.
A new metric is one such object; `evaluate(..., metrics=[...])` composes them.
The definitions of the scores are in `sae.metrics` and `sae.absorption`.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sae import absorption, architectures, metrics
from sae.architectures import HParams
from sae.params import SAEParams

MIN_EVAL_SAMPLES = 100_000  # dead latents are judged on at least this many samples


class Truth(NamedTuple):
    """Static truth a metric may read: true features [F, d], the parent array [F] (−1 roots), and
    planted circles' spans [M, r, d] (orthonormal rows: circle i's plane and its offset direction,
    `toys.manifolds.subspace`; in the order the toy samples them)."""

    features: Any = None
    parents: Any = None
    spans: Any = None


class Evaluated(NamedTuple):
    """One dictionary on one chunk: x, x̂ [n, d], latents f [n, m], true codes [n, F] (or None), and
    the samples' own truth (the toy's `Batch.truth`, e.g. {"present" [n, M], "phases" [n, M, 2]}; None
    for stored arrays)."""

    x: jax.Array
    x_hat: jax.Array
    latents: jax.Array
    codes: Any
    sample_truth: Any = None


class StreamedMetric(NamedTuple):
    """A metric in three pure pieces (see the module docstring) and what it needs."""

    name: str
    needs: tuple[str, ...]  # of "codes", "features", "parents", "spans" (with per-sample phases)
    prepare: Callable  # (params, truth) → constants
    accumulate: Callable  # (constants, Evaluated, truth) → additive pytree
    finalize: Callable  # (totals as NumPy, params as NumPy, truth) → dict


def _nothing(params, truth):
    return ()


def _no_totals(prepared, ev, truth):
    return ()


# --- the metrics --------------------------------------------------------------------


def _reconstruction_accumulate(prepared, ev, truth):
    codes = ev.codes if ev.codes is not None else jnp.zeros((ev.x.shape[0], 0))  # dense or sparse
    return metrics.reconstruction_sums(ev.x, ev.x_hat, ev.latents, codes)


def _reconstruction_finalize(sums, params, truth):
    n = float(sums.n)
    return {
        "explained_variance": metrics.explained_variance(sums),
        "l0": float(sums.latent_l0) / n,
        "shrinkage": metrics.shrinkage(sums),
    }


RECONSTRUCTION = StreamedMetric("reconstruction", (), _nothing, _reconstruction_accumulate, _reconstruction_finalize)


def _true_l0_accumulate(prepared, ev, truth):
    return jnp.float32(ev.x.shape[0]), metrics.codes_active_count(ev.codes).astype(jnp.float32)


TRUE_L0 = StreamedMetric("true_l0", ("codes",), _nothing, _true_l0_accumulate, lambda t, p, truth: {"true_l0": float(t[1]) / float(t[0])})


def _dead_finalize(fires, params, truth):
    return {"dead_fraction": float(1.0 - np.mean(fires > 0))}


DEAD = StreamedMetric("dead", (), _nothing, lambda prepared, ev, truth: jnp.sum(ev.latents > 0, axis=0), _dead_finalize)


def _decoder_finalize(totals, params, truth):
    C = np.asarray(metrics.abs_cosine(truth.features, params.W_dec))
    return {"mmcs": metrics.mmcs(C), "mcc": metrics.mcc(C)}


DECODER = StreamedMetric("decoder", ("features",), _nothing, _no_totals, _decoder_finalize)


def _detection_prepare(params, truth):
    return metrics.best_feature(metrics.abs_cosine(truth.features, params.W_dec))


def _detection_finalize(counts, params, truth):
    C = np.asarray(metrics.abs_cosine(truth.features, params.W_dec))
    live = np.asarray(counts.latent_fires) > 0
    detection = metrics.detection_scores(counts)
    return {
        "uniqueness": metrics.uniqueness(C),
        "uniqueness_live": metrics.uniqueness_live(C, live),
        **detection._asdict(),
    }


DETECTION = StreamedMetric(
    "detection",
    ("codes", "features"),
    _detection_prepare,
    lambda assignment, ev, truth: metrics.firing_counts(ev.latents, ev.codes, assignment),
    _detection_finalize,
)


def _absorption_prepare(params, truth):
    best = absorption.best_latents(truth.features, params.W_dec)
    return best, absorption.carriers(truth.features, params.W_dec, truth.parents, best)


def _absorption_finalize(counts, params, truth):
    absorbed = absorption.scores(counts)
    return {
        "absorption_rate": absorbed.rate,
        "absorbed_share": absorbed.absorbed_share,
        "absorption_scores": [None if np.isnan(a) else round(float(a), 4) for a in absorbed.scores],
        "edge_absorption": absorption.edges(counts, truth.parents),
    }


ABSORPTION = StreamedMetric(
    "absorption",
    ("codes", "features", "parents"),
    _absorption_prepare,
    lambda prepared, ev, truth: absorption.counts(ev.latents, ev.codes, truth.parents, *prepared),
    _absorption_finalize,
)


def _phase_sums(prepared, ev, truth):
    on = ev.sample_truth["present"].T.astype(jnp.float32)  # [M, n]
    theta = ev.sample_truth["phases"][..., 0].T  # [M, n]
    a, fires = ev.latents, (ev.latents > 0).astype(jnp.float32)
    return {
        "weight": on @ a,
        "cos": (on * jnp.cos(theta)) @ a,
        "sin": (on * jnp.sin(theta)) @ a,
        "fires_on": on @ fires,
        "fires": jnp.sum(fires, axis=0),
    }


def _circle_spans_finalize(sums, params, truth):
    spans = np.asarray(truth.spans, np.float64)
    rows = np.asarray(params.W_dec, np.float64)
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    energy = np.sum(np.einsum("ird,md->imr", spans, rows) ** 2, axis=-1)  # [M, m]
    live = np.asarray(sums["fires"]) > 0
    out = []
    for i in range(spans.shape[0]):
        group = live & (energy[i] >= metrics.ON_PLANE_SHARE)
        weight = np.asarray(sums["weight"][i])[group]
        cos, sin = np.asarray(sums["cos"][i])[group], np.asarray(sums["sin"][i])[group]
        fired = weight > 0
        phases = np.arctan2(sin[fired], cos[fired])
        out.append(
            {
                "span_latents": int(group.sum()),
                "span_best_share": float(energy[i][live].max()) if live.any() else 0.0,
                "phase_max_gap_deg": metrics.max_circular_gap_deg(phases),
                "phase_tuning": float(np.mean(np.hypot(cos[fired], sin[fired]) / weight[fired])) if fired.any() else None,
                "selectivity": (
                    float(np.mean(np.asarray(sums["fires_on"][i])[group] / np.asarray(sums["fires"])[group])) if group.any() else None
                ),
            }
        )
    return {"circles": out}


CIRCLES = StreamedMetric("circles", ("spans",), _nothing, _phase_sums, _circle_spans_finalize)
"""Circle recovery scored as MMCS is: per planted circle i (Truth.spans: its plane and offset
direction), from the decoder and the streamed samples — `span_latents`: live latents with ≥ ½ of
their row's energy in the span (the SAE's own circle group, as `sae.readers.geometry.on_manifold`);
`span_best_share`: the largest such share over live latents; and over
that group, from the streamed sums of a_j·e^{iθ} on samples carrying the circle: each latent's
preferred phase φ_j = arg Σ a_j e^{iθ}, `phase_max_gap_deg` (the largest circular gap between the
φ_j: 360 with fewer than two; small = the group tiles the circle), `phase_tuning` (mean resultant
|Σ a_j e^{iθ}| / Σ a_j: 1 = fires at one phase, 0 = evenly around) and `selectivity` (mean share
of a latent's firings on samples that carry the circle)."""


DEFAULT_METRICS = (DECODER, DETECTION, RECONSTRUCTION, TRUE_L0, DEAD, ABSORPTION)


def applicable(chosen, truth: Truth, has_codes: bool) -> tuple[StreamedMetric, ...]:
    """The metrics whose needs the source and truth meet."""
    available = {
        "codes": has_codes,
        "features": truth.features is not None,
        "parents": truth.parents is not None,
        "spans": truth.spans is not None,
    }
    return tuple(metric for metric in chosen if all(available[need] for need in metric.needs))


# --- the streamed loop --------------------------------------------------------------


def _toy_chunk(toy, key, index, chunk):
    batch = toy.sample(jax.random.fold_in(key, index), chunk)
    return batch.x, batch.codes, batch.truth


def _stored_chunk(arrays, key, index, chunk):
    x, codes = arrays
    take = lambda a: None if a is None else jax.lax.dynamic_slice_in_dim(a, index * chunk, chunk)  # noqa: E731
    return take(x), take(codes), None


@functools.partial(jax.jit, static_argnames=("arch_name", "chosen", "chunk_fn", "n_chunks", "chunk", "k_max"))
def _accumulate(arch_name, chosen, chunk_fn, source, params, hps, truth, key, n_chunks, chunk, k_max):
    arch = architectures.get(arch_name)

    def one(p, hp, x, codes, sample_truth):
        prepared = [metric.prepare(p, truth) for metric in chosen]
        f = arch.encode(p, x, hp, k_max)
        ev = Evaluated(x, arch.reconstruct(p, x, f), f, codes, sample_truth)
        return tuple(metric.accumulate(constants, ev, truth) for metric, constants in zip(chosen, prepared))

    every = jax.vmap(one, in_axes=(0, 0, None, None, None))

    def body(totals, index):
        return jax.tree.map(jnp.add, totals, every(params, hps, *chunk_fn(source, key, index, chunk))), None

    shapes = jax.eval_shape(lambda: every(params, hps, *chunk_fn(source, key, 0, chunk)))
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    totals, _ = jax.lax.scan(body, zeros, jnp.arange(n_chunks))
    return totals


def _is_toy(source) -> bool:
    return hasattr(source, "sample") and hasattr(source, "d")


def k_max_of(arch_name: str, hps: HParams) -> int:
    """The static top-k width an encoder needs: max k over the grid for k architectures, else 1."""
    return int(np.max(np.asarray(hps.k))) if architectures.get(arch_name).uses_k else 1


def evaluate(
    arch_name: str,
    params: SAEParams,
    hps: HParams,
    source,
    *,
    key: jax.Array | None = None,
    n_eval: int = MIN_EVAL_SAMPLES,
    chunk: int = 10_000,
    true_features=None,
    parents=None,
    spans=None,
    metrics: tuple[StreamedMetric, ...] = DEFAULT_METRICS,
) -> list[dict]:
    """Scores for each of G dictionaries (params and hps stacked on axis 0).

    source: a toy (n_eval fresh samples from `key`, rounded up to whole chunks) or
    stored arrays `(x, codes)` / `(x,)` (every row once; key unused).
    true_features default to the toy's `features`; parents (the planted hierarchy)
    switch on the absorption metric. Metrics whose needs are not met (no codes, no
    features, no parents) are skipped. With the defaults a dict holds mmcs, mcc,
    uniqueness(_live), precision(_live), recall(_live), f1(_live), explained_variance,
    l0, true_l0, dead_fraction, shrinkage, and with parents absorption_rate,
    absorbed_share, absorption_scores (a(p) per feature, None where not scored) and
    edge_absorption (one record per planted edge, `sae.absorption.edges`). spans [M, r, d] (a
    manifold toy's circles: `toys.manifolds.subspace`) with `metrics=(CIRCLES,)` score circle
    recovery the same way (`CIRCLES`; a toy source only: it reads each sample's phases).
    """
    if true_features is None:
        true_features = getattr(source, "features", None)
    truth = Truth(
        None if true_features is None else jnp.asarray(true_features),
        None if parents is None else jnp.asarray(parents),
        None if spans is None else jnp.asarray(spans, jnp.float32),
    )
    k_max = k_max_of(arch_name, hps)
    if _is_toy(source):
        if key is None:
            raise ValueError("key: a toy source needs a PRNG key")
        has_codes = jax.eval_shape(lambda: source.sample(jax.random.key(0), 1)).codes is not None
        chosen = applicable(metrics, truth, has_codes)
        n_chunks = -(-n_eval // chunk)
        parts = [_accumulate(arch_name, chosen, _toy_chunk, source, params, hps, truth, key, n_chunks, chunk, k_max)]
    else:
        x = jnp.asarray(source[0], jnp.float32)
        codes = None if len(source) < 2 or source[1] is None else jnp.asarray(source[1], jnp.float32)
        chosen = applicable(metrics, truth, codes is not None)
        chunk = min(chunk, x.shape[0])
        whole, rest = divmod(x.shape[0], chunk)
        key = jax.random.key(0)  # unused by stored chunks
        parts = [_accumulate(arch_name, chosen, _stored_chunk, (x, codes), params, hps, truth, key, whole, chunk, k_max)]
        if rest:
            tail = (x[whole * chunk :], None if codes is None else codes[whole * chunk :])
            parts.append(_accumulate(arch_name, chosen, _stored_chunk, tail, params, hps, truth, key, 1, rest, k_max))
    totals = jax.tree.map(lambda *leaves: sum(np.asarray(leaf) for leaf in leaves), *parts)
    n_dictionaries = jax.tree.leaves(params)[0].shape[0]
    results = []
    for g in range(n_dictionaries):
        params_g = jax.tree.map(lambda a, g=g: np.asarray(a[g]), params)
        scores: dict = {}
        for metric, total in zip(chosen, totals):
            scores.update(metric.finalize(jax.tree.map(lambda a, g=g: a[g], total), params_g, truth))
        results.append(scores)
    return results
