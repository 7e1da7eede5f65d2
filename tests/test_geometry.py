"""sae.readers.geometry: PCA of a planted circle, principal angles, ordering score, elbow, group scores."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sae.readers import geometry


def _random_plane(rng, d):
    q, _ = np.linalg.qr(rng.standard_normal((d, 3)))
    return q[:, :2].T, q[:, 2]  # (u, v) rows and an orthogonal offset direction


@given(st.integers(3, 40), st.floats(0.1, 5.0), st.integers(3, 12), st.integers(0, 2**16))
def test_planted_circle_pca_eigenvalues(n_points, radius, d, seed):
    plane, offset = _random_plane(np.random.default_rng(seed), d)
    theta = 2 * np.pi * np.arange(n_points) / n_points
    points = 3.0 * offset + radius * (np.cos(theta)[:, None] * plane[0] + np.sin(theta)[:, None] * plane[1])
    eigenvalues = geometry.pca(points).eigenvalues
    expected = n_points * radius**2 / 2
    np.testing.assert_allclose(eigenvalues[:2], [expected, expected], rtol=1e-9)
    np.testing.assert_allclose(eigenvalues[2:], 0.0, atol=1e-9 * expected)
    assert geometry.zhu_ghodsi_elbow(eigenvalues[: min(d, 10)]) == 2


def _pairwise_fisher_lee(alpha, theta):
    da = np.sin(alpha[:, None] - alpha[None])
    dt = np.sin(theta[:, None] - theta[None])
    upper = np.triu_indices(len(alpha), 1)
    return np.sum(da[upper] * dt[upper]) / np.sqrt(np.sum(da[upper] ** 2) * np.sum(dt[upper] ** 2))


@given(st.integers(0, 2**16), st.integers(5, 60))
def test_circular_correlation_matches_pairwise_definition(seed, n):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, n)
    alpha = theta + rng.normal(0, 0.8, n)
    np.testing.assert_allclose(geometry.circular_correlation(alpha, theta), _pairwise_fisher_lee(alpha, theta), atol=1e-9)


@given(st.floats(0, 2 * np.pi), st.booleans(), st.integers(0, 2**16))
def test_ordering_score_is_one_on_truth_and_invariant(rotation, reflect, seed):
    theta = np.random.default_rng(seed).uniform(0, 2 * np.pi, 50)
    assert np.isclose(geometry.ordering_score(theta, theta), 1.0)
    moved = (-theta if reflect else theta) + rotation
    assert np.isclose(geometry.ordering_score(moved, theta), 1.0)
    noisy = theta + np.random.default_rng(seed + 1).normal(0, 0.5, 50)
    assert np.isclose(geometry.ordering_score(noisy, theta), geometry.ordering_score((-noisy if reflect else noisy) + rotation, theta))


def test_ordering_score_is_low_for_unrelated_angles():
    rng = np.random.default_rng(0)
    assert geometry.ordering_score(rng.uniform(0, 2 * np.pi, 2000), rng.uniform(0, 2 * np.pi, 2000)) < 0.1


@given(st.integers(3, 16), st.integers(0, 2**16))
def test_principal_angles_zero_for_truth_ninety_for_orthogonal(d, seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, 4)))
    plane = q[:, :2].T
    c, s = np.cos(0.7), np.sin(0.7)
    rotated = np.array([[c, -s], [s, c]]) @ plane * np.array([[2.0], [0.5]])  # another basis of the same plane
    np.testing.assert_allclose(geometry.principal_angles_deg(rotated, plane), 0.0, atol=1e-5)
    np.testing.assert_allclose(geometry.principal_angles_deg(q[:, 2:].T, plane), 90.0, atol=1e-5)


def _circle_dictionary(rng, d, n_atoms, n_random, offset):
    plane, offset_direction = _random_plane(rng, d)
    angles = 2 * np.pi * np.arange(n_atoms) / n_atoms
    tiles = offset * offset_direction + np.cos(angles)[:, None] * plane[0] + np.sin(angles)[:, None] * plane[1]
    random_atoms = rng.standard_normal((n_random, d))
    return plane, offset_direction, tiles, random_atoms


def _one_sparse_codes(x, decoder):
    unit = decoder / np.linalg.norm(decoder, axis=1, keepdims=True)
    overlaps = x @ unit.T
    codes = np.zeros_like(overlaps)
    best = np.argmax(overlaps, axis=1)
    codes[np.arange(len(x)), best] = np.maximum(overlaps[np.arange(len(x)), best], 0)
    return codes, unit


def _match(decoder, x, plane, span, present, theta):
    from sae.readers import manifold_finder

    codes, unit = _one_sparse_codes(x, decoder)
    groups = [latents for _, latents in manifold_finder.candidate_groups(codes, unit)]
    return geometry.match_circle(codes, unit, groups, plane, span, present, theta)


def test_the_finder_finds_a_planted_tiling_and_fails_on_random_atoms():
    rng = np.random.default_rng(0)
    d, n_atoms, n_random = 32, 12, 60
    plane, offset_direction, tiles, random_atoms = _circle_dictionary(rng, d, n_atoms, n_random, offset=1.5)
    span = np.vstack([plane, offset_direction])
    theta = rng.uniform(0, 2 * np.pi, 3000)
    on_circle = rng.uniform(size=3000) < 0.5
    circle = 1.5 * offset_direction + np.cos(theta)[:, None] * plane[0] + np.sin(theta)[:, None] * plane[1]
    other = rng.standard_normal((3000, d)) @ (random_atoms.T @ random_atoms) / n_random
    x = np.where(on_circle[:, None], circle, other)
    found = _match(np.vstack([tiles, random_atoms]), x, plane, span, on_circle, theta)
    assert found.purity == 1.0 and found.recall == 1.0
    assert found.max_principal_angle_deg < 5.0 and found.ordering_score > 0.95
    # the same search over a dictionary whose circle atoms were replaced by random ones
    control = _match(np.vstack([rng.standard_normal((n_atoms, d)), random_atoms]), x, plane, span, on_circle, theta)
    assert control.purity < 0.5 and control.max_principal_angle_deg > 30.0


def test_elbow_and_membership():
    assert geometry.zhu_ghodsi_elbow([9.0, 8.5, 0.2, 0.1, 0.05, 0.01]) == 2
    assert geometry.zhu_ghodsi_elbow([5.0]) == 1
    span = np.eye(6)[:3]
    rows = np.array([[1, 1, 0, 0.1, 0, 0], [0, 0, 0, 1, 1, 1.0], [1, 0, 0, 0.9, 0, 0]])
    np.testing.assert_array_equal(geometry.on_manifold(rows, span), [True, False, True])
    assert not geometry.on_manifold(rows, np.zeros((0, 6))).any()
    labels = np.array([0, -1, 0, 1, 2, 2])
    assert [list(g) for g in geometry.groups(labels)] == [[0, 2], [4, 5]]


def test_ordering_is_unavailable_on_too_few_samples_or_values():
    # 3 points on a circle are always in order or reversed: a "perfect" score that means nothing
    rng = np.random.default_rng(0)
    d = 6
    plane = np.eye(d)[:2]
    theta = rng.choice([0.0, 2 * np.pi / 7, 4 * np.pi / 7], size=500)  # three adjacent days only
    x = np.stack([np.cos(theta), np.sin(theta)], 1) @ plane
    decoder = np.vstack([plane, -plane])
    codes = np.maximum(x @ decoder.T, 0)
    groups = [np.arange(4)]
    match = geometry.match_circle(codes, decoder, groups, plane, plane, np.ones(500, bool), theta)
    assert match.ordering_score is None and match.ordering_samples == 500
    few = geometry.match_circle(codes[:50], decoder, groups, plane, plane, np.ones(50, bool), rng.uniform(0, 6.28, 50))
    assert few.ordering_score is None and few.ordering_samples == 50


# --- "in order" as meant (issue: per-value centroids; a rank correlation ties do not lower) ---------


def _circle_cloud(period, radius, d, noise, rotation, reflect, seed, positions=None, n=1500):
    """Samples of a P-value circle in R^d (random isometry), read back in their top-2 PCA plane."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % period)  # balanced: every value equally often
    where = np.arange(period) if positions is None else np.asarray(positions)
    angle = 2 * np.pi * where[labels] / period * (-1 if reflect else 1) + rotation
    plane = np.linalg.qr(rng.normal(size=(d, 2)))[0].T
    x = radius * np.stack([np.cos(angle), np.sin(angle)], 1) @ plane + noise * radius * rng.normal(size=(n, d))
    fitted = geometry.pca(x)
    points = (x - fitted.mean) @ fitted.components[:2].T
    return points, labels, 2 * np.pi * labels / period


