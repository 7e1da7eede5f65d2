"""toys.semantic and sae.readers.folding: the planted truth, exact line regions against brute force,
no folds without ReLU, and region versus direction detectors (with controls)."""

import dataclasses
import json

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from experiments.runner import cli
from sae.readers import detectors, folding
from toys import network_training, semantic

# a hand-built 2 → 3 → 3 ReLU network with small integer weights: every kink along a line
# between integer points sits at a rational t with a small denominator, so 200 001 evenly
# spaced points see every piece
HAND_WEIGHTS = [np.array([[1.0, -1.0, 1.0], [1.0, 1.0, -2.0]]), np.array([[1.0, -1.0, 0.0], [2.0, 1.0, -1.0], [-1.0, 1.0, 1.0]])]
HAND_BIASES = [np.array([0.0, 1.0, -1.0]), np.array([-1.0, 0.0, 0.5])]
points = st.tuples(st.integers(-3, 3), st.integers(-3, 3)).map(lambda p: np.array(p, float))


@given(points, points)
def test_exact_line_regions_match_brute_force_on_a_hand_built_network(start, end):
    if np.allclose(start, end):
        return
    exact = folding.line_regions(HAND_WEIGHTS, HAND_BIASES, start, end)
    assert exact == folding.line_regions_brute(HAND_WEIGHTS, HAND_BIASES, start, end, n=200_001)
    assert exact[0] <= exact[1]  # patterns of more layers can only split pieces further


def test_a_single_unit_splits_a_line_through_its_kink_into_two():
    weights, biases = [np.array([[1.0], [0.0]])], [np.zeros(1)]
    assert folding.line_regions(weights, biases, [-1.0, 0.0], [1.0, 0.0]) == [2]
    assert folding.line_regions(weights, biases, [0.5, -1.0], [1.0, 1.0]) == [1]  # never crosses x₁ = 0


def _linear_network(d=8):
    config = semantic.SemanticConfig(d=d, hidden=16, n_layers=3, activation="linear")
    return config, semantic.initial_state(config, jax.random.key(0))


