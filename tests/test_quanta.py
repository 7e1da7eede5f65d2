"""toys.quanta, sae.readers.clustering and theory.projections: labels by definition, per-example
gradients against one-at-a-time gradients, the streamed standardisation and projection,
the Johnson–Lindenstrauss tolerance (and its failure below the bound), clustering oracles,
and the `quanta` run contract."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cli_args import sets
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.runner import cli
from sae.readers import clustering
from theory import projections
from toys import quanta

TINY = quanta.QuantaConfig(n_tasks=3, n_bits=6, k=2, hidden=8, steps=10, batch_size=16)


@settings(max_examples=8)
@given(st.integers(0, 10_000), st.sampled_from([1, 3]))
def test_parity_labels_match_their_definition(seed, k):
    config = quanta.QuantaConfig(n_tasks=5, n_bits=10, k=k)
    key_subsets, key_sample = jax.random.split(jax.random.key(seed))
    subsets = quanta.draw_subsets(config, key_subsets)
    assert all(len(set(row)) == config.k for row in subsets.tolist())
    batch = quanta.sample(config, subsets, key_sample, 64)
    x = np.asarray(batch.x)
    for row, task, label in zip(x, np.asarray(batch.tasks), np.asarray(batch.labels)):
        assert row[: config.n_tasks].tolist() == [1.0 if t == task else 0.0 for t in range(config.n_tasks)]
        bits = row[config.n_tasks :].astype(int)
        assert label == sum(bits[i] for i in subsets[task]) % 2


def test_tasks_follow_the_zipf_law():
    config = quanta.QuantaConfig(n_tasks=4, n_bits=4, k=1, zipf_exponent=1.0)
    batch = quanta.sample(config, quanta.draw_subsets(config, jax.random.key(0)), jax.random.key(1), 40_000)
    observed = np.bincount(np.asarray(batch.tasks), minlength=4) / 40_000
    expected = np.array([1, 1 / 2, 1 / 3, 1 / 4]) / (25 / 12)
    assert np.allclose(observed, expected, atol=6 * np.sqrt(expected / 40_000))


def one_at_a_time(state, x):
    margin = quanta.margin_fn(TINY)
    rows = []
    for xi in x:  # the reference: one jax.grad per example, no vmap
        grads = jax.grad(margin)(state, jnp.asarray(xi))
        flat = np.concatenate([np.ravel(g) for g in jax.tree.leaves(grads)])
        rows.append(flat / np.linalg.norm(flat))
    return np.stack(rows)


def test_vmapped_per_example_gradients_equal_one_at_a_time_gradients():
    state = quanta.initial_state(TINY, jax.random.key(0))
    batch = quanta.sample(TINY, quanta.draw_subsets(TINY, jax.random.key(1)), jax.random.key(2), 13)
    reference = one_at_a_time(state, np.asarray(batch.x))
    np.testing.assert_allclose(quanta.raw_gradients(TINY, state, batch.x), reference, rtol=1e-4, atol=1e-6)
    # streamed standardisation over chunks of 5 (13 rows: a padded last chunk) = NumPy's z-score
    std = reference.std(0)
    expected = np.where(std > 1e-12, (reference - reference.mean(0)) / np.where(std > 1e-12, std, 1.0), 0.0)
    standardised = quanta.per_example_gradients(TINY, state, batch.x, chunk=5)
    np.testing.assert_allclose(standardised, expected, rtol=1e-3, atol=1e-3)
    projection = projections.gaussian_projection(jax.random.key(3), reference.shape[1], 7)
    projected = quanta.per_example_gradients(TINY, state, batch.x, projection, chunk=5)
    np.testing.assert_allclose(projected, standardised @ np.asarray(projection), rtol=1e-3, atol=1e-3)


def test_a_projection_of_the_wrong_size_is_refused():
    state = quanta.initial_state(TINY, jax.random.key(0))
    with pytest.raises(ValueError, match="projection"):
        quanta.per_example_gradients(TINY, state, np.zeros((2, TINY.input_dim)), np.zeros((5, 3)))


# The sizes `toylab run quanta --quick` uses: 2000 clustered samples (20 tasks × 100)
# projected to k = 256. For a Gaussian R the distortion of a pair is χ²_k/k − 1 whatever
# the ambient dimension, so 2048 ambient dimensions stand in for the network's parameters.
N_POINTS, AMBIENT, DIM = 2000, 2048, 256


@settings(max_examples=4)
@given(st.integers(0, 2**31 - 1))
def test_projection_keeps_every_pairwise_distance_within_the_jl_tolerance(seed):
    key_points, key_projection = jax.random.split(jax.random.key(seed))
    points = np.asarray(jax.random.normal(key_points, (N_POINTS, AMBIENT)))
    projected = points @ np.asarray(projections.gaussian_projection(key_projection, AMBIENT, DIM))
    assert np.abs(projections.distortions(points, projected)).max() <= projections.jl_tolerance(N_POINTS, DIM)


@settings(max_examples=4)
@given(st.integers(0, 2**31 - 1))
def test_far_below_the_jl_dimension_the_tolerance_is_broken(seed):
    key_points, key_projection = jax.random.split(jax.random.key(seed))
    points = np.asarray(jax.random.normal(key_points, (N_POINTS, AMBIENT)))
    projected = points @ np.asarray(projections.gaussian_projection(key_projection, AMBIENT, 8))
    assert np.abs(projections.distortions(points, projected)).max() > projections.jl_tolerance(N_POINTS, DIM)


@given(st.integers(2, 10_000), st.floats(0.05, 0.95))
def test_jl_dimension_and_tolerance_invert_each_other(n_points, eps):
    k = projections.jl_dimension(n_points, eps)
    assert projections.jl_tolerance(n_points, k) <= eps + 1e-9
    assert projections.jl_tolerance(n_points, max(k - 1, 1)) > eps - 1e-9


def test_the_eigengap_finds_the_number_of_separated_groups_and_qdg_recovers_them():
    rng = np.random.default_rng(3)
    for groups in (3, 5, 7):
        truth = np.repeat(np.arange(groups), 30)
        centres = rng.normal(size=(groups, 40)) * 4
        labels, k = clustering.cluster_blind(centres[truth] + rng.normal(size=(len(truth), 40)), max_clusters=12)
        assert k == groups and clustering.scores(truth, labels)["ari"] > 0.95
        directions = centres[truth] + 0.3 * rng.normal(size=(len(truth), 40))
        labels, k = clustering.qdg(directions, max_clusters=12)
        assert k == groups and clustering.scores(truth, labels)["ari"] > 0.95


def _separated_zipf_clusters(seed: int, n_tasks: int = 20, n: int = 2000, within: float = 0.96):
    """Unit vectors: n_tasks orthogonal task directions, task sizes Zipfian (exponent 1), each sample
    cos ≈ `within` to its task's direction."""
    rng = np.random.default_rng(seed)
    sizes = np.maximum(np.round(n * (1 / np.arange(1, n_tasks + 1)) / np.sum(1 / np.arange(1, n_tasks + 1))), 2)
    truth = np.repeat(np.arange(n_tasks), sizes.astype(int))
    dim = 200
    directions = np.linalg.qr(rng.normal(size=(dim, dim)))[0][:n_tasks]
    noise = rng.normal(size=(len(truth), dim))
    noise -= (noise @ directions.T) @ directions  # orthogonal to every task direction
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return within * directions[truth] + np.sqrt(1 - within**2) * noise, truth


