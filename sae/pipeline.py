"""The one pipeline from a toy to scores: fit, baseline, encode, reconstruct, evaluate.

Shapes are in the signatures (jaxtyping): G dictionaries stacked on axis 0 (seeds ×
hyperparameters), n samples, d activation dimensions, m latents, F true features.

Experiments compose these pure functions; none of them re-implements a step.
- `fit(arch, toy, hps, keys, n_latents=…, …)`: train a stacked grid of G dictionaries
  on any toy (anything with `d` and `sample(key, n) -> Batch`), data drawn inside the
  compiled loop (`sae.train`).
- `baseline(kind, keys, d, m, …)`: G chance or reference dictionaries in the same
  pytree — "random" (Rademacher ±1/√d), "gaussian", "untrained", "darts", "pca",
  "oracle" (true features plus noise). A baseline is read the way the lab reads every
  chance dictionary: encoded by TopK with the trained dictionaries' k
  (`baseline_hparams`), so "chance" means one thing everywhere.
- `encode(arch, params, hps, x)` → latents [G, n, m]; `reconstruct(arch, params, hps,
  x)` → x̂ [G, n, d], through the architecture's own encoder and reconstruction
  (which undoes per-sample input scaling): the only reconstruction in the lab.
  x is [n, d] (every dictionary reads the same samples) or [G, n, d] (its own).
- `evaluate(arch, params, hps, toy | (x, codes), …)`: streamed, composable metrics
  (`sae.evaluate`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from sae import architectures, classical, random_dictionaries, train
from sae.architectures import HParams
from sae.evaluate import MIN_EVAL_SAMPLES, RECONSTRUCTION, evaluate, k_max_of
from sae.metrics import explained_variance_of
from sae.params import SAEParams, stack
from toys.engine.runtime import Runtime, or_default
from toys.engine.shapes import Keys, OneKey, Samples

BASELINE_KINDS = ("random", "gaussian", "untrained", "darts", "pca", "oracle")
FITTED_BASELINES = ("darts", "pca")  # fitted on a data sample
BASELINE_ARCH = "topk"  # how every baseline encodes: the k largest of ReLU(x Wᵀ), k = the trained k
BASELINE_FIT_SAMPLES = 20_000  # default size of the sample darts and PCA are fitted on

__all__ = [
    "BASELINE_ARCH",
    "BASELINE_KINDS",
    "MIN_EVAL_SAMPLES",
    "baseline",
    "baseline_hparams",
    "encode",
    "evaluate",
    "explained_variance",
    "fit",
    "reconstruct",
    "stack",
    "toy_activations",
]


def toy_activations(toy, key: OneKey, n: int) -> Float[Array, "n d"]:
    """The training stream of any toy: `toy.sample(key, n).x` (a sample_fn for sae.train)."""
    return toy.sample(key, n).x


def fit(
    arch: str,
    toy,
    hps: HParams,
    keys: Keys,
    *,
    n_latents: int,
    steps: int = 3000,
    batch_size: int = 1024,
    k_max: int | None = None,
    init_params: SAEParams | None = None,
    label: str | None = None,
    runtime: Runtime | None = None,
    **options,
) -> train.TrainResult:
    """Train G dictionaries of one architecture and size on a toy in one compiled call.

    hps [G] and keys [G]: one run each. k_max defaults to the largest k of the grid for
    architectures that use k. options: further `sae.train.TrainConfig` fields
    (decay_fraction, decoder_bias, per_run_data, …); with per_run_data the toy is a
    stacked pytree whose leading axis is G (run g samples from toy[g]). runtime: the run's
    devices, precision, data PRNG and progress (`toys.engine.runtime`; default `Runtime()`).
    """
    if k_max is None:
        k_max = k_max_of(arch, hps)
    config = train.TrainConfig(arch, toy.d, n_latents, steps=steps, batch_size=batch_size, k_max=k_max, **options)
    return train.train(config, toy_activations, toy, hps, keys, init_params, runtime=runtime, label=label or f"{arch} m={n_latents}")


def baseline_hparams(k: int, n: int) -> HParams:
    """HParams [n] under which baselines are encoded (TopK with k)."""
    return stack([architectures.hparams(k=k)] * n)


# --- the chance baseline, one way everywhere --------------------------------------------------
# Every score in the lab sits beside chance: random ±1/√d dictionaries of the same shape, read
# the way every baseline is read (TopK with the trained k). Studies call these, not the pieces.


def chance_reading(k: int, n: int) -> tuple[str, HParams]:
    """(architecture, HParams [n]) under which n baseline dictionaries are encoded: TopK with k."""
    return BASELINE_ARCH, baseline_hparams(k, n)


def chance_dictionaries(keys: Keys, d: int, m: int) -> SAEParams:
    """The chance baseline: one random ±1/√d dictionary of m atoms in R^d per key, stacked."""
    return baseline("random", keys, d, m)


def chance_codes(params: SAEParams, k: int, x: Samples) -> Float[Array, "G n m"]:
    """Codes of G baseline dictionaries on x, read as every baseline is (TopK with k)."""
    arch, hps = chance_reading(k, params.W_dec.shape[0])
    return encode(arch, params, hps, x)


def chance_scores(params: SAEParams, k: int, source, **evaluate_options) -> list[dict]:
    """`evaluate` of G baseline dictionaries read as every baseline is (TopK with k)."""
    arch, hps = chance_reading(k, params.W_dec.shape[0])
    return evaluate(arch, params, hps, source, **evaluate_options)


# Baselines drawn from a key alone are vmapped over the keys (the same draws as one call per key);
# the fitted ones (darts' least squares, PCA) and the oracle are built one per key.
_RANDOM_BASELINES = {
    "random": random_dictionaries.rademacher,
    "gaussian": random_dictionaries.gaussian,
    "untrained": random_dictionaries.untrained_sae,
}


def _one_baseline(kind: str, key, d: int, m: int, k: int | None, fit_sample, true_features, noise: float) -> SAEParams:
    if kind == "darts":
        return random_dictionaries.darts(key, fit_sample, m, k)
    if kind == "pca":
        return classical.pca(fit_sample, m)
    if kind == "oracle":
        return classical.oracle_plus_noise(key, jnp.asarray(true_features), m, noise)
    raise ValueError(f"baseline kind: got {kind!r}, allowed values {', '.join(BASELINE_KINDS)}")


def baseline(
    kind: str,
    keys: Keys,
    d: int,
    m: int,
    *,
    k: int | None = None,
    fit_sample=None,
    true_features=None,
    noise: float = 0.0,
) -> SAEParams:
    """G baseline dictionaries of m atoms in R^d, stacked (one per key in keys [G]).

    darts needs k and fit_sample [n, d] (its least-squares decoder is fitted there);
    pca needs fit_sample (and ignores the key: it is deterministic); oracle needs
    true_features [F, d] and a noise level σ (atom j = normalise(t_{j mod F} + σ g_j)).
    """
    if kind in FITTED_BASELINES and fit_sample is None:
        raise ValueError(f"baseline {kind!r} needs fit_sample (the data it is fitted on)")
    if kind == "darts" and k is None:
        raise ValueError("baseline 'darts' needs k")
    if kind == "oracle" and true_features is None:
        raise ValueError("baseline 'oracle' needs true_features")
    if kind in _RANDOM_BASELINES:
        return jax.vmap(lambda key: _RANDOM_BASELINES[kind](key, d, m))(keys)
    return stack([_one_baseline(kind, key, d, m, k, fit_sample, true_features, noise) for key in keys])


@functools.partial(jax.jit, static_argnames=("arch_name", "k_max"))
def _encode(arch_name: str, params: SAEParams, hps: HParams, x, k_max: int):
    arch = architectures.get(arch_name)
    one = lambda p, hp, xs: arch.encode(p, xs, hp, k_max)  # noqa: E731
    return jax.vmap(one, in_axes=(0, 0, 0 if x.ndim == 3 else None))(params, hps, x)


@functools.partial(jax.jit, static_argnames=("arch_name", "k_max"))
def _reconstruct(arch_name: str, params: SAEParams, hps: HParams, x, k_max: int):
    arch = architectures.get(arch_name)

    def one(p, hp, xs):
        return arch.reconstruct(p, xs, arch.encode(p, xs, hp, k_max))

    return jax.vmap(one, in_axes=(0, 0, 0 if x.ndim == 3 else None))(params, hps, x)


def encode(arch: str, params: SAEParams, hps: HParams, x: Samples) -> Float[Array, "G n m"]:
    """Latents of every dictionary of a stacked grid, on shared samples [n, d] or its own [G, n, d]."""
    return _encode(arch, params, hps, jnp.asarray(x), k_max_of(arch, hps))


def reconstruct(arch: str, params: SAEParams, hps: HParams, x: Samples) -> Float[Array, "G n d"]:
    """x̂ of every dictionary of a stacked grid, in the units of x (shared samples or its own)."""
    return _reconstruct(arch, params, hps, jnp.asarray(x), k_max_of(arch, hps))


def explained_variance(arch: str, params: SAEParams, hps: HParams, x: Samples) -> list[float]:
    """EV = 1 − Σ‖x − x̂‖² / Σ‖x − x̄‖² of each dictionary on x (shared samples or its own)."""
    x = np.asarray(x)
    x_hat = np.asarray(reconstruct(arch, params, hps, x))
    xs = x if x.ndim == 3 else np.broadcast_to(x, x_hat.shape)
    return [explained_variance_of(a, b) for a, b in zip(xs, x_hat)]


def calibrate_to_l0(
    arch: str,
    toy,
    base: HParams,
    coefficients,
    targets,
    key: OneKey,
    *,
    eval_key: OneKey,
    n_latents: int,
    steps: int,
    batch_size: int = 1024,
    n_eval: int = MIN_EVAL_SAMPLES,
    runtime: Runtime | None = None,
    **options,
) -> dict:
    """Penalty coefficients λ that give each target L0: a vmapped sweep in one call.

    One dictionary per λ in `coefficients` (the rest of `base` shared) trains in one
    compiled call; each one's L0 is measured on n_eval samples. L0 falls as λ grows, so
    for each target, log λ is interpolated linearly in log L0 between the two sweep
    points around it; a target outside the sweep's L0 range takes the nearest end and is
    listed in "outside". Returns {"coefficients", "l0", "chosen" {target: λ}, "outside"}.
    """
    coefficients = np.asarray(sorted(coefficients), np.float64)
    hps = stack([base._replace(l1_coefficient=float(c)) for c in coefficients])
    keys = jax.random.split(key, len(coefficients))
    result = fit(
        arch,
        toy,
        hps,
        keys,
        n_latents=n_latents,
        steps=steps,
        batch_size=batch_size,
        label=f"{arch}: calibrating λ over {len(coefficients)} values",
        runtime=runtime,
        **options,
    )
    with or_default(runtime).progress.task(f"{arch}: L0 of the calibration sweep"):
        scores = evaluate(arch, result.params, hps, toy, key=eval_key, n_eval=n_eval, metrics=(RECONSTRUCTION,))
    l0 = np.asarray([s["l0"] for s in scores])
    # monotone envelope: L0 should fall with λ; a noisy rise is flattened so the interpolation is defined
    falling = np.minimum.accumulate(np.maximum(l0, 1e-6))
    chosen, outside = {}, []
    for target in targets:
        log_l0, log_c = np.log(falling[::-1]), np.log(coefficients[::-1])  # increasing L0 for np.interp
        if not falling[-1] <= target <= falling[0]:
            outside.append(target)
        chosen[target] = float(np.exp(np.interp(np.log(target), log_l0, log_c)))
    return {"coefficients": coefficients.tolist(), "l0": l0.tolist(), "chosen": chosen, "outside": outside}