def _second_differences_along(config, state, start, end, n=33):
    """Each hidden layer's activations at n evenly spaced points of the segment, differenced twice
    along it, relative to the activations' scale: 0 exactly when every unit is affine in t."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    x = jax.numpy.asarray(start + t * (end - start), jax.numpy.float32)
    hidden = semantic.model(config, state).layer_activations(x)[0][1:]
    return [float(np.abs(np.diff(np.asarray(h, np.float64), 2, axis=0)).max() / (np.abs(np.asarray(h)).max() + 1e-12)) for h in hidden]


@given(st.lists(st.floats(-2, 2), min_size=16, max_size=16))
def test_a_linear_network_has_one_region_along_any_line(coordinates):
    # the property itself: the network's own forward pass is affine along the line (zero second
    # differences, float32 rounding aside), so the exact count of one piece per layer is right
    config, state = _linear_network()
    start, end = np.array(coordinates[:8]), np.array(coordinates[8:])
    assert max(_second_differences_along(config, state, start, end)) < 1e-4
    weights, biases = semantic.dense_layers(config, state)
    assert folding.line_regions(weights, biases, start, end, fold=False) == [1, 1, 1]


def test_a_relu_network_bends_along_a_line_and_its_pieces_are_counted():
    # counterpart: the same network with ReLU is not affine along a long line, and the exact
    # count (fold=True) sees the pieces that brute force sees
    config = semantic.SemanticConfig(d=8, hidden=16, n_layers=3, activation="relu")
    state = semantic.initial_state(config, jax.random.key(0))
    start, end = -3 * np.ones(8), 3 * np.ones(8)
    start[::2], end[::2] = 3.0, -3.0
    assert max(_second_differences_along(config, state, start, end)) > 1e-2
    weights, biases = semantic.dense_layers(config, state)
    exact = folding.line_regions(weights, biases, start, end)
    assert exact[-1] > 1 and exact == folding.line_regions_brute(weights, biases, start, end)


def test_a_relu_network_that_never_folds_on_its_inputs_has_one_region():
    rng = np.random.default_rng(0)
    weights = [np.abs(rng.standard_normal((4, 6))), np.abs(rng.standard_normal((6, 5)))]
    biases = [np.ones(6), np.ones(5)]  # positive weights, positive inputs: every unit stays on
    assert folding.line_regions(weights, biases, np.zeros(4), np.ones(4) * 3) == [1, 1]


def test_linear_separability_is_unchanged_through_a_linear_network():
    config, state = _linear_network()
    network = semantic.model(config, state)
    basis = semantic.isometry(jax.random.key(1), config.d)
    spirals = semantic.sample(dataclasses.replace(config, activation="linear"), basis, jax.random.key(2), 600)
    rng = np.random.default_rng(3)
    blob_labels = rng.random(600) < 0.5
    blobs = rng.standard_normal((600, config.d)) * 0.3 + np.where(blob_labels[:, None], 2.0, -2.0)
    for x, labels, expected in ((np.asarray(spirals.x), np.asarray(spirals.labels) == 1, False), (blobs, blob_labels, True)):
        layers, _ = network.layer_activations(x)
        assert [folding.linearly_separable(np.asarray(a), labels) for a in layers] == [expected] * 4


def test_a_relu_classifier_separates_the_spirals_it_was_trained_on():
    config = semantic.SemanticConfig(d=8, hidden=32, n_layers=3, steps=1500)
    basis = semantic.isometry(jax.random.key(1), config.d)
    network = semantic.train(semantic.Task(config, basis), jax.random.key(0)[None])
    state = network_training.select(network.state, 0)
    sample = semantic.sample(config, basis, jax.random.key(2), 800)
    layers, _ = semantic.model(config, state).layer_activations(sample.x)
    labels = np.asarray(sample.labels) == 1
    separable = [folding.linearly_separable(np.asarray(a), labels) for a in layers]
    assert separable[0] is False and separable[-1] is True
    # the same layers, as toys: layer(network, name) carries fresh samples of the task there
    last = semantic.layer(network, semantic.layer_names(config)[-1])
    assert last.d == config.hidden and last.sample(jax.random.key(3), 5).x.shape == (5, config.hidden)
    with pytest.raises(ValueError, match="layer: got 'hidden9'"):
        semantic.layer(network, "hidden9")


@pytest.mark.parametrize("manifold", semantic.MANIFOLDS)
def test_samples_carry_their_truth(manifold):
    config = semantic.SemanticConfig(manifold=manifold, d=12, ambiguous_fraction=0.2, background_fraction=0.1)
    basis = semantic.isometry(jax.random.key(0), config.d)
    np.testing.assert_allclose(np.asarray(basis @ basis.T), np.eye(2), atol=1e-5)
    s = semantic.sample(config, basis, jax.random.key(1), 20_000)
    np.testing.assert_allclose(np.asarray(s.x), np.asarray(s.positions @ basis), atol=1e-5)  # lifted plane points
    labels, targets = np.asarray(s.labels), np.asarray(s.targets)
    for value, share in ((semantic.NEITHER, 0.1), (semantic.AMBIGUOUS, 0.2)):
        assert abs(np.mean(labels == value) - share) < 6 * np.sqrt(share * (1 - share) / len(labels))
    assert np.all(targets[labels == semantic.AMBIGUOUS] == np.array([0.5, 0.5, 0.0]))
    clean = labels >= 0
    assert np.all(targets[clean].argmax(axis=1) == labels[clean])
    assert np.all(np.isnan(np.asarray(s.latent)[labels == semantic.NEITHER]))


def test_ball_in_shell_radii_and_subspace():
    x, labels = semantic.ball_in_shell(jax.random.key(0), 4000, 10, ball_dims=3)
    x, labels = np.asarray(x), np.asarray(labels)
    radius = np.linalg.norm(x, axis=1)
    assert radius[labels == 1].max() <= 1.0 + 1e-5
    assert radius[labels == 0].min() >= 1.5 - 1e-5 and radius[labels == 0].max() <= 2.0 + 1e-5
    assert np.linalg.matrix_rank(x, tol=1e-4) == 3


def test_a_ball_is_a_region_for_knn_but_no_direction_and_a_half_space_is_both():
    """Negative control of the detector comparison: when the concept *is* a half-space, the probe reads it too."""
    x, labels = semantic.ball_in_shell(jax.random.key(0), 3000, 8, ball_dims=3)
    x, inside = np.asarray(x), np.asarray(labels).astype(bool)
    rows = np.arange(len(x)) < 1500
    assert detectors.held_out(detectors.linear_probe(), x, inside, rows)[1] <= 0.75
    assert detectors.held_out(detectors.region_detector(), x, inside, rows)[1] >= 0.95
    half_space = x[:, 0] + x[:, 1] > 0
    assert detectors.held_out(detectors.linear_probe(), x, half_space, rows)[1] >= 0.99


def test_gradient_turning_is_zero_for_one_direction_and_large_for_a_field():
    assert folding.gradient_turning(np.tile([[1.0, 2.0]], (50, 1)) * np.arange(1, 51)[:, None]) == pytest.approx(0.0)
    angles = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    assert folding.gradient_turning(np.stack([np.cos(angles), np.sin(angles)], axis=1)) == pytest.approx(1.0)
    config, state = _linear_network()
    gradients = semantic.logit_gradients(config, state, np.random.default_rng(0).standard_normal((20, config.d)))
    assert folding.gradient_turning(gradients) < 1e-6  # a linear network has one gradient everywhere


def test_squashed_share_and_class_spread():
    acts = np.array([[0.0, 1.0], [0.0, 0.0], [2.0, 3.0], [4.0, 5.0]])
    labels = np.array([0, 0, 1, 1])
    shares = folding.squashed_share(acts, labels, [0, 1])
    assert shares["0"] == {"units_at_zero": 0.75, "points_on_a_face": 1.0, "per_unit": [1.0, 0.5]}
    assert shares["1"] == {"units_at_zero": 0.0, "points_on_a_face": 0.0, "per_unit": [0.0, 0.0]}
    spread = folding.class_spread(acts, labels, [0, 1])
    assert 0 < spread["0"] < spread["1"] < 1


TINY_ZOOM_OUT = [
    "--set",
    "toy.d=8",
    "--set",
    "toy.hidden=16",
    "--set",
    "toy.n_layers=2",
    "--set",
    "toy.steps=300",
    "--set",
    "n_samples=600",
    "--set",
    "n_lines=3",
    "--set",
    "grid=9",
    "--set",
    "ball_samples=600",
    "--set",
    "sae_size=16",
    "--set",
    "sae_steps=200",
]


def test_zoom_out_results_contract(tmp_path):
    assert cli.main(["run", "zoom-out", "--quick", "--out", str(tmp_path), *TINY_ZOOM_OUT]) == 0
    folder = next((tmp_path / "zoom-out").iterdir())
    results = json.loads((folder / "results.json").read_text())
    spirals = results["spirals"]
    for key in ("linear_probe_accuracy_by_layer", "region_accuracy_by_layer", "separable_by_layer"):
        assert len(spirals[key]) == 3  # input and two hidden layers
    assert all(0.0 <= value <= 1.0 for value in spirals["region_accuracy_by_layer"])
    # the linear control's one piece per line means something only beside a network that folds
    assert spirals["control_linear"]["line_regions_mean_by_layer"] == [1.0, 1.0]
    assert spirals["line_regions"]["max_by_layer"][-1] > 1
    ball = results["ball_concept"]
    assert {"linear_probe_auroc", "sae_latent_auroc", "random_atom_auroc", "region_auroc"} <= set(ball)
    assert all(0.5 <= ball[name] <= 1.0 for name in ("sae_latent_auroc", "random_atom_auroc"))  # read either way
    assert {p.name for p in (folder / "figures").iterdir()} == {"layers.png", "probe_vs_region.png", "ball_detectors.png"}
    # toylab evaluate re-reads the saved ball SAE with the study's grader, on the rebuilt held-out samples:
    # every number the run's table holds for it, equal
    assert cli.main(["evaluate", str(folder)]) == 0
    rescored = json.loads((folder / "dictionaries" / "results.json").read_text())
    agreement = rescored["agreement_with_run"]
    assert agreement["compared"] == 3 and agreement["equal"] == 3, agreement
