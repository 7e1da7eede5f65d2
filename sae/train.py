"""One trainer for every SAE architecture: jit-compiled `lax.scan`s over steps, in segments.

Axes: G runs trained together (seeds × hyperparameters), b batch, d dims, m latents.

The data are sampled inside the scan from `sample_fn(data, key, b) -> x [b, d]`, a
pure function of a pytree `data` (for instance a toy), so nothing is materialised.
All runs share `data`, or (`per_run_data`) run g samples from `data[g]` — for
instance one dictionary per layer of a network, trained in the same call. Each run
draws its own batch inside the vmap over runs, or (`one_draw`) one call draws the G
batches together outside it (one large draw instead of G small ones).
The training batches are drawn with keys of the implementation `data_prng`: JAX's
default threefry, or the `rbg` / `unsafe_rbg` generators (cheaper on GPU/TPU, whose
hardware generator they use; about 3× slower on a CPU, so threefry stays the default).
Every quantity one may sweep (seed, learning rate, L1 coefficient, k) is traced: the
scan body is `jax.vmap` over the G runs, so a whole grid is one compiled call. Shapes,
step counts and the architecture are static (`TrainConfig`); calls with the same
TrainConfig and sample_fn reuse the compiled program. The steps run through the lab's one
segmented loop (`toys.engine.loop`: `SEGMENTS` compiled scans with the carry handed on, so
the numbers are those of a single scan while the host sees progress and stops a diverging
run at its step); this module writes the step.

Optimiser: Adam; the learning rate is constant, then decays linearly to 0 over the
last `decay_fraction` of steps. The L1 coefficient (where an architecture uses one)
warms up linearly over the first `l1_warmup_fraction` of steps. Decoder rows start at norm
`decoder_init_norm` and after each step are renormalised to unit norm (when
`unit_norm_decoder`, by default the architecture's `Architecture.unit_norm_decoder`: every one
but matching pursuit, whose rows SAELens leaves free; otherwise their norms are free and the
penalties weigh them); with `decoder_bias` off, b_dec is held at 0. Firing counts over training
are kept per latent, and
the number of steps since each latent last fired (for dead-latent detection).
With `compute_dtype` "bfloat16" the loss and its gradient run in bf16 on a cast copy of
the parameters and batch (parameters, Adam state and the reported loss stay f32; sums of
squared errors accumulate in f32), like SAELens' `autocast_sae`.
With `mesh_shape` (r, s) ≠ (1, 1) — planned from the runtime's devices when None —
the runs are split over r devices and each run's batch over s (`sae.sharding`).
AuxK (for architectures that declare it) is compiled in exactly when some run's
`HParams.aux_coefficient` is positive.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from sae import architectures, sharding
from sae.architectures import HParams
from sae.params import INITIAL_THRESHOLD, SAEParams, init, normalise_decoder, stack
from toys.engine import loop
from toys.engine.loop import SEGMENTS
from toys.engine.runtime import PRECISIONS, PRNGS, Runtime, or_default


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static settings: the architecture, shapes and step counts (a jit static argument)."""

    arch: str
    d: int
    n_latents: int
    steps: int = 3000
    batch_size: int = 1024
    k_max: int = 1
    decay_fraction: float = 0.2
    l1_warmup_fraction: float = 0.05
    unit_norm_decoder: bool | None = None  # None: the architecture's default (`Architecture.unit_norm_decoder`)
    decoder_init_norm: float = 1.0  # norm of the initial decoder rows (tied encoder); SAELens uses 0.1
    initial_threshold: float = INITIAL_THRESHOLD  # JumpReLU's starting θ
    dead_after_steps: int = 256  # a latent silent this long counts as dead (for AuxK)
    decoder_bias: bool = True  # False: b_dec stays 0 (exact toys whose theory has no bias)
    per_run_data: bool = False  # True: `data` has a leading [G] axis and run g samples from data[g]
    one_draw: bool = False  # True: each step draws G·b samples in one call, split into the G runs' batches
    compute_dtype: str | None = None  # "float32" or "bfloat16" (matmuls; parameters stay f32); None: the runtime's precision
    mesh_shape: tuple[int, int] | None = None  # (runs, batch) devices (sae.sharding); None: planned from the runtime's devices
    data_prng: str | None = None  # key implementation of the data draws ("threefry", "rbg", "unsafe_rbg"); None: the runtime's prng


COMPUTE_DTYPES = PRECISIONS
DATA_PRNGS = PRNGS


def data_key(key: jax.Array, implementation: str) -> jax.Array:
    """A key of the given implementation derived from `key` (itself when "threefry"): 128 bits
    drawn from `key` become the key data of an `rbg` / `unsafe_rbg` key."""
    if implementation == "threefry":
        return key
    return jax.random.wrap_key_data(jax.random.bits(key, (4,), jnp.uint32), impl=implementation)


