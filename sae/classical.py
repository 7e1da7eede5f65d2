"""Classical dictionaries fitted to a data sample, in the same SAEParams pytree.

Axes: n samples, d activation dimensions, m atoms, F true features.

- PCA: atoms are the principal directions ±u_1, ±u_2, … (each with both signs so that
  nonnegative codes can express either direction), the first m of
  [u_1, −u_1, u_2, −u_2, …], zero rows beyond 2d; b_dec = the sample mean.
- k-means: the m centroids of the sample (scipy's k-means++ seeded `kmeans2`), as unit
  atoms.
- oracle plus noise: atom j = normalise(t_{j mod F} + σ g_j), g_j ~ N(0, I/d); a
  calibration dictionary whose recovery scores fall from 1 as σ grows.
All encode with their transpose (W_enc = W_decᵀ), like the random dictionaries.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.cluster.vq import kmeans2

from sae.params import SAEParams, from_decoder


def pca(x: jax.Array, m: int) -> SAEParams:
    mean = jnp.mean(x, axis=0)
    _, _, components = jnp.linalg.svd(x - mean, full_matrices=False)  # rows u_i, by variance
    signed = jnp.stack([components, -components], axis=1).reshape(-1, x.shape[1])
    atoms = jnp.zeros((m, x.shape[1])).at[: min(m, len(signed))].set(signed[:m])
    return from_decoder(atoms, mean)  # codes ReLU((x − mean) W_enc): projections of centred x


def kmeans(key: jax.Array, x: jax.Array, m: int, iterations: int = 20) -> SAEParams:
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    centroids, _ = kmeans2(np.asarray(x, np.float64), m, iter=iterations, minit="++", seed=seed)
    return from_decoder(jnp.asarray(centroids, jnp.float32))


def oracle_plus_noise(key: jax.Array, true_features: jax.Array, m: int, noise: float) -> SAEParams:
    F, d = true_features.shape
    base = true_features[jnp.arange(m) % F]
    return from_decoder(base + noise * jax.random.normal(key, (m, d)) / jnp.sqrt(d))
