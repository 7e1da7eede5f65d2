"""Random dictionaries: chance baselines in the same SAEParams pytree as a trained SAE.

Axes: d activation dimensions, m atoms.

A random dictionary's atoms are its decoder rows; it encodes with its transpose
(W_enc = W_decᵀ, zero biases), so it can be scored by exactly the same code as a
trained SAE — for instance under TopK, which keeps the k largest inner products.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sae import selection
from sae.params import SAEParams, from_decoder, init


def rademacher(key: jax.Array, d: int, m: int) -> SAEParams:
    """Rows with independent entries ±1/√d (already unit norm)."""
    signs = jax.random.rademacher(key, (m, d), dtype=jnp.float32)
    return from_decoder(signs / jnp.sqrt(d))


def gaussian(key: jax.Array, d: int, m: int) -> SAEParams:
    """Rows uniform on the unit sphere (normalised Gaussian vectors)."""
    return from_decoder(jax.random.normal(key, (m, d)))


def untrained_sae(key: jax.Array, d: int, m: int) -> SAEParams:
    """A randomly initialised SAE exactly as the trainer starts it (b_dec = 0)."""
    return init(key, d, m)


def darts_codes(atoms: jax.Array, x: jax.Array, k: int) -> jax.Array:
    """The darts encoder: keep each row's k largest inner products with the atoms (if > 0).

    atoms [m, d] unit rows, x [n, d] → codes [n, m].
    """
    values, index = selection.top_k(jax.nn.relu(x @ atoms.T), k)
    rows = jnp.arange(x.shape[0])[:, None]
    return jnp.zeros((x.shape[0], atoms.shape[0]), x.dtype).at[rows, index].set(values)


def darts(key: jax.Array, x: jax.Array, m: int, k: int) -> SAEParams:
    """Random Rademacher atoms as the encoder, a least-squares decoder fitted on a sample.

    With codes Z = darts_codes(A, x, k), the decoder [W_dec; b_dec] minimises
    ‖x − Z W_dec − 1 b_decᵀ‖²_F (closed form, jnp.linalg.lstsq). The encoder bias is
    set to b_dec W_enc so that the SAE pre-activation (x − b_dec) W_enc + b_enc equals
    x Aᵀ: under TopK encoding the dictionary reproduces Z exactly.
    """
    d = x.shape[1]
    atoms = rademacher(key, d, m).W_dec
    codes = darts_codes(atoms, x, k)
    design = jnp.concatenate([codes, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)
    solution, *_ = jnp.linalg.lstsq(design, x)
    W_dec, b_dec = solution[:m], solution[m]
    params = from_decoder(atoms)
    return params.replace(W_dec=W_dec, b_dec=b_dec, b_enc=b_dec @ params.W_enc)