class TrainResult(NamedTuple):
    """Stacked over G runs: params leaves [G, ...]; curves [steps, G]; counts [G, m]."""

    params: SAEParams
    loss: jax.Array
    mse: jax.Array
    l0: jax.Array
    fire_counts: jax.Array
    steps_since_fired: jax.Array


def _learning_rate_schedule(base_rate, config: TrainConfig):
    decay_start = int(config.steps * (1.0 - config.decay_fraction))
    decay_length = max(config.steps - decay_start, 1)

    def schedule(count):
        fraction_left = jnp.clip((config.steps - count) / decay_length, 0.0, 1.0)
        return base_rate * jnp.where(count < decay_start, 1.0, fraction_left)

    return schedule


def _optimizer(hp, config: TrainConfig):
    # Built inside the traced function so that each run's learning rate can differ.
    return optax.adam(_learning_rate_schedule(hp.learning_rate, config))


def _draw_batches(config: TrainConfig, sample_fn, data, run_keys: jax.Array) -> jax.Array:
    """The G runs' batches [G, b, d]: run g draws with run_keys[g] (from data[g] with per_run_data),
    or, with one_draw, one call with run_keys[0] draws all G·b samples."""
    if config.one_draw:
        runs = run_keys.shape[0]
        return sample_fn(data, run_keys[0], runs * config.batch_size).reshape(runs, config.batch_size, -1)
    data_axis = 0 if config.per_run_data else None
    return jax.vmap(lambda k, d: sample_fn(d, k, config.batch_size), in_axes=(0, data_axis))(run_keys, data)


@functools.partial(jax.jit, static_argnames=("config", "sample_fn"))
def _init_grid(config: TrainConfig, sample_fn, data, hps: HParams, keys: jax.Array, init_params):
    """The carry (params, Adam state, firing counts, steps since each latent fired) before step 0."""

    def init_one(hp, key, start, x):
        key_params, _ = jax.random.split(key)
        b_dec = jnp.mean(x, axis=0) if config.decoder_bias else None
        params = (
            init(key_params, config.d, config.n_latents, b_dec, config.decoder_init_norm, config.initial_threshold)
            if start is None
            else start
        )
        return params, _optimizer(hp, config).init(params)

    init_keys = jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys)
    first = _draw_batches(config, sample_fn, data, jax.vmap(lambda k: jax.random.split(k)[1])(init_keys))
    params, opt_state = jax.vmap(init_one)(hps, init_keys, init_params, first)
    counts = jnp.zeros((keys.shape[0], config.n_latents), jnp.int32)
    return params, opt_state, counts, counts


def _train_step(context, carry, inputs, step):
    """One step of every run (`toys.engine.loop`'s step): context (config, sample_fn, auxk) is static,
    inputs (data, hps, keys) traced; returns (carry, (loss, mse, l0) [G])."""
    config, sample_fn, auxk = context
    data, hps, keys = inputs
    arch = architectures.get(config.arch)
    warmup_steps = max(int(config.steps * config.l1_warmup_fraction), 1)

    compute = jnp.dtype(config.compute_dtype or "float32")
    unit_norm = arch.unit_norm_decoder if config.unit_norm_decoder is None else config.unit_norm_decoder

    def loss(params, x, hp, dead):
        # Mixed precision: the forward and backward passes run on a `compute` copy of the
        # parameters and the batch; the gradient arrives in f32 (through the cast) and
        # Adam's state and the parameters stay f32.
        if compute != jnp.float32:
            params, x = jax.tree.map(lambda a: a.astype(compute), (params, x))
        total, aux = arch.loss(params, x, hp, config.k_max, dead)
        return total.astype(jnp.float32), aux

    def step_one(params, opt_state, hp, x, since_fired, step):
        # The sparsity penalty ramps up linearly at the start, so that the dictionary first
        # learns to reconstruct instead of switching every latent off at once.
        hp = hp._replace(l1_coefficient=hp.l1_coefficient * jnp.minimum((step + 1) / warmup_steps, 1.0))
        # AuxK costs a second top-k per step, so it is compiled in only when some run asks for it.
        dead = since_fired >= config.dead_after_steps if auxk else None
        (total, aux), grads = jax.value_and_grad(loss, has_aux=True)(params, x, hp, dead)
        updates, opt_state = _optimizer(hp, config).update(grads, opt_state, params)
        params = arch.after_step(optax.apply_updates(params, updates), aux)
        if not config.decoder_bias:
            params = params.replace(b_dec=jnp.zeros_like(params.b_dec))
        if unit_norm:
            params = normalise_decoder(params)
        return params, opt_state, total, aux.mse, aux.l0, aux.fired

    data_keys = jax.vmap(lambda k: data_key(jax.random.fold_in(k, 1), config.data_prng or "threefry"))(keys)
    grid_mesh = sharding.mesh(config.mesh_shape) if config.mesh_shape not in (None, (1, 1)) else None

    def batches(step):
        x = _draw_batches(config, sample_fn, data, jax.vmap(lambda k: jax.random.fold_in(k, step))(data_keys))
        return x if grid_mesh is None else sharding.batches(grid_mesh, x)

    params, opt_state, fire_counts, since_fired = carry
    params, opt_state, total, mse, l0, fired = jax.vmap(step_one, in_axes=(0, 0, 0, 0, 0, None))(
        params, opt_state, hps, batches(step), since_fired, step
    )
    since_fired = jnp.where(fired > 0, 0, since_fired + 1)
    carry = (params, opt_state, fire_counts + fired, since_fired)
    return (carry if grid_mesh is None else sharding.over_runs(grid_mesh, carry)), (total, mse, l0)