def test_every_k_rule_finds_separated_zipf_clusters_and_the_dense_eigengap_does_not():
    """20 orthogonal tasks, within-task cosine 0.96, Zipf sizes, 2,000 samples: the authors' QDG affinity
    with the blind silhouette K finds the tasks; the eigengap of the dense (C + 1)/2 finds only the
    dominant task (K = 2), which is why the lab's earlier QDG variant is not the authors'."""
    gradients, truth = _separated_zipf_clusters(0)
    affinity = clustering.qdg_affinities(gradients)["angular"]
    sweep = clustering.qdg_sweep(affinity, [2, 5, 10, 15, 20, 25, 30, 40], restarts=5)
    k = clustering.silhouette_k(affinity, sweep)
    assert abs(k - 20) <= 5 and clustering.scores(truth, sweep[k])["ari"] > 0.9
    assert clustering.scores(truth, sweep[20])["ari"] > 0.9  # the sweep at the true count
    for kind in clustering.AFFINITIES:  # every arm of the factorial's K rule passes the same check
        arm = clustering.affinity_sweep(gradients, kind, max_clusters=40, restarts=5)
        blind = int(arm["blind_k"])
        labels = arm["labels"][list(arm["counts"]).index(blind)]
        assert abs(blind - 20) <= 5 and clustering.scores(truth, labels)["ari"] > 0.9, kind
    labels, knn_eigengap = clustering.cluster_blind(gradients, 40, standardise_columns=False)  # the kNN graph's eigengap
    assert abs(knn_eigengap - 20) <= 5 and clustering.scores(truth, labels)["ari"] > 0.9
    _, eigengap = clustering.qdg(gradients, max_clusters=40)
    assert eigengap == 2  # the documented failure of the earlier rule
    # the counterpart: no clusters to find, so no K scores near the truth
    noise = clustering.qdg_affinities(np.random.default_rng(1).normal(size=(len(truth), 200)))["angular"]
    noise_sweep = clustering.qdg_sweep(noise, [2, 20], restarts=5)
    assert max(abs(clustering.scores(truth, labels)["ari"]) for labels in noise_sweep.values()) < 0.05


