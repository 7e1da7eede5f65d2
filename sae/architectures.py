"""SAE architectures: each is an `encode`/`loss` pair over the same SAEParams pytree.

Axes: b batch, d activation dimensions, m latents.

All share the affine decoder x̂ = f W_dec + b_dec and the pre-activation
    a = (x − b_dec) W_enc + b_enc.
Hyperparameters that one may sweep arrive as traced `HParams`, so one compiled
training run serves a whole vmapped grid.

- ``relu`` (ReLU + L1): f = ReLU(a);
  L = mean_b ‖x − x̂‖² + λ · mean_b Σ_j f_j ‖W_dec,j‖ (the penalty is weighted by
  decoder row norms so it cannot be dodged by shrinking f and growing W_dec).
- ``topk``: f keeps the k largest entries of ReLU(a) per sample, zeros the rest;
  L = mean_b ‖x − x̂‖². k is traced: the top `k_max` (static) are computed and
  ranks ≥ k masked out. Training decodes from the k gathered decoder rows only.

`encode` gives dense latents [b, m] (for evaluation); `loss` gives the training loss
and an `Aux` (mse, L0, per-latent firing counts).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from sae.params import SAEParams


class HParams(NamedTuple):
    """Traced hyperparameters of one training run (scalars; a grid stacks them on axis 0)."""

    learning_rate: jax.Array
    l1_coefficient: jax.Array
    k: jax.Array


def hparams(learning_rate=1e-3, l1_coefficient=0.0, k=1) -> HParams:
    return HParams(jnp.float32(learning_rate), jnp.float32(l1_coefficient), jnp.int32(k))


class Aux(NamedTuple):
    """What a training step keeps besides the loss: mse, mean L0 and per-latent firings [m]."""

    mse: jax.Array
    l0: jax.Array
    fired: jax.Array


class Architecture(NamedTuple):
    name: str
    encode: Callable[[SAEParams, jax.Array, HParams, int], jax.Array]  # (params, x [b,d], hp, k_max) → f [b,m]
    loss: Callable[[SAEParams, jax.Array, HParams, int], tuple[jax.Array, Aux]]  # (params, x, hp, k_max)


def pre_activation(params: SAEParams, x: jax.Array) -> jax.Array:
    """a = (x − b_dec) W_enc + b_enc, [b, m]."""
    return (x - params.b_dec) @ params.W_enc + params.b_enc


def decode(params: SAEParams, f: jax.Array) -> jax.Array:
    """x̂ = f W_dec + b_dec, [b, d]."""
    return f @ params.W_dec + params.b_dec


def squared_error(x: jax.Array, x_hat: jax.Array) -> jax.Array:
    """mean_b ‖x − x̂‖²."""
    return jnp.mean(jnp.sum((x - x_hat) ** 2, axis=-1))


def _dense_aux(x, x_hat, f) -> Aux:
    active = f > 0
    return Aux(squared_error(x, x_hat), jnp.mean(jnp.sum(active, axis=-1)), jnp.sum(active, axis=0))


def top_k(values: jax.Array, k: jax.Array, k_max: int) -> tuple[jax.Array, jax.Array]:
    """Each row's k_max largest entries and their indices, [b, k_max]; ranks ≥ k (traced) zeroed."""
    top_values, top_index = jax.lax.top_k(values, k_max)
    return jnp.where(jnp.arange(k_max) < k, top_values, 0.0), top_index


def scatter_rows(values: jax.Array, index: jax.Array, m: int) -> jax.Array:
    """Dense [b, m] from per-row (values, indices) [b, k]."""
    rows = jnp.arange(values.shape[0])[:, None]
    return jnp.zeros((values.shape[0], m), values.dtype).at[rows, index].set(values)


def _relu_encode(params, x, hp, k_max):
    return jax.nn.relu(pre_activation(params, x))


def _relu_loss(params, x, hp, k_max):
    f = _relu_encode(params, x, hp, k_max)
    x_hat = decode(params, f)
    penalty = hp.l1_coefficient * jnp.mean(f @ jnp.linalg.norm(params.W_dec, axis=-1))
    return squared_error(x, x_hat) + penalty, _dense_aux(x, x_hat, f)


def _topk_encode(params, x, hp, k_max):
    values, index = top_k(jax.nn.relu(pre_activation(params, x)), hp.k, k_max)
    return scatter_rows(values, index, params.n_latents)


def _topk_loss(params, x, hp, k_max):
    # Select the active latents on a dense pass without gradient, then recompute only
    # those k pre-activations and decode from the k gathered rows: the backward pass
    # costs O(b·k·d) instead of two dense [b, d] × [d, m] products.
    centred = x - params.b_dec
    dense = jax.lax.stop_gradient(centred @ params.W_enc + params.b_enc)
    _, index = top_k(dense, hp.k, k_max)
    encoder_columns = params.W_enc.T[index]  # [b, k_max, d]
    selected = jnp.einsum("bd,bkd->bk", centred, encoder_columns) + params.b_enc[index]
    values = jnp.where(jnp.arange(k_max) < hp.k, jax.nn.relu(selected), 0.0)
    x_hat = jnp.einsum("bk,bkd->bd", values, params.W_dec[index]) + params.b_dec
    active = values > 0
    fired = jnp.zeros((params.n_latents,), jnp.int32).at[index].add(active.astype(jnp.int32))
    return squared_error(x, x_hat), Aux(squared_error(x, x_hat), jnp.mean(jnp.sum(active, axis=-1)), fired)


ARCHITECTURES = {
    "relu": Architecture("relu", _relu_encode, _relu_loss),
    "topk": Architecture("topk", _topk_encode, _topk_loss),
}


def get(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}") from None
