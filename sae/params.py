"""The dictionary pytree shared by every SAE, random dictionary and baseline.

Axes: d activation dimensions, m latents (dictionary atoms).

A dictionary encodes x [d] to latents f [m] through W_enc [d, m] and b_enc [m] (the
architecture decides the nonlinearity) and decodes x̂ = f W_dec + b_dec with decoder
rows W_dec [m, d], the atoms, which metrics compare to the true features.

Three per-latent fields serve the architectures that need them and are inert in the
others: log_threshold (JumpReLU's θ_j = exp(log_threshold_j); BatchTopK's inference
threshold), r_mag and b_mag (the Gated SAE's magnitude path, W_mag = W_enc ⊙ exp(r_mag)).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

import jax
import jax.numpy as jnp
from flax import struct

INITIAL_THRESHOLD = 0.1  # JumpReLU's starting θ and BatchTopK's starting inference threshold


@struct.dataclass
class SAEParams:
    if TYPE_CHECKING:  # flax.struct.dataclass adds it at run time; declared here for the type checker

        def replace(self, **changes: Any) -> Self: ...

    W_enc: jax.Array  # [d, m]
    b_enc: jax.Array  # [m]
    W_dec: jax.Array  # [m, d]
    b_dec: jax.Array  # [d]
    log_threshold: jax.Array  # [m]
    r_mag: jax.Array  # [m]
    b_mag: jax.Array  # [m]

    @property
    def n_latents(self) -> int:
        return self.W_dec.shape[-2]

    @property
    def d(self) -> int:
        return self.W_dec.shape[-1]


def stack(items: list):
    """Stack a list of pytrees (dictionaries, HParams) on a new leading [G] axis."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *items)


def unit_rows(matrix: jax.Array, eps: float = 1e-8) -> jax.Array:
    """Rows scaled to unit norm; eps keeps an all-zero row finite (it stays zero)."""
    return matrix / jnp.maximum(jnp.linalg.norm(matrix, axis=-1, keepdims=True), eps)


def from_decoder(W_dec: jax.Array, b_dec: jax.Array | None = None) -> SAEParams:
    """A tied dictionary: unit decoder rows, encoder = decoderᵀ, zero encoder bias."""
    W_dec = unit_rows(W_dec)
    m, d = W_dec.shape
    b_dec = jnp.zeros((d,)) if b_dec is None else b_dec
    zeros = jnp.zeros((m,))
    return SAEParams(
        W_enc=W_dec.T,
        b_enc=zeros,
        W_dec=W_dec,
        b_dec=b_dec,
        log_threshold=jnp.full((m,), jnp.log(INITIAL_THRESHOLD)),
        r_mag=zeros,
        b_mag=zeros,
    )


def init(
    key: jax.Array, d: int, m: int, b_dec: jax.Array | None = None, decoder_norm: float = 1.0, threshold: float = INITIAL_THRESHOLD
) -> SAEParams:
    """Random decoder rows uniform on the sphere of radius `decoder_norm`, tied encoder, zero encoder bias.

    decoder_norm < 1 is SAELens' `decoder_init_norm` (0.1 there; Anthropic's 2024 recipe):
    small initial latents, for SAEs whose decoder norms are free. threshold: every
    latent's starting θ (JumpReLU).
    """
    params = from_decoder(jax.random.normal(key, (m, d)), b_dec)
    return params.replace(
        W_dec=params.W_dec * decoder_norm,
        W_enc=params.W_enc * decoder_norm,
        log_threshold=jnp.full((m,), jnp.log(threshold), params.W_dec.dtype),
    )


def normalise_decoder(params: SAEParams) -> SAEParams:
    """Project back onto the unit-norm-decoder constraint after an optimiser step."""
    return params.replace(W_dec=unit_rows(params.W_dec))
