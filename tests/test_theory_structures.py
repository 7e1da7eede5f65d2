"""theory.superposition, theory.gram, theory.clock and theory.absorption: each claim on generated
instances, and a negative control that violates its hypothesis."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from theory import superposition
from theory.catalogue import BY_ID
from toys.modular import is_prime

seeds = st.integers(0, 2**31 - 1)


def check(claim_id, **instance):
    return BY_ID[claim_id].check(instance)


matrices = st.integers(1, 5).flatmap(
    lambda m: st.integers(1, 8).flatmap(lambda n: hnp.arrays(np.float64, (m, n), elements=st.floats(-3, 3, allow_subnormal=False)))
)


@given(matrices)
def test_feature_dimensionality_bounds(W):
    assert check("dimensionality_at_most_one", W=W).holds
    assert check("dimensionality_capacity", W=W).holds


@given(st.integers(1, 6), st.floats(0.2, 0.8))
def test_without_the_unit_vector_short_features_break_the_bounds(n, length):
    W = length * np.eye(n)  # n features with a dimension each, all shorter than 1
    assert not check("dimensionality_at_most_one", W=W, normalise=False).holds
    assert not check("dimensionality_capacity", W=W, normalise=False).holds


@given(st.integers(1, 10).flatmap(lambda d: st.tuples(st.just(d), st.integers(d + 1, 30))))
def test_equal_norm_tight_frames_give_d_over_k(shape):
    d, k = shape
    W = superposition.harmonic_frame(d, k)
    np.testing.assert_allclose(W @ W.T, k / d * np.eye(d), atol=1e-9)  # tight
    np.testing.assert_allclose(np.linalg.norm(W, axis=0), 1.0, atol=1e-12)  # equal norm
    assert check("tight_frame_dimensionality", d=d, k=k).holds


@given(st.integers(2, 10).flatmap(lambda d: st.tuples(st.just(d), st.integers(d + 1, 30))), seeds)
def test_a_random_unit_frame_is_not_tight_and_misses_d_over_k(shape, seed):
    d, k = shape
    assert not check("tight_frame_dimensionality", d=d, k=k, random=True, seed=seed).holds


@given(st.floats(0.01, 0.99), st.floats(0.1, 1.0))
def test_two_feature_candidate_losses(p, r):
    assert check("two_features_antipodal_loss", p=p, r=r, grid=400).holds
    assert check("two_features_ignore_one_loss", p=p, r=r, grid=400).holds


@given(st.floats(0.3, 1.0))
def test_the_crossover_moves_with_importance(r):
    """The measured crossover is 4r/(2 + 5r): 4/7 only at equal importance (the negative control)."""
    measured = superposition.measured_crossover(r, grid=300)
    assert measured == pytest.approx(superposition.crossover_probability(r), abs=1e-4)
    assert check("two_features_crossover", r=r, grid=300).holds == (abs(r - 1.0) < 1e-3)


@given(st.integers(1, 8), st.integers(1, 20), seeds)
def test_procrustes_recovers_the_orthogonal_map(d, N, seed):
    assert check("procrustes", d=d, N=N, seed=seed).holds


@given(st.integers(1, 8), st.integers(1, 20), seeds)
def test_a_different_gram_matrix_is_not_an_orthogonal_map_away(d, N, seed):
    assert not check("procrustes", d=d, N=N, seed=seed, rescale=1.5).holds


@given(st.integers(1, 64), seeds)
def test_circulant_matrices_have_fourier_eigenvectors(N, seed):
    assert check("circulant_eigenvectors", N=N, seed=seed).holds


@given(st.integers(2, 64), seeds)
def test_a_toeplitz_matrix_without_wrap_around_does_not(N, seed):
    assert not check("circulant_eigenvectors", N=N, seed=seed, wrap=False).holds


@given(st.integers(3, 50), st.integers(2, 10), st.floats(0.1, 10.0), seeds)
def test_circle_pca_eigenvalues(N, d, radius, seed):
    assert check("circle_pca", N=N, d=d, radius=radius, seed=seed).holds


@given(st.integers(3, 50), st.integers(2, 10), seeds)
def test_two_points_or_unequal_spacing_break_the_circle_spectrum(N, d, seed):
    assert not check("circle_pca", N=2, d=d, radius=1.0, seed=seed).holds
    assert not check("circle_pca", N=N, d=d, radius=1.0, seed=seed, jitter=0.5).holds


primes = st.sampled_from([p for p in range(3, 120) if is_prime(p)])


@given(primes.flatmap(lambda p: st.tuples(st.just(p), st.sets(st.integers(1, (p - 1) // 2), min_size=1, max_size=6))))
def test_the_ideal_clock_reads_a_plus_b(case):
    p, frequencies = case
    assert check("ideal_clock", p=p, frequencies=sorted(frequencies)).holds


@given(
    st.sampled_from([4, 6, 8, 9, 10, 12, 15, 21]).flatmap(
        lambda p: st.sampled_from([g for g in range(2, p) if p % g == 0]).map(lambda g: (p, g))
    )
)
def test_a_composite_modulus_with_shared_factors_ties(case):
    p, factor = case
    frequencies = list(range(factor, p // 2 + 1, factor))
    assert not check("ideal_clock", p=p, frequencies=frequencies).holds


probabilities = st.tuples(st.floats(0.01, 0.6), st.floats(0.01, 0.39))


@given(probabilities)
def test_absorption_saves_l1_and_matryoshka_flips_at_the_condition(p):
    p10, p11 = p
    assert check("absorption_l1_saving", p10=p10, p11=p11).holds
    assert check("matryoshka_preference", p10=p10, p11=p11).holds


@given(probabilities, st.floats(0.01, 0.3))
def test_a_child_firing_alone_or_an_unnested_loss_breaks_them(p, p01):
    p10, p11 = p
    assert not check("absorption_l1_saving", p10=min(p10, 0.5), p11=min(p11, 0.19), p01=p01).holds
    assert not check("matryoshka_preference", p10=p10, p11=p11, nested=False).holds
