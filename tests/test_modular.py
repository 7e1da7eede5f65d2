"""toys.modular: Fourier truth read from embeddings, training, and the frequency subspaces."""

import jax
import numpy as np
import pytest

from sae.readers import geometry
from toys import modular
from toys.engine.config import ConfigError


def test_fourier_shares_find_planted_frequencies():
    p = 23
    a = np.arange(p)
    rng = np.random.default_rng(0)
    embedding = (
        np.cos(2 * np.pi * 3 * a / p)[:, None] * rng.standard_normal(8)
        + 0.5 * np.sin(2 * np.pi * 7 * a / p)[:, None] * rng.standard_normal(8)
        + 4.0
    )
    shares = modular.fourier_shares(embedding)
    assert shares.shape == ((p - 1) // 2,)
    np.testing.assert_allclose(shares.sum(), 1.0)
    assert modular.key_frequencies(shares, 0.99) == [3, 7]
    assert shares[2] + shares[6] > 0.999


def test_frequency_subspaces_hold_the_planted_units():
    p = 17
    a, b = modular.all_pairs(p)
    s = 2 * np.pi * 4 * (a + b) / p
    hidden = np.stack([np.cos(s), np.sin(s), np.cos(2 * np.pi * 5 * a / p)], axis=1)
    spaces = modular.frequency_subspaces(hidden, p, [4, 5, 6])
    units = np.eye(3)
    np.testing.assert_array_equal(geometry.on_manifold(units, spaces[4]), [True, True, False])
    np.testing.assert_array_equal(geometry.on_manifold(units, spaces[5]), [False, False, True])
    assert len(spaces[6]) == 0


def test_training_fits_the_training_pairs():
    config = modular.ModularConfig(p=11, embed_dim=16, hidden=32, steps=300, learning_rate=1e-2, weight_decay=0.1)
    result = modular.train(config, jax.random.split(jax.random.key(0), 2))
    assert result.train_accuracy.shape == (2,) and result.loss_curve.shape == (300, 2)
    assert float(result.train_accuracy.min()) > 0.95
    assert modular.hidden_activations(config, result, 1).shape == (121, 32)


def test_p_must_be_prime():
    with pytest.raises(ConfigError, match="p: got 12"):
        modular.ModularConfig(p=12).validate()
