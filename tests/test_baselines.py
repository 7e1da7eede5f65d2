"""Random and classical dictionaries: same pytree, the stated constructions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sae import architectures, classical, metrics, random_dictionaries
from sae.params import SAEParams
from toys import superposition as sp


def _sample(n=400, d=8, F=24):
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=d, mean_l0=2), jax.random.key(0))
    x, _ = sp.sample(toy, jax.random.key(1), n)
    return toy, x


def test_darts_decoder_is_numpys_least_squares_solution_and_encoding_reproduces_the_codes():
    _, x = _sample()
    params = random_dictionaries.darts(jax.random.key(2), x, m=32, k=3)
    atoms = random_dictionaries.rademacher(jax.random.key(2), 8, 32).W_dec
    codes = np.asarray(random_dictionaries.darts_codes(atoms, x, 3), np.float64)
    design = np.hstack([codes, np.ones((len(codes), 1))])
    solution, *_ = np.linalg.lstsq(design, np.asarray(x, np.float64), rcond=None)
    np.testing.assert_allclose(params.W_dec, solution[:32], atol=2e-3)
    np.testing.assert_allclose(params.b_dec, solution[32], atol=2e-3)
    encoded = architectures.get("topk").encode(params, x, architectures.hparams(k=3), 3)
    np.testing.assert_allclose(encoded, codes, atol=1e-4)
    assert int(jnp.max(jnp.sum(encoded > 0, axis=-1))) <= 3


def test_random_dictionaries_have_unit_rows_and_the_shared_pytree():
    key = jax.random.key(0)
    for params in (
        random_dictionaries.rademacher(key, 16, 40),
        random_dictionaries.gaussian(key, 16, 40),
        random_dictionaries.untrained_sae(key, 16, 40),
    ):
        assert isinstance(params, SAEParams) and params.W_dec.shape == (40, 16) and params.W_enc.shape == (16, 40)
        np.testing.assert_allclose(jnp.linalg.norm(params.W_dec, axis=1), 1.0, atol=1e-5)
    signs = np.unique(np.round(np.asarray(random_dictionaries.rademacher(key, 16, 40).W_dec) * 4, 5))
    np.testing.assert_allclose(signs, [-1.0, 1.0])


def test_pca_atoms_are_signed_principal_directions():
    _, x = _sample()
    params = classical.pca(x, 10)
    W = np.asarray(params.W_dec)
    np.testing.assert_allclose(W[0], -W[1], atol=1e-6)
    centred = np.asarray(x - x.mean(0), np.float64)
    top = np.linalg.svd(centred, full_matrices=False)[2][0]
    assert abs(float(W[0] @ top)) == pytest.approx(1.0, abs=1e-4)
    assert np.all(np.linalg.norm(classical.pca(x, 20).W_dec[16:], axis=1) == 0)  # beyond 2d: zero atoms


def test_kmeans_and_oracle_plus_noise():
    toy, x = _sample()
    centroids = classical.kmeans(jax.random.key(3), x, 6)
    assert centroids.W_dec.shape == (6, 8)
    # on six well-separated blobs the atoms are the blobs' centres (unit rows, in some order)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 8)) * 10
    blobs = centres[np.arange(600) % 6] + rng.normal(size=(600, 8)) * 0.1
    atoms = np.asarray(classical.kmeans(jax.random.key(3), jnp.asarray(blobs), 6).W_dec)
    unit = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    cosine = unit @ atoms.T
    assert np.all(cosine.max(axis=1) > 0.999) and sorted(cosine.argmax(axis=1)) == list(range(6))
    exact = classical.oracle_plus_noise(jax.random.key(4), toy.directions, 24, noise=0.0)
    C = metrics.abs_cosine(toy.directions, exact.W_dec)
    assert metrics.mmcs(C) == pytest.approx(1.0, abs=1e-6) and metrics.mcc(C) == pytest.approx(1.0, abs=1e-6)
    noisy = classical.oracle_plus_noise(jax.random.key(4), toy.directions, 24, noise=1.0)
    assert metrics.mmcs(metrics.abs_cosine(toy.directions, noisy.W_dec)) < 0.95
