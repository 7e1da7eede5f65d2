"""The planted-superposition toy: its samples obey the truth it states."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toys import superposition as sp
from toys.engine.config import ConfigError


def test_activations_are_codes_times_directions_and_firing_matches_probabilities():
    config = sp.SuperpositionConfig(n_features=40, d=10, mean_l0=4, firing="zipf", zipf_exponent=1.0)
    toy = sp.build(config, jax.random.key(0))
    x, codes = sp.sample(toy, jax.random.key(1), 50_000)
    assert x.shape == (50_000, 10) and codes.shape == (50_000, 40)
    np.testing.assert_allclose(x, codes @ toy.directions, atol=1e-5)
    np.testing.assert_allclose(jnp.linalg.norm(toy.directions, axis=1), 1.0, atol=1e-6)
    frequency = np.asarray((codes > 0).mean(0))
    np.testing.assert_allclose(frequency, toy.probabilities, atol=0.01)
    assert float(toy.probabilities.sum()) == pytest.approx(4.0, rel=1e-5)
    assert np.all(np.diff(np.asarray(toy.probabilities)) <= 0)  # Zipf decreases with rank
    # the profile's law itself: log p_i against log(i + 1) is a line of slope −α
    rank = np.arange(1, 41)
    slope = np.polyfit(np.log(rank), np.log(np.asarray(toy.probabilities, np.float64)), 1)[0]
    assert slope == pytest.approx(-1.0, abs=1e-4)
    active = np.asarray(codes)[np.asarray(codes) > 0]
    assert active.min() >= 0.5 and active.max() <= 1.5  # uniform magnitudes in [low, high]


def test_sampling_is_deterministic_in_the_key_and_fresh_across_keys():
    toy = sp.build(sp.SuperpositionConfig(n_features=16, d=8, mean_l0=2), jax.random.key(0))
    a = sp.sample(toy, jax.random.key(1), 100)[1]
    b = sp.sample(toy, jax.random.key(1), 100)[1]
    c = sp.sample(toy, jax.random.key(2), 100)[1]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_correlated_firing_keeps_marginals_and_adds_correlation():
    base = dict(n_features=6, d=4, mean_l0=1.8, magnitude="folded_normal")
    independent = sp.build(sp.SuperpositionConfig(**base), jax.random.key(0))
    correlated = sp.build(sp.SuperpositionConfig(**base, correlation_rank=1, correlation_strength=0.8), jax.random.key(0))
    fires_i = np.asarray(sp.sample(independent, jax.random.key(1), 40_000)[1] > 0, float)
    fires_c = np.asarray(sp.sample(correlated, jax.random.key(1), 40_000)[1] > 0, float)
    np.testing.assert_allclose(fires_c.mean(0), 0.3, atol=0.015)
    off_diagonal = ~np.eye(6, dtype=bool)
    assert np.abs(np.corrcoef(fires_i.T)[off_diagonal]).max() < 0.03
    assert np.abs(np.corrcoef(fires_c.T)[off_diagonal]).max() > 0.2


def test_noise_and_orthogonalisation():
    clean = sp.build(sp.SuperpositionConfig(n_features=8, d=16, mean_l0=2, orthogonalize_steps=300), jax.random.key(0))
    gram = clean.directions @ clean.directions.T
    np.testing.assert_allclose(gram, np.eye(8), atol=1e-4)
    noisy = sp.build(sp.SuperpositionConfig(n_features=8, d=16, mean_l0=2, noise_std=0.1), jax.random.key(0))
    x, codes = sp.sample(noisy, jax.random.key(1), 20_000)
    residual = np.asarray(x - codes @ noisy.directions)
    assert residual.std() == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize(
    "fields, field",
    [
        (dict(mean_l0=0.0), "mean_l0"),
        (dict(n_features=4, mean_l0=5.0), "mean_l0"),
        (dict(firing="zipf", zipf_exponent=2.0, n_features=50, mean_l0=10.0), "mean_l0"),
        (dict(d=0), "d"),
        (dict(firing="pareto"), "firing"),
        (dict(correlation_strength=1.0), "correlation_strength"),
        (dict(noise_std=-1.0), "noise_std"),
    ],
)
def test_impossible_configs_name_the_field(fields, field):
    with pytest.raises(ConfigError, match=rf"^toy\.{field}: .*allowed"):
        sp.SuperpositionConfig(**fields).validate(prefix="toy.")


@pytest.mark.parametrize(
    "firing, exponent, law",
    [
        ("zipf", 0.5, lambda i, F: (i + 1.0) ** -0.5),
        ("zipf", 2.0, lambda i, F: (i + 1.0) ** -2.0),
        ("linear", 1.0, lambda i, F: F - i),
        ("constant", 1.0, lambda i, F: np.ones_like(i)),
    ],
)
def test_each_firing_profile_is_its_law_scaled_to_the_mean_l0(firing, exponent, law):
    # p_i ∝ law(i), normalised so Σ p_i = mean L0: ratios to feature 0 match the law exactly
    config = sp.SuperpositionConfig(n_features=30, d=8, mean_l0=1.0, firing=firing, zipf_exponent=exponent)
    p = np.asarray(sp.firing_probabilities(config), np.float64)
    i = np.arange(30, dtype=np.float64)
    np.testing.assert_allclose(p / p[0], law(i, 30) / law(i, 30)[0], rtol=1e-5)
    assert p.sum() == pytest.approx(1.0, rel=1e-6)