def test_clustering_recovers_separated_groups_and_scores_noise_near_zero():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(4), 40)
    centres = rng.normal(size=(4, 50)) * 3
    points = centres[truth] + rng.normal(size=(160, 50))
    labels = clustering.cluster(points, 4)
    assert clustering.scores(truth, labels)["ari"] == 1.0
    matrix, groups = clustering.confusion(truth, labels)
    assert groups.tolist() == [0, 1, 2, 3] and np.all(np.diag(matrix) == 40)
    noise = clustering.cluster(rng.normal(size=(160, 50)), 4)  # negative control: no groups to find
    assert abs(clustering.scores(truth, noise)["ari"]) < 0.1


TINY_QUANTA = sets(
    "toy.n_tasks=4",
    "toy.n_bits=8",
    "toy.k=2",
    "toy.hidden=64",
    "toy.steps=1500",
    "toy.batch_size=256",
    "toy.learning_rate=3e-3",
    "per_task=40",
    "accuracy_samples=200",
    "projection_dim=64",
    "projection_dims=64",
    "parity_steps=1500",
    "qdg_samples=300",
    "probe_samples=400",
    "max_clusters=8",
)


def test_quanta_results_contract(tmp_path):
    assert cli.main(["run", "quanta", "--quick", "--out", str(tmp_path), *TINY_QUANTA]) == 0
    folder = next((tmp_path / "quanta").iterdir())
    results = json.loads((folder / "results.json").read_text())
    ari = results["ari"]
    assert set(ari) == {"gradients", "gradients_projected", "activations", "inputs", "learned_tasks"}
    assert len(ari["learned_tasks"]) >= 2
    assert all(-1.0 <= ari[name] <= 1.0 for name in ("gradients", "gradients_projected", "activations", "inputs"))
    assert results["n_points"] == 40 * len(ari["learned_tasks"])
    assert np.asarray(results["confusion"]["counts"]).sum() == results["n_points"]
    assert {p.name for p in (folder / "figures").iterdir()} == {
        "gradient_clusters.png",
        "ari_vs_projection.png",
        "tasks_learned.png",
        "variants.png",
        "qdg_sweep.png",
        "factorial.png",
    }
    assert results["task_code"] == "onehot" and set(results["variants"]) == {"onehot", "parity"}
    for variant in results["variants"].values():
        assert set(variant["ari"]) == {"gradients", "gradients_projected", "activations", "inputs", "untrained_gradients"}
        assert all(v is None or -1.0 <= v <= 1.0 for v in variant["ari"].values())
    assert results["variants"]["onehot"]["ari"]["gradients"] == ari["gradients"]  # the top level is the onehot study
    for variant in results["variants"].values():
        assert 0.0 <= variant["input_probe"]["accuracy"] <= 1.0 and isinstance(variant["input_probe"]["converged"], bool)
        if variant["blind_k"] is None:  # fewer than two learned tasks: nothing clustered
            assert "note" in variant
            continue
        assert 2 <= variant["blind_k"]["k"] <= 8 and variant["blind_k"]["true_k"] == len(variant["learned_tasks"])
        qdg = variant["qdg"]
        assert 0 <= qdg["kept"] <= 300 and (qdg["k"] is None or 1 <= qdg["k"] <= 8)
        if qdg["sweep"] is not None:  # the authors' sweep: a curve per affinity, against the task and the label
            counts = qdg["sweep"]["k"]
            assert counts == [k for k in range(2, 9) if k < qdg["kept"]]
            for name in ("angular", "absolute"):
                curve = qdg["sweep"][name]
                assert len(curve["ari_task"]) == len(curve["ari_label"]) == len(counts)
                assert curve["silhouette_k"] in counts
        # the factorial: 8 arms, each with a curve, its blind K, best K and true-K ceiling; the balanced arms
        # are marked as drawn with the truth, the natural ones are not
        assert len(variant["factorial"]) == 8
        for name, cell in variant["factorial"].items():
            if cell is None:
                continue
            assert cell["sample_chosen_with_truth"] == name.split("/")[1].startswith("balanced")
            assert cell["silhouette_k"] in cell["k"] and cell["best_k"] in cell["k"]
            assert cell["best_ari_task"] >= max(cell["silhouette_ari_task"], -1.0)
        if qdg["sweep"] is not None:  # QDG's angular sweep is the factorial's (qdg, natural, angular) arm
            assert qdg["sweep"]["angular"] == variant["factorial"]["qdg/natural/angular"]
    assert results["variants"]["onehot"]["blind_k"] is not None
    # the one-hot code names the task: the input probe reads it far above the majority share
    probe = results["variants"]["onehot"]["input_probe"]
    assert probe["accuracy"] > 0.9 > probe["majority"]


