"""The two-level CPU top-k equals `jax.lax.top_k` exactly: values, indices and ties."""

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings

from sae import selection


@settings(max_examples=20)
@given(
    rows=st.integers(1, 5),
    n=st.integers(1, 700),
    k=st.integers(1, 12),
    group=st.sampled_from([2, 4, 8, 32]),
    levels=st.sampled_from([3, 50, 10**6]),
    seed=st.integers(0, 2**31 - 1),
    with_inf=st.booleans(),
)
def test_two_level_top_k_is_lax_top_k(rows, n, k, group, levels, seed, with_inf):
    k = min(k, n)
    rng = np.random.default_rng(seed)
    # few distinct levels force ties within and across groups; -inf entries as AuxK's masked rows have
    values = rng.integers(0, levels, size=(rows, n)).astype(np.float32)
    if with_inf:
        values[rng.random((rows, n)) < 0.7] = -np.inf
    expected_values, expected_index = jax.lax.top_k(jnp.asarray(values), k)
    got_values, got_index = selection.top_k(jnp.asarray(values), k, group=group, two_level=True)
    np.testing.assert_array_equal(np.asarray(got_values), np.asarray(expected_values))
    np.testing.assert_array_equal(np.asarray(got_index), np.asarray(expected_index))


def test_leading_axes_and_jit():
    x = jax.random.normal(jax.random.key(0), (2, 3, 1000))
    got = jax.jit(lambda v: selection.top_k(v, 8, two_level=True))(x)
    expected = jax.lax.top_k(x, 8)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_wrong_candidate_rule_would_be_caught():
    # Counterpart: keeping only the k − 1 best groups misses entries, on the same kind of data.
    x = jnp.asarray(np.random.default_rng(0).normal(size=(64, 512)).astype(np.float32))
    expected = jax.lax.top_k(x, 8)[0]
    groups = x.reshape(64, 16, 32)
    _, chosen = jax.lax.top_k(groups.max(-1), 7)
    short = jax.lax.top_k(jnp.take_along_axis(groups, chosen[..., None], axis=1).reshape(64, -1), 8)[0]
    assert not np.array_equal(np.asarray(short), np.asarray(expected))
