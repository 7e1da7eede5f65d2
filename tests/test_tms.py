"""Toy Models of Superposition: feature dimensionality theory and a small trained instance."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from theory.superposition import feature_dimensionality, tight_frame_dimensionality
from toys import tms


@given(
    st.integers(1, 4).flatmap(
        lambda m: st.integers(1, 6).flatmap(
            lambda n: hnp.arrays(np.float32, (m, n), elements=st.floats(-3, 3, allow_subnormal=False, width=32))
        )
    )
)
def test_dimensionality_bounds(W):
    D = np.asarray(feature_dimensionality(W))
    assert np.all(D >= -1e-6) and np.all(D <= 1 + 1e-5)
    assert D.sum() <= np.linalg.matrix_rank(W.astype(np.float64), tol=1e-6) + 1e-4


@pytest.mark.parametrize("d, k", [(2, 5), (2, 4), (2, 3), (3, 8), (2, 2)])
def test_regular_polygons_and_tight_frames_give_d_over_k(d, k):
    if d == 2:
        angles = 2 * np.pi * np.arange(k) / k
        W = np.stack([np.cos(angles), np.sin(angles)])
    else:  # the harmonic frame in R^3: an equal-norm tight frame of k columns
        angles = 2 * np.pi * np.arange(k) / k
        W = np.stack([np.full(k, np.sqrt(0.5)), np.cos(angles), np.sin(angles)])
    expected = tight_frame_dimensionality(d, k) if not (d == 2 and k == 2) else 0.5  # antipodal pair
    np.testing.assert_allclose(feature_dimensionality(jnp.asarray(W, jnp.float32)), expected, atol=1e-5)


def test_neighbour_angles_of_a_pentagon():
    angles = 2 * np.pi * np.arange(5) / 5 + 0.3
    W = np.stack([np.cos(angles), np.sin(angles)])
    np.testing.assert_allclose(tms.neighbour_angles_deg(W), 72.0, atol=1e-6)


def test_dense_inputs_with_decaying_importance_keep_two_orthogonal_features():
    config = tms.TMSTrainConfig(n_features=5, n_hidden=2, steps=2500, batch_size=256, learning_rate=3e-3)
    n = 4
    result = tms.train(
        tms.Task(config, np.ones(n), jnp.tile(tms.importance(5, 0.9), (n, 1)), jax.random.key(9)), jax.random.split(jax.random.key(0), n)
    )
    best = int(np.argmin(result.loss))
    D = np.asarray(result.dimensionality[best])
    assert np.sum(D >= 0.9) == 2 and np.sum(D <= 0.1) == 3, D
    assert set(np.argsort(-D)[:2]) == {0, 1}  # the two most important features


def test_instances_are_ranked_on_one_common_evaluation_sample():
    # Two instances trained from the same key are the same network: on a common evaluation
    # sample their final losses are equal to the last bit (on per-instance samples they would not be).
    config = tms.TMSTrainConfig(n_features=5, n_hidden=2, steps=50, batch_size=64, eval_samples=4096)
    keys = jnp.stack([jax.random.key(3), jax.random.key(3), jax.random.key(4)])
    importances = jnp.tile(tms.importance(5, None), (3, 1))
    result = tms.train(tms.Task(config, np.full(3, 0.1), importances, jax.random.key(9)), keys)
    assert float(result.loss[0]) == float(result.loss[1]) and float(result.loss[0]) != float(result.loss[2])
    other = tms.train(tms.Task(config, np.full(3, 0.1), importances, jax.random.key(10)), keys)
    assert float(other.loss[0]) != float(result.loss[0])  # the sample is the eval key's, and it matters
