"""The sparse firing draw shared by the superposition toy and the SynthSAEBench generator.

Exactness is tested as a distribution, on superposition toys drawn by hypothesis
(independent and copula-correlated firing, constant and Zipf profiles, both magnitude
laws), against the exact truth (p_i, the copula's orthant probabilities, the magnitude
law), with counterparts that must fail: an envelope that does not dominate, and a toy
whose probabilities are off by a tenth.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from binomial_intervals import allowed_outside, outside_share
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from toys import sparse_firing
from toys import superposition as sp
from toys.sparse_firing import SparseCodes

N = 40_000


def draw(toy, key, n=N):
    return jax.jit(lambda t, k: sp.sample_sparse(t, k, n))(toy, key)


configs = st.builds(
    dict,
    n_features=st.sampled_from([48, 300, 1200]),
    mean_l0=st.sampled_from([1.0, 3.0, 6.0]),
    firing=st.sampled_from(["constant", "zipf"]),
    magnitude=st.sampled_from(["uniform", "folded_normal"]),
    correlation=st.sampled_from([(0, 0.0), (2, 0.3), (4, 0.6)]),
    seed=st.integers(0, 2**16),
)


@settings(max_examples=5)
@given(configs)
def test_sparse_draws_fire_at_p_and_keep_the_magnitude_law(spec):
    rank, strength = spec.pop("correlation")
    seed = spec.pop("seed")
    config = sp.SuperpositionConfig(d=8, correlation_rank=rank, correlation_strength=strength, **spec)
    toy = sp.build(config, jax.random.key(seed))
    batch = draw(toy, jax.random.key(seed + 1))
    codes = np.asarray(batch.codes)
    on = codes > 0
    p = np.asarray(toy.probabilities, np.float64)
    assert outside_share(on.sum(0), N, p).sum() <= allowed_outside(config.n_features)
    # x is the codes' embedding
    np.testing.assert_allclose(np.asarray(batch.x), codes @ np.asarray(toy.directions), atol=1e-4)
    # magnitudes: their law, by a Kolmogorov–Smirnov test at 1e-4
    values = codes[on]
    if config.magnitude == "uniform":
        law = stats.uniform(config.magnitude_low, config.magnitude_high - config.magnitude_low).cdf
    else:
        law = stats.foldnorm(config.magnitude_mean / config.magnitude_std, scale=config.magnitude_std).cdf
    assert stats.kstest(values, law).pvalue > 1e-4


def test_a_toy_with_other_probabilities_fails_the_same_check():
    # Counterpart: the check above catches rates off by a tenth.
    toy = sp.build(sp.SuperpositionConfig(n_features=300, d=8, mean_l0=3.0, firing="zipf"), jax.random.key(0))
    on = np.asarray(draw(toy, jax.random.key(1)).codes) > 0
    assert outside_share(on.sum(0), N, 1.1 * np.asarray(toy.probabilities, np.float64)).sum() > allowed_outside(300)


def test_correlated_pairs_cofire_with_the_copula_orthant_probability():
    config = sp.SuperpositionConfig(n_features=200, d=8, mean_l0=8.0, correlation_rank=1, correlation_strength=0.7)
    toy = sp.build(config, jax.random.key(2))
    on = np.asarray(draw(toy, jax.random.key(3), 100_000).codes) > 0
    corr = 0.7 * np.asarray(toy.loadings) @ np.asarray(toy.loadings).T  # rank 1: ±0.7
    t = stats.norm.isf(np.asarray(toy.probabilities, np.float64))
    for i, j in [(0, 1), (0, 2), (5, 9)]:
        exact = stats.multivariate_normal(mean=[0, 0], cov=[[1, corr[i, j]], [corr[i, j], 1]]).cdf(-t[[i, j]])
        both = (on[:, i] & on[:, j]).mean()
        tolerance = 4 * np.sqrt(exact / len(on))
        assert abs(both - exact) < tolerance
        assert abs(exact - stats.norm.sf(t[i]) * stats.norm.sf(t[j])) > 2 * tolerance  # correlation matters here


def test_a_non_dominating_envelope_is_caught():
    toy = sp.build(sp.SuperpositionConfig(n_features=1200, d=8, mean_l0=3.0, firing="zipf"), jax.random.key(0))
    broken = toy.replace(firing=toy.firing.replace(block_threshold=toy.firing.block_threshold + 1.0))
    on = np.asarray(draw(broken, jax.random.key(1)).codes) > 0
    tail = np.asarray(toy.firing.blocks).ravel()
    tail = tail[tail < 1200]
    p = np.asarray(toy.probabilities, np.float64)[tail]
    assert outside_share(on[:, tail].sum(0), N, p).sum() > allowed_outside(len(tail))


def test_overflowing_buffers_redraw_densely_and_stay_exact():
    toy = sp.build(sp.SuperpositionConfig(n_features=300, d=8, mean_l0=3.0), jax.random.key(0))
    cramped = toy.replace(firing=toy.firing.replace(events_cap=1, accepted_cap=1, active_cap=2))
    batch = draw(cramped, jax.random.key(1))
    assert bool(batch.truth["redrawn"]) and bool(batch.truth["codes_truncated"])
    x, dense = sp.sample(toy, jax.random.split(jax.random.key(1), 5)[4], N)  # the dense branch's key
    np.testing.assert_allclose(np.asarray(batch.x), np.asarray(x))


def test_redraw_if_under_vmap_redraws_exactly_the_overflowing_elements():
    overflow = jnp.array([False, True, False])
    sparse = jnp.array([1.0, 2.0, 3.0])
    out = jax.vmap(lambda o, s: sparse_firing.redraw_if(o, s, lambda: -s))(overflow, sparse)
    np.testing.assert_array_equal(out, [1.0, -2.0, 3.0])


def test_the_toy_draws_sparsely_where_it_pays_and_densely_elsewhere():
    wide = sp.build(sp.SuperpositionConfig(n_features=4096, d=16, mean_l0=5.0), jax.random.key(0))
    narrow = sp.build(sp.SuperpositionConfig(n_features=64, d=16, mean_l0=5.0), jax.random.key(0))
    assert sparse_firing.sparse_pays(wide.firing) and not sparse_firing.sparse_pays(narrow.firing)
    codes = jax.jit(lambda t, k: t.sample(k, 10).codes)
    assert isinstance(codes(wide, jax.random.key(1)), SparseCodes)
    assert isinstance(codes(narrow, jax.random.key(1)), jax.Array)
    # both stack (caps come from a fixed-key pilot), as a per-run-data grid needs
    twin = sp.build(sp.SuperpositionConfig(n_features=4096, d=16, mean_l0=5.0), jax.random.key(5))
    stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), wide, twin)
    xs = jax.vmap(lambda t, k: t.sample(k, 7).x)(stacked, jax.random.split(jax.random.key(2)))
    assert xs.shape == (2, 7, 16)


@pytest.mark.parametrize("n_features", [64, 4096])
def test_sparse_codes_are_dense_codes_in_another_form(n_features):
    toy = sp.build(sp.SuperpositionConfig(n_features=n_features, d=16, mean_l0=5.0), jax.random.key(0))
    batch = jax.jit(lambda t, k: t.sample(k, 500))(toy, jax.random.key(1))
    dense = np.asarray(batch.codes)
    assert dense.shape == (500, n_features)
    np.testing.assert_allclose(np.asarray(batch.x), dense @ np.asarray(toy.directions), atol=1e-4)


@settings(max_examples=20)
@given(
    n=st.integers(1, 6),
    slots=st.integers(1, 30),
    f=st.integers(1, 20),
    d=st.integers(1, 5),
    fill=st.floats(0.0, 1.0),
    with_bias=st.booleans(),
    seed=st.integers(0, 10**6),
)
def test_embed_is_the_slot_by_slot_sum_bit_for_bit(n, slots, f, d, fill, with_bias, seed):
    # Empty slots anywhere in a row (not only at its end), rows of any length, chunk boundaries.
    rng = np.random.default_rng(seed)
    indices = np.where(rng.random((n, slots)) < fill, rng.integers(0, f, (n, slots)), f)
    values = rng.normal(size=(n, slots)).astype(np.float32)
    directions = rng.normal(size=(f, d)).astype(np.float32)
    bias = rng.normal(size=d).astype(np.float32) if with_bias else None
    expected = np.zeros((n, d), np.float32) if bias is None else np.broadcast_to(bias, (n, d)).copy()
    for slot in range(slots):  # the reference: one slot after another, in order, in float32
        present = indices[:, slot] < f
        row = directions[np.minimum(indices[:, slot], f - 1)]
        expected = (expected + np.where(present, values[:, slot], 0.0)[:, None].astype(np.float32) * row).astype(np.float32)
    got = jax.jit(sparse_firing.embed)(
        jnp.asarray(directions), None if bias is None else jnp.asarray(bias), SparseCodes(jnp.asarray(indices), jnp.asarray(values), f)
    )
    np.testing.assert_array_equal(np.asarray(got), expected)
