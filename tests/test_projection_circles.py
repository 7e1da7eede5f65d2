"""Rings in 2-D projections of a latent group (sae.readers.projection_circles), their knockoff
placement, the random-task null network and the modular-clock study's contract."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.runner import table
from sae.readers import knockoff, manifold_grading, projection_circles, ring_search
from toys import modular

P = 37


def multi_frequency(frequencies, seed=0, noise=0.02, d=48, offset=0.5):
    """An idealised dictionary of a modular embedding: one latent per residue, row a =
    c + Σ_f (cos(2πfa/p) u_f + sin(2πfa/p) v_f) + noise; codes fire one latent per sample.
    Returns (codes [3p, p], decoder [p, d], {f: rows [2, d]})."""
    rng = np.random.default_rng(seed)
    frame = np.linalg.qr(rng.normal(size=(d, 2 * len(frequencies) + 1)))[0].T
    a = np.arange(P)
    rows = offset * frame[-1] + noise * rng.normal(size=(P, d))
    for i, f in enumerate(frequencies):
        rows = rows + np.cos(2 * np.pi * f * a / P)[:, None] * frame[2 * i] + np.sin(2 * np.pi * f * a / P)[:, None] * frame[2 * i + 1]
    return np.repeat(np.eye(P), 3, axis=0), rows, {f: frame[2 * i : 2 * i + 2] for i, f in enumerate(frequencies)}


@settings(max_examples=6, derandomize=True, deadline=None)
@given(st.lists(st.integers(1, (P - 1) // 2), min_size=1, max_size=3, unique=True), st.integers(0, 1000))
def test_every_frequency_of_a_multi_frequency_group_is_a_ring_plane(frequencies, seed):
    codes, decoder, planted = multi_frequency(frequencies, seed)
    planes = projection_circles.ring_planes(codes, decoder, np.arange(P), seed=seed)
    owners = {manifold_grading.frequency_of_plane(plane.basis, planted): plane.evidence for plane in planes}
    for f in frequencies:
        assert f in owners and owners[f] > 0.75, (f, owners)


def test_random_rows_and_a_filled_disc_hold_no_such_ring():
    """The counterparts: rows with no ring (Gaussian) reach less than the planted rings' evidence, and
    points filling a disc (a region, not a ring) have roundness 0."""
    codes, decoder, _ = multi_frequency([3, 11], seed=1)
    planted = max(plane.evidence for plane in projection_circles.ring_planes(codes, decoder, np.arange(P)))
    rng = np.random.default_rng(0)
    random_rows = rng.normal(size=(P, 48)) / np.sqrt(48) * np.sqrt(5)
    best_random = max(plane.evidence for plane in projection_circles.ring_planes(codes, random_rows, np.arange(P)))
    assert best_random < planted - 0.05
    radius = np.sqrt(rng.uniform(size=400))
    angle = rng.uniform(0, 2 * np.pi, size=400)
    disc = np.zeros((400, 10))
    disc[:, 0], disc[:, 1] = radius * np.cos(angle), radius * np.sin(angle)
    planes = projection_circles.ring_planes(np.eye(400), disc, np.arange(400), max_planes=1)
    assert planes[0].roundness < 0.2


def test_the_ring_quadric_of_a_ring_is_its_plane_over_its_radius_squared():
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, 2 * np.pi, 50)
    frame = np.linalg.qr(rng.normal(size=(5, 2)))[0]
    points = 2.0 * (np.cos(angles)[:, None] * frame[:, 0] + np.sin(angles)[:, None] * frame[:, 1])
    quadric = ring_search.ring_quadric(points)
    assert np.allclose(np.einsum("ni,ij,nj->n", points, quadric, points), 1.0, atol=1e-8)
    values, vectors = np.linalg.eigh(quadric)
    top = vectors[:, np.argsort(np.abs(values))[-2:]]
    assert manifold_grading.frequency_of_plane(top.T, {1: frame.T}) == 1


def test_a_plane_is_searched_only_among_directions_the_points_overdetermine():
    """Few points in many directions: the search keeps q ≤ (r − 1)/6 + 2, so 13 points search 4."""
    rng = np.random.default_rng(0)
    decoder = rng.normal(size=(13, 30))
    planes = projection_circles.ring_planes(np.eye(13), decoder, np.arange(13))
    assert len(planes) == 2  # 4 directions: two planes, then nothing left


def test_the_spread_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    coordinates = rng.normal(size=(40, 5))
    plane = np.linalg.qr(rng.normal(size=(5, 2)))[0]
    value, gradient = ring_search.spread(coordinates, plane)
    step = 1e-6
    numeric = np.zeros_like(plane)
    for i in range(5):
        for j in range(2):
            shifted = plane.copy()
            shifted[i, j] += step
            numeric[i, j] = (ring_search.spread(coordinates, shifted)[0] - value) / step
    assert np.allclose(gradient, numeric, rtol=1e-3, atol=1e-5)


def test_projection_placement_puts_each_ring_equally_spaced_in_its_order():
    rng = np.random.default_rng(0)
    decoder = rng.normal(size=(12, 20))
    group = np.arange(6)
    rings = [knockoff.RingDescription(np.array([3, 1, 5, 0, 2, 4]), 2.0)]
    placement = knockoff.projection_placement(rng, decoder, [group], [rings])
    centred = placement[group] - placement[group].mean(axis=0)
    ordered = centred[[3, 1, 5, 0, 2, 4]]
    assert np.allclose(np.linalg.norm(ordered, axis=1), 2.0)
    neighbours = np.linalg.norm(np.roll(ordered, -1, axis=0) - ordered, axis=1)
    assert np.allclose(neighbours, 2.0)  # a hexagon's side equals its radius
    assert np.allclose(np.linalg.norm(placement[6:], axis=1), np.linalg.norm(decoder[6:], axis=1))


def test_the_random_task_is_a_fixed_table_without_cyclic_structure():
    config = modular.ModularConfig(p=7, task="random")
    first, second = modular.labels(config), modular.labels(config)
    assert np.array_equal(first, second) and first.min() >= 0 and first.max() < 7
    a, b = modular.all_pairs(7)
    assert np.mean(first == (a + b) % 7) < 0.5
    assert np.array_equal(modular.labels(modular.ModularConfig(p=7)), (a + b) % 7)


@pytest.mark.parametrize("task", ["random"])
def test_the_modular_clock_refuses_a_non_addition_network(task, tmp_path):
    from experiments.runner.cli import main

    code = main(["run", "modular-clock", "--quick", "--set", f"toy.task={task}", "--out", str(tmp_path)])
    assert code == 2 and not any(tmp_path.iterdir())


def test_modular_clock_results_contract(tmp_path):
    from experiments.studies import modular_clock

    config = modular_clock.Config(
        seeds=1,
        null_networks=2,
        toy=modular.ModularConfig(p=7, steps=30, embed_dim=8, hidden=16),
        sae_size=16,
        k=2,
        sae_steps=30,
        sae_batch_size=16,
    )
    outcome = modular_clock.run(config)
    results = {**outcome.results, "table": table.to_json(outcome.table)}  # as the runner writes results.json
    # its results table: every key frequency's grading and every space's held-out accuracy beside 1/p
    rows = outcome.table
    assert {row.metric for row in rows if row.reader == "projection circles"} >= {"found", "claimed", "rank", "p_value"}
    assert all(row.chance == 1 / 7 for row in rows if row.metric == "heldout_accuracy")
    assert results["null"]["networks"] == 2 and len(results["null"]["top_evidence"]) == 2
    network = results["networks"][0]
    assert set(network["knockoff_heldout_accuracy"]) == set(modular_clock.SPACES)
    assert [f["frequency"] for f in network["frequencies"]] == network["key_frequencies"]
    for f in network["frequencies"]:
        assert f["found"] == (f["rank"] is not None)
        assert not f["claimed"]  # two nulls cannot reach p ≤ 0.05
    assert "key frequencies" in modular_clock.summary(results)
