"""The hierarchical toy: children fire only with parents, exclusivity, firing rates, geometry."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toys import trees
from toys.engine.config import ConfigError

N_SAMPLES = 20_000


@st.composite
def tree_configs(draw):
    branching = draw(st.integers(1, 3))
    exclusive_fraction = draw(st.sampled_from([0.0, 0.5, 1.0]))
    q_high = 1.0 / branching if exclusive_fraction > 0 else 0.9
    config = trees.TreeConfig(
        n_roots=draw(st.integers(1, 3)),
        branching=branching,
        depth=draw(st.integers(2, 3)),
        d=16,
        child_probability=draw(st.floats(0.1, q_high)),
        exclusive_fraction=exclusive_fraction,
        root_zipf_exponent=draw(st.sampled_from([0.0, 1.5])),
        scale_by_parent=draw(st.booleans()),
        mean_l0=0.5,
    )
    config.validate()
    return config


def _draw(config, seed=0):
    toy = trees.build(config, jax.random.key(seed))
    _, codes = trees.sample(toy, jax.random.key(seed + 1), N_SAMPLES)
    return toy, np.asarray(codes)


@settings(max_examples=8)
@given(tree_configs())
def test_children_fire_only_with_parents_and_exclusive_children_never_together(config):
    toy, codes = _draw(config)
    fires = codes > 0
    parents = np.asarray(toy.parents)
    child = parents >= 0
    assert not (fires[:, child] & ~fires[:, parents[child]]).any()
    exclusive = np.asarray(toy.exclusive)
    for parent in np.flatnonzero(exclusive):
        assert fires[:, parents == parent].sum(axis=1).max() <= 1
    assert exclusive.sum() == round(config.exclusive_fraction * config.n_parents)


@settings(max_examples=8)
@given(tree_configs())
def test_firing_rates_match_the_configuration(config):
    _, codes = _draw(config)
    expected = trees.firing_probabilities(config)
    measured = (codes > 0).mean(axis=0)
    # 6 binomial standard deviations per feature: a false alarm has probability ~1e-9 each
    tolerance = 6 * np.sqrt(expected * (1 - expected) / N_SAMPLES) + 1e-9
    np.testing.assert_array_less(np.abs(measured - expected), tolerance)
    assert abs(expected.sum() - config.mean_l0) < 1e-9


def test_exclusive_children_fire_with_the_configured_probability_and_none_sometimes():
    config = trees.TreeConfig(n_roots=1, branching=3, depth=2, d=8, child_probability=0.2, exclusive_fraction=1.0, mean_l0=1.0)
    toy, codes = _draw(config)
    fires = codes > 0
    parent_on = fires[:, 0]
    children = fires[parent_on][:, 1:]
    np.testing.assert_allclose(children.mean(axis=0), 0.2, atol=0.02)
    assert (children.sum(axis=1) == 0).mean() == pytest.approx(1 - 3 * 0.2, abs=0.03)


def test_scaled_children_carry_their_parents_magnitude():
    config = trees.TreeConfig(
        n_roots=2,
        branching=2,
        depth=2,
        d=8,
        scale_by_parent=True,
        magnitude_low=1.0,
        magnitude_high=2.0,
        mean_l0=1.0,
        exclusive_fraction=0.0,
    )
    toy, codes = _draw(config)
    parents = np.asarray(toy.parents)
    for child in np.flatnonzero(parents >= 0):
        on = codes[:, child] > 0
        ratio = codes[on, child] / codes[on, parents[child]]
        assert ratio.min() >= 1.0 - 1e-6 and ratio.max() <= 2.0 + 1e-6


@given(st.floats(0.1, 1.0))
@settings(max_examples=8)
def test_closeness_pulls_children_towards_parents(epsilon):
    config = trees.TreeConfig(n_roots=8, branching=2, depth=3, d=2048, closeness=epsilon, exclusive_fraction=0.0)
    toy = trees.build(config, jax.random.key(3))
    t = np.asarray(toy.directions)
    parents = np.asarray(toy.parents)
    child = np.flatnonzero(parents >= 0)
    cosine = np.sum(t[child] * t[parents[child]], axis=1)
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)
    # a fresh unit vector is nearly orthogonal to the parent in 2048 dims (its cosine ~ N(0, 1/2048)), so
    # cos ≈ 1/√(1 + ε²) per child within a few of its standard errors, and the mean over the 48 children
    # within 0.01 (an ε² for ε, or an unnormalised fresh vector, misses it by ≥ 0.03 for ε in [0.3, 1])
    np.testing.assert_allclose(cosine, 1 / np.sqrt(1 + epsilon**2), atol=0.08)
    assert len(child) == 48 and abs(cosine.mean() - 1 / np.sqrt(1 + epsilon**2)) < 0.01


def test_structure_and_two_feature_toy():
    parents, depths = trees.structure(trees.TreeConfig(n_roots=2, branching=2, depth=3))
    assert parents.tolist() == [-1, -1, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert depths.tolist() == [0, 0] + [1] * 4 + [2] * 8
    config = trees.two_feature_config(0.3, 0.2)
    toy, codes = _draw(config)
    np.testing.assert_allclose(np.asarray(toy.directions) @ np.asarray(toy.directions).T, np.eye(2), atol=1e-6)
    fires = codes > 0
    assert (fires[:, 0] & ~fires[:, 1]).mean() == pytest.approx(0.3, abs=0.015)
    assert (fires[:, 0] & fires[:, 1]).mean() == pytest.approx(0.2, abs=0.015)
    assert set(np.unique(codes)) <= {0.0, 1.0}


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(child_probability=0.5, branching=3, exclusive_fraction=0.5), "child_probability"),
        (dict(mean_l0=500.0), "mean_l0"),
        (dict(exclusive_fraction=1.5), "exclusive_fraction"),
        (dict(orthonormal=True), "d"),
        (dict(closeness=-1.0), "closeness"),
        (dict(depth=0), "depth"),
    ],
)
def test_bad_configs_name_the_field(changes, field):
    with pytest.raises(ConfigError, match=rf"^toy\.{field}: got"):
        trees.TreeConfig(**changes).validate(prefix="toy.")