def train(
    config: TrainConfig,
    sample_fn: Callable[..., jax.Array],
    data,
    hps: HParams,
    keys: jax.Array,
    init_params: SAEParams | None = None,
    segments: int = SEGMENTS,
    runtime: Runtime | None = None,
    label: str | None = None,
) -> TrainResult:
    """Train G dictionaries in one compiled program, run in `segments` host-visible segments.

    hps: HParams with leaves [G]; keys: [G] PRNG keys (one per run); sample_fn must be
    a module-level function (it is a static argument, hashed by identity);
    init_params: optional starting dictionaries with leaves [G, ...] (default: `sae.params.init`);
    runtime: devices, precision and data PRNG of fields left None, and progress (default `Runtime()`);
    label: names the training in progress and in a DivergenceError (default "<arch> SAE (m=…)").
    Each segment is one `lax.scan` over its steps, the carry passed from one to the next, so
    the numbers equal one scan over all steps; between segments the host reports progress
    and stops a diverging run at the first segment with a NaN/inf loss.
    Raises progress.DivergenceError naming the first step whose loss is NaN/inf.
    """
    arch = architectures.get(config.arch)
    k = np.asarray(hps.k)
    if arch.uses_k and (k.min() < 1 or k.max() > config.k_max or config.k_max > config.n_latents):
        raise ValueError(f"k must lie in [1, k_max={config.k_max}] and k_max ≤ n_latents={config.n_latents}")
    # AuxK has one switch: a positive aux_coefficient in some run (an architecture without AuxK refuses it).
    auxk = bool(np.max(np.asarray(hps.aux_coefficient)) > 0)
    if auxk and not arch.auxk:
        raise ValueError(f"aux_coefficient: {config.arch} has no AuxK loss; allowed value 0")
    runtime = or_default(runtime)
    if config.mesh_shape is None:
        config = dataclasses.replace(config, mesh_shape=sharding.plan(keys.shape[0], config.batch_size, runtime.devices))
    runtime.record_plan(config.mesh_shape, keys.shape[0], config.batch_size)
    config = dataclasses.replace(
        config, compute_dtype=config.compute_dtype or runtime.precision, data_prng=config.data_prng or runtime.prng
    )
    carry = _init_grid(config, sample_fn, data, hps, keys, init_params)
    if config.mesh_shape != (1, 1):  # the run axis over devices (sae.sharding); batches follow inside
        grid_mesh = sharding.mesh(config.mesh_shape)
        carry, hps, keys = sharding.over_runs(grid_mesh, (carry, hps, keys))
        if config.per_run_data:
            data = sharding.over_runs(grid_mesh, data)
    carry, curves = loop.run(
        _train_step,
        (config, sample_fn, auxk),
        carry,
        (data, hps, keys),
        config.steps,
        what=label or f"{config.arch} SAE (m={config.n_latents})",
        runtime=runtime,
        segments=segments,
        fetch=sharding.to_host,
    )
    params, _, fire_counts, since_fired = carry
    if jax.process_count() > 1:  # every host gets the whole grid (sae.sharding.to_host)
        params, fire_counts, since_fired = jax.tree.map(jnp.asarray, sharding.to_host((params, fire_counts, since_fired)))
    loss, mse, l0 = (jnp.asarray(curve) for curve in curves)
    return TrainResult(params, loss, mse, l0, fire_counts, since_fired)


stack_hparams = stack  # per-run HParams → one HParams with a leading [G] axis (sae.params.stack)
