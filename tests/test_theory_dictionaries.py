"""theory.sparse_recovery, theory.circles and theory.compatible: sparse codes that are unique,
a circle against a polygon of atoms, manifolds tiled exactly; each with a negative control."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import compatible, sparse_recovery
from theory.catalogue import BY_ID

seeds = st.integers(0, 2**31 - 1)


def check(claim_id, **instance):
    return BY_ID[claim_id].check(instance)


def test_two_ortho_dictionary_coherence_and_guarantee():
    for n, k in ((4, 1), (16, 2), (64, 4)):
        mu = sparse_recovery.mutual_coherence(sparse_recovery.two_ortho_dictionary(n))
        assert mu == pytest.approx(1 / np.sqrt(n))
        assert sparse_recovery.guaranteed_sparsity(mu) == k


@pytest.mark.parametrize("claim_id", ["omp_recovery", "basis_pursuit_recovery"])
@given(n=st.sampled_from([4, 16, 64]), seed=seeds)
def test_codes_below_the_coherence_bound_are_recovered(claim_id, n, seed):
    assert check(claim_id, n=n, k=None, signals=4, seed=seed).holds


@pytest.mark.parametrize("claim_id", ["omp_recovery", "basis_pursuit_recovery"])
@pytest.mark.parametrize("n", [16, 64])
def test_the_picket_fence_beyond_the_bound_is_not_recovered(claim_id, n):
    D = sparse_recovery.two_ortho_dictionary(n)
    identity_code, hadamard_code = sparse_recovery.picket_fence(n)
    np.testing.assert_allclose(D @ identity_code, D @ hadamard_code, atol=1e-12)  # one signal, two √n-sparse codes
    assert np.abs(identity_code).sum() == np.abs(hadamard_code).sum()  # equal ℓ1: basis pursuit cannot prefer one
    assert not check(claim_id, n=n, picket_fence=True).holds


@given(st.integers(2, 16), st.integers(2, 10), st.integers(1, 4), seeds)
def test_gershgorin_bounds_the_restricted_isometry_constant(n, m, k, seed):
    assert check("gershgorin_rip", n=n, m=m, k=min(k, m), seed=seed).holds


@given(st.integers(2, 16), st.integers(2, 10), st.integers(1, 2), seeds)
def test_columns_that_are_not_unit_length_break_gershgorin(n, m, k, seed):
    assert not check("gershgorin_rip", n=n, m=m, k=k, seed=seed, column_scale=2.0).holds


@given(st.integers(3, 64), st.sampled_from([2, 4, 8]))
def test_one_sparse_mean_and_worst_error_of_a_polygon(m, per_arc):
    assert check("circle_one_sparse_mean_error", m=m, per_arc=per_arc).holds
    assert check("circle_one_sparse_worst_error", m=m, per_arc=per_arc).holds


@given(st.integers(3, 32))
def test_unequally_spaced_atoms_miss_the_polygon_errors(m):
    assert not check("circle_one_sparse_mean_error", m=m, per_arc=16, jitter=0.5).holds
    assert not check("circle_one_sparse_worst_error", m=m, per_arc=16, jitter=0.5).holds


@given(st.integers(3, 24))
def test_two_sparse_codes_are_exact_with_the_predicted_l1(m):
    assert check("circle_two_sparse_mean_l1", m=m, per_arc=4).holds
    assert check("circle_two_sparse_max_l1", m=m, per_arc=2).holds


def test_atoms_on_half_a_circle_leave_points_without_a_code():
    assert not check("circle_two_sparse_mean_l1", m=8, per_arc=2, half_circle=True).holds
    assert not check("circle_two_sparse_max_l1", m=8, per_arc=2, half_circle=True).holds


sizes = {"circle": st.integers(3, 64), "sphere": st.integers(4, 64), "torus": st.integers(3, 32).map(lambda h: 2 * h)}


@pytest.mark.parametrize("structure", compatible.STRUCTURES)
@given(data=st.data())
def test_manifolds_are_reconstructed_exactly_at_their_sparsity(structure, data):
    m, seed = data.draw(sizes[structure]), data.draw(seeds)
    assert check(f"{structure}_exact_sparse_code", structure=structure, m=m, points=200, seed=seed).holds


@pytest.mark.parametrize("structure", compatible.STRUCTURES)
@given(data=st.data())
def test_one_atom_fewer_is_not_exact(structure, data):
    m, seed = data.draw(sizes[structure]), data.draw(seeds)
    sparsity = compatible.EXACT_SPARSITY[structure] - 1
    assert not check(f"{structure}_exact_sparse_code", structure=structure, m=m, points=200, seed=seed, sparsity=sparsity).holds


def test_tradeoff_errors_fall_with_size_and_vanish_at_the_exact_sparsity():
    surface = compatible.tradeoff("circle", [4, 8, 16], [1, 2], points=300)
    assert np.all(np.diff(surface[:, 0]) < 0) and np.all(surface[:, 1] < 1e-20)
    from theory import circles

    np.testing.assert_allclose(surface[:, 0], circles.one_sparse_error_mean(np.array([4, 8, 16])), rtol=0.15)