def test_a_network_that_learns_fewer_than_two_tasks_is_reported_not_clustered(tmp_path):
    argv = [*TINY_QUANTA, "--set", "toy.steps=1", "--set", "parity_steps=1"]
    assert cli.main(["run", "quanta", "--quick", "--out", str(tmp_path), *argv]) == 0
    folder = next((tmp_path / "quanta").iterdir())
    results = json.loads((folder / "results.json").read_text())
    assert len(results["learned_tasks"]) < 2 and results["ari"]["gradients"] is None and "note" in results
    assert {p.name for p in (folder / "figures").iterdir()} == {"tasks_learned.png", "variants.png"}
    assert all(v["ari"]["gradients"] is None and "note" in v for v in results["variants"].values())


@settings(max_examples=6)
@given(st.sampled_from([4, 8, 20]), st.sampled_from([2, 3]), st.integers(0, 10_000))
def test_raw_inputs_cluster_by_task_under_the_onehot_code_and_not_under_the_parity_code(n_tasks, group, seed):
    # The negative control of the parity variant: the same clustering that finds the task in
    # one-hot inputs (ARI ≈ 1) must fail on XOR-coded ones (ARI ≤ 0.2, the bar).
    truth = quanta.balanced_tasks(range(n_tasks), 40)
    ari = {}
    for code in quanta.TASK_CODES:
        config = quanta.QuantaConfig(n_tasks=n_tasks, n_bits=12, k=3, task_code=code, control_group=group)
        batch = quanta.sample(
            config, quanta.draw_subsets(config, jax.random.key(seed)), jax.random.key(seed + 1), len(truth), tasks=jnp.asarray(truth)
        )
        ari[code] = clustering.scores(truth, clustering.cluster(np.asarray(batch.x), n_tasks, seed))["ari"]
    assert ari["onehot"] > 0.9 and ari["parity"] <= 0.2, ari


def test_parity_controls_encode_the_task_and_no_single_bit_shows_it():
    config = quanta.QuantaConfig(n_tasks=6, n_bits=4, k=1, task_code="parity", control_group=2)
    assert config.control_dim == 3 * 2 and config.input_dim == 10
    tasks = quanta.balanced_tasks(range(6), 4000)
    controls = np.asarray(quanta.control_bits(config, jnp.asarray(tasks), jax.random.key(0)))
    assert np.array_equal(quanta.task_from_controls(config, controls), tasks)
    # every control bit is a fair coin within every task (4 standard errors)
    by_task = controls.reshape(6, 4000, -1).mean(axis=1)
    assert np.abs(by_task - 0.5).max() < 4 * 0.5 / np.sqrt(4000)
    # counterpart: the one-hot code's bits are the task itself
    onehot = np.asarray(quanta.control_bits(quanta.QuantaConfig(n_tasks=6, n_bits=4, k=1), jnp.asarray(tasks), None))
    assert np.abs(onehot.reshape(6, 4000, -1).mean(axis=1) - np.eye(6)).max() == 0.0