circle_settings = given(
    st.integers(5, 24),
    st.floats(0.1, 10),
    st.integers(2, 16),
    st.floats(0, 0.02),
    st.floats(0, 2 * np.pi),
    st.booleans(),
    st.integers(0, 10_000),
)


@circle_settings
def test_the_truth_is_in_cyclic_order_under_any_rotation_or_reflection(period, radius, d, noise, rotation, reflect, seed):
    points, labels, theta = _circle_cloud(period, radius, d, noise, rotation, reflect, seed)
    assert geometry.cyclic_order(points, labels, period) == (True, 1.0)
    alpha = geometry.group_angles(points, labels)
    assert geometry.rank_circular_correlation(alpha, theta, period, seed=seed) >= 0.98


@circle_settings
def test_merging_neighbouring_values_keeps_the_order(period, radius, d, noise, rotation, reflect, seed):
    # Ties: a k = 1 latent covering several neighbouring values puts them at one place.
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.choice(period, size=max(4, period // 3), replace=False))  # ≥ 4 places remain
    positions = starts[np.searchsorted(starts, np.arange(period), side="right") - 1] if starts[0] == 0 else None
    if positions is None:
        starts = np.concatenate([[0], starts[1:]])
        positions = starts[np.searchsorted(starts, np.arange(period), side="right") - 1]
    points, labels, theta = _circle_cloud(period, radius, d, noise, rotation, reflect, seed, positions)
    assert geometry.cyclic_order(points, labels, period) == (True, 1.0)
    alpha = geometry.group_angles(points, labels)
    assert geometry.rank_circular_correlation(alpha, theta, period, seed=seed) >= 0.98
    # the per-sample score (c) is what ties lower
    if len(set(positions.tolist())) < period:
        assert geometry.ordering_score(alpha, theta) < 0.999


def _dihedral(permutation):
    period = len(permutation)
    steps = (np.roll(permutation, -1) - permutation) % period
    return bool(np.all(steps == 1) or np.all(steps == period - 1))


@given(st.integers(5, 24), st.integers(0, 10_000))
def test_a_shuffled_order_is_not_in_order_and_scores_below_one_swap(period, seed):
    # A non-dihedral shuffle reverses the orientation of at least the P − 2 value triples that
    # one adjacent swap reverses, of C(P, 3): the triple score is at most 1 − 2(P − 2)/C(P, 3)
    # (0.4 at P = 5, 0.98 at P = 24), plus 0.05 for sampling the triples: of 20,000 drawn, about
    # 9,600 are usable at P = 5 (more at larger P), σ ≤ 1/√9600 ≈ 0.01, so 0.05 is 5σ.
    from math import comb

    rng = np.random.default_rng(seed)
    bound = 1 - 2 * (period - 2) / comb(period, 3) + 0.05
    for attempt in range(10):
        permutation = rng.permutation(period)
        if _dihedral(permutation):
            continue
        points, labels, theta = _circle_cloud(period, 1.0, 4, 0.0, 0.0, False, seed + attempt, permutation)
        assert geometry.cyclic_order(points, labels, period)[0] is False
        score = geometry.rank_circular_correlation(geometry.group_angles(points, labels), theta, period)
        assert score <= bound, (score, bound)


@given(st.integers(5, 24), st.integers(0, 10_000))
def test_structureless_inputs_score_at_chance(period, seed):
    # Null: angles independent of the values. Over 300 simulated nulls the 99.9th percentile
    # of the rank correlation is 0.032; 0.05 is the bound. Exact cyclic order of P random
    # centroids has probability 2/(P − 1)!, under 5% from P = 5 up.
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, period, 1500)
    points = rng.normal(size=(1500, 2))
    theta = 2 * np.pi * labels / period
    assert geometry.rank_circular_correlation(geometry.group_angles(points, labels), theta, period, seed=seed) < 0.05


def test_cyclic_order_is_unavailable_below_four_values():
    points = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    assert geometry.cyclic_order(points, np.array([0, 1, 2]), 7) == (None, None)
