"""theory.random_vectors and theory.projections: each claim holds on generated instances,
and its negative control (a hypothesis of the claim switched off) makes it fail."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from theory import random_vectors
from theory.catalogue import BY_ID

seeds = st.integers(0, 2**31 - 1)


def check(claim_id, **instance):
    return BY_ID[claim_id].check(instance)


def vectors(max_n, low=-5.0, high=5.0):
    """y ∈ R^n with ‖y‖ bounded away from 0."""
    return (
        st.integers(1, max_n)
        .flatmap(lambda n: hnp.arrays(np.float64, n, elements=st.floats(low, high, allow_subnormal=False)))
        .filter(lambda y: np.linalg.norm(y) > 1e-3)
    )


@given(st.integers(1, 64), seeds)
def test_inner_products_follow_the_binomial_law(n, seed):
    assert check("rademacher_inner_product_law", n=n, pairs=2000, seed=seed).holds


@given(st.integers(1, 64), seeds)
def test_correlated_pairs_break_the_binomial_law(n, seed):
    assert not check("rademacher_inner_product_law", n=n, pairs=2000, seed=seed, agreement=0.75).holds


@given(st.integers(1, 3000))
def test_hoeffding_tail_holds_exactly(n):
    assert check("hoeffding_tail", n=n).holds


@given(st.integers(2, 3000))
def test_coupled_coordinates_break_hoeffding(n):
    assert not check("hoeffding_tail", n=n, coupled=True).holds


@given(vectors(10))
def test_variance_is_norm_squared_over_n(y):
    assert check("inner_product_variance", y=y).holds


@given(vectors(10, low=0.1))
def test_coupled_coordinates_change_the_variance(y):
    if len(y) >= 2:  # one coordinate is trivially "coupled" with itself
        assert not check("inner_product_variance", y=y, coupled=True).holds


@given(vectors(8))
def test_fourth_moment_identity(y):
    assert check("fourth_moment", y=y).holds


@given(vectors(6), st.floats(0.05, 0.5))
def test_heavy_tailed_coordinates_break_the_fourth_moment_identity(y, sparsity):
    assert not check("fourth_moment", y=y, sparsity=sparsity).holds


@given(vectors(10))
def test_paley_zygmund_lower_bound(y):
    assert check("paley_zygmund", y=y).holds


@given(st.integers(1, 8), st.floats(0.01, 0.2))
def test_sparse_coordinates_break_paley_zygmund(n, sparsity):
    assert not check("paley_zygmund", y=np.eye(n)[0], sparsity=sparsity).holds


@given(vectors(12))
def test_berry_esseen(y):
    assert check("berry_esseen", y=y).holds


@given(st.integers(3, 16))
def test_coupled_coordinates_break_berry_esseen(n):
    assert not check("berry_esseen", y=np.ones(n), coupled=True).holds


@pytest.mark.parametrize("n", [4, 9, 16])
def test_a_spiky_y_is_far_from_gaussian_and_a_flat_one_is_close(n):
    """The Gaussian approximation of ⟨x, e₁⟩ is off by Φ(1) − ½ ≈ 0.34 at every n (its Berry–Esseen
    bound is 0.56, no help); for flat y the distance shrinks like 1/√n."""
    spiky = random_vectors.kolmogorov_to_gaussian(random_vectors.sum_law(np.eye(n)[0]), 1 / np.sqrt(n))
    flat = random_vectors.kolmogorov_to_gaussian(random_vectors.sum_law(np.ones(n)), 1.0)
    assert spiky == pytest.approx(0.3413447, abs=1e-6)
    assert flat <= 0.56 / np.sqrt(n)


@given(st.integers(16, 128), st.integers(2, 200), seeds)
def test_max_coherence_below_the_union_bound(n, m, seed):
    assert check("max_coherence", n=n, m=m, seed=seed).holds


@given(seeds)
def test_vectors_confined_to_a_subspace_break_the_coherence_bound(seed):
    assert not check("max_coherence", n=256, m=200, seed=seed, subspace=32).holds


frames = st.integers(1, 10).flatmap(lambda n: st.tuples(st.just(n), st.integers(n + 1, 40), seeds))


@given(frames)
def test_welch_bound_and_frame_potential(frame):
    n, m, seed = frame
    assert check("welch_bound", n=n, m=m, seed=seed).holds
    assert check("frame_potential", n=n, m=m, seed=seed).holds


@given(frames)
def test_vectors_shorter_than_unit_break_welch_and_the_frame_potential(frame):
    n, m, seed = frame
    assert not check("welch_bound", n=n, m=m, seed=seed, scale=0.1).holds
    assert not check("frame_potential", n=n, m=m, seed=seed, scale=0.5).holds


@given(st.integers(1, 60))
def test_simplex_meets_the_welch_bound(n):
    assert check("welch_equality_simplex", n=n).holds


@given(st.integers(2, 60))
def test_a_perturbed_simplex_is_not_tight_and_misses_equality(n):
    assert not check("welch_equality_simplex", n=n, perturbation=0.1).holds


@given(st.integers(5, 40), st.integers(50, 200), st.floats(0.2, 0.9), seeds)
def test_johnson_lindenstrauss_at_the_failure_probability_bound(points, dims, eps, seed):
    assert check("johnson_lindenstrauss", points=points, dims=dims, eps=eps, seed=seed).holds


@given(st.integers(20, 40), seeds)
def test_far_below_the_bound_distances_break(points, seed):
    assert not check("johnson_lindenstrauss", points=points, dims=100, eps=0.9, seed=seed, k=2).holds
