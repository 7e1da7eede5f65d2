"""Random dictionaries: chance baselines in the same SAEParams pytree as a trained SAE.

Axes: d activation dimensions, m atoms.

A random dictionary's atoms are its decoder rows; it encodes with its transpose
(W_enc = W_decᵀ, zero biases), so it can be scored by exactly the same code as a
trained SAE — for instance under TopK, which keeps the k largest inner products.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sae.params import SAEParams, from_decoder


def rademacher(key: jax.Array, d: int, m: int) -> SAEParams:
    """Rows with independent entries ±1/√d (already unit norm)."""
    signs = jax.random.rademacher(key, (m, d), dtype=jnp.float32)
    return from_decoder(signs / jnp.sqrt(d))


def gaussian(key: jax.Array, d: int, m: int) -> SAEParams:
    """Rows uniform on the unit sphere (normalised Gaussian vectors)."""
    return from_decoder(jax.random.normal(key, (m, d)))
