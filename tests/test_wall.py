"""The wall (sae.readers.wall): every method runs behind it with a truth that raises, and answers the same.

Methods covered: the manifold finder and its blind ranking (`manifold_ranking.find_and_rank`),
the knockoff's description of circles (`knockoff.claimed_circle_groups`,
`sae.readers.knockoff.describe_circle`), the grid-latent reader (`sae.readers.grid_latents.categorise`),
the quanta clustering with its blind K (`sae.readers.clustering.cluster_blind`) and QDG
(`sae.readers.clustering.qdg`). Each gets an `Observation` built from `batch.x`
only; the same method on the unsealed batch must give the same answer, and the sealed
truth must raise when touched (the counterpart: a method that reads it fails).

The process wall (`wall.run_isolated`): methods run in a fresh process that gets arrays and
settings only and cannot import a toy or a study, and answer as they do in the caller's
process; its counterparts (tests/wall_counterparts.py: a method that imports a toy, one that
imports a study, one that reads a global its caller set to the truth) each fail there.
"""

import jax
import numpy as np
import pytest

from experiments import circle_cells
from sae import architectures, pipeline
from sae.readers import clustering, grid_latents, knockoff, wall
from toys import manifolds


def test_sealed_truth_raises_on_any_use():
    truth = wall.SealedTruth()
    for use in (
        lambda: truth["present"],
        lambda: truth.phases,
        lambda: np.asarray(truth),
        lambda: len(truth),
        lambda: list(truth),
        lambda: bool(truth),
        lambda: truth == 1,
    ):
        with pytest.raises(wall.TruthAccessed):
            use()


@pytest.fixture(scope="module")
def circle_dictionary():
    config = circle_cells.Config()
    cell = {"period": 8, "d": 16, "offset": True, "n_sparse": 20, "k": 1, "m": 48}
    toy = manifolds.build(circle_cells.cell_toy_config(config, cell), jax.random.PRNGKey(0))
    hps = pipeline.stack([architectures.hparams(3e-3, 0.0, 1)])
    result = pipeline.fit("topk", toy, hps, jax.random.PRNGKey(1)[None], n_latents=48, steps=150, batch_size=128)
    return toy.sample(jax.random.PRNGKey(2), 800), result.params, hps


def test_the_manifold_finder_and_its_ranking_run_behind_the_wall(circle_dictionary):
    batch, params, hps = circle_dictionary
    open_view = wall.observe(batch, "topk", params, hps)
    sealed_view = wall.observe(wall.sealed(batch), "topk", params, hps)
    config = circle_cells.Config()
    groups, _, ranked = circle_cells.blind_answer(sealed_view, config)
    groups_open, _, ranked_open = circle_cells.blind_answer(open_view, config)
    assert [list(g) for g in groups] == [list(g) for g in groups_open]
    assert list(ranked.order) == list(ranked_open.order) and ranked.p_value == ranked_open.p_value
    null = wall.settings(config, seed="seed").with_calibration("null_top", [0.5] * 19, "a test's null")
    described = [
        knockoff.describe_circle(sealed_view.decoder, g)
        for g in wall.apply(knockoff.claimed_circle_groups, sealed_view, ("x", "codes", "decoder"), null)
    ]
    described_open = [
        knockoff.describe_circle(open_view.decoder, g)
        for g in wall.apply(knockoff.claimed_circle_groups, open_view, ("x", "codes", "decoder"), null)
    ]
    assert [list(c.latents) for c in described] == [list(c.latents) for c in described_open]
    # the counterpart: a method that reads the truth cannot run behind the wall
    with pytest.raises(wall.TruthAccessed):
        np.asarray(wall.sealed(batch).truth["present"])


def test_the_grid_reader_and_the_blind_clustering_run_behind_the_wall():
    from toys.protocol import Batch

    p = 7
    a, b = np.divmod(np.arange(p * p), p)
    activations = np.stack(
        [((a + b) % p == r) | ((a + b) % p == (r + 1) % p) | ((a + b) % p == (r + 2) % p) for r in range(p)], axis=1
    ).astype(float)
    batch = Batch(activations, codes=np.eye(p * p), truth={"a": a, "b": b})
    sealed = wall.sealed(batch)
    np.testing.assert_array_equal(grid_latents.categorise(np.asarray(sealed.x), p), grid_latents.categorise(np.asarray(batch.x), p))
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 30)) * 5
    points = np.repeat(centres, 40, axis=0) + rng.normal(size=(160, 30))
    clustered = Batch(points, truth={"task": np.repeat(np.arange(4), 40)})
    labels, k = clustering.cluster_blind(np.asarray(wall.sealed(clustered).x), max_clusters=10)
    labels_open, k_open = clustering.cluster_blind(np.asarray(clustered.x), max_clusters=10)
    assert k == k_open and np.array_equal(labels, labels_open)
    qdg_labels, qdg_k = clustering.qdg(np.asarray(wall.sealed(clustered).x), max_clusters=10)
    qdg_open, qdg_k_open = clustering.qdg(np.asarray(clustered.x), max_clusters=10)
    assert qdg_k == qdg_k_open and np.array_equal(qdg_labels, qdg_open)


def test_methods_answer_the_same_in_a_process_that_cannot_reach_a_toy():
    """The process wall (wall.run_isolated): arrays and settings in, no toy or study importable."""
    from sae.readers import projection_circles

    rng = np.random.default_rng(0)
    points = np.repeat(rng.normal(size=(4, 30)) * 5, 40, axis=0) + rng.normal(size=(160, 30))
    affinity = clustering.qdg_affinities(points)["angular"]
    p = 7
    a, b = np.divmod(np.arange(p * p), p)
    grid = np.stack([(a + b) % p == r for r in range(p)], axis=1).astype(float)
    theta = 2 * np.pi * np.arange(37) / 37
    ring_codes = np.maximum(np.stack([np.cos(theta - 2 * np.pi * j / 12) for j in range(12)], axis=1), 0)
    ring_decoder = np.stack([np.cos(2 * np.pi * np.arange(12) / 12), np.sin(2 * np.pi * np.arange(12) / 12)], axis=1)
    ring_decoder = np.concatenate([ring_decoder, 0.01 * rng.normal(size=(12, 6))], axis=1)
    calls = [
        (clustering.cluster_blind, [points], {"max_clusters": 10}),
        (clustering.qdg_sweep, [affinity], {"cluster_counts": [2, 4, 6], "restarts": 3}),
        (grid_latents.categorise, [grid], {"p": p}),
        (projection_circles.ring_planes, [ring_codes, ring_decoder, np.arange(12)], {"starts": 2}),
    ]
    for method, arrays, settings in calls:
        behind = wall.run_isolated(method, arrays, settings)
        here = wall.flatten_answer(method(*arrays, **settings))
        assert set(behind) == set(here), method.__name__
        for key in here:
            if here[key].dtype.kind in "fc":
                np.testing.assert_allclose(behind[key].reshape(here[key].shape), here[key], rtol=1e-6, atol=1e-9)
            else:
                np.testing.assert_array_equal(behind[key].reshape(here[key].shape), here[key])


def test_the_process_wall_catches_a_method_that_imports_a_toy_a_study_or_reads_a_global():
    import wall_counterparts

    codes = np.abs(np.random.default_rng(1).normal(size=(20, 5)))
    for method in (wall_counterparts.imports_a_toy, wall_counterparts.imports_a_study):
        method(codes)  # in the caller's process nothing stops it
        with pytest.raises(wall.WallBreached, match="behind the wall"):
            wall.run_isolated(method, [codes])
    wall_counterparts.LEAK = np.arange(20.0)  # the truth, left where the method can reach it
    try:
        np.testing.assert_array_equal(wall_counterparts.reads_a_global(codes), np.arange(20.0))
        with pytest.raises(wall.WallBreached):  # behind the wall the global is unset
            wall.run_isolated(wall_counterparts.reads_a_global, [codes])
    finally:
        wall_counterparts.LEAK = None


def _observation():
    from toys.protocol import Batch

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 6))
    return Batch(x, truth={"task": np.repeat(np.arange(3), 20)}), wall.observe_derived(Batch(x), lambda x: {"v": x})


def test_apply_refuses_a_forged_observation_settings_not_from_the_config_and_a_sample_chosen_with_the_truth():
    """The one road (wall.apply) checks where each input came from; each counterpart is caught."""
    from toys import quanta

    batch, observation = _observation()

    class Config:
        max_clusters = 4
        seed = 0

    given = wall.settings(Config(), max_clusters="max_clusters", seed="seed")
    labels, k = wall.apply(clustering.cluster_blind, observation, ("v",), given)
    assert len(labels) == 60 and 2 <= k <= 4 and given.sources["max_clusters"] == "config.max_clusters"
    # a method given K from the truth, as a plain value: refused
    true_k = len(np.unique(batch.truth["task"]))
    with pytest.raises(wall.WallBreached, match="settings must come from wall.settings"):
        wall.apply(clustering.cluster, observation, ("v",), {"n_clusters": true_k})
    # an observation built by hand (here with the truth among its arrays): refused
    forged = wall.Observation({"v": np.asarray(batch.x), "task": batch.truth["task"]})
    with pytest.raises(wall.WallBreached, match="not made by wall.observe"):
        wall.apply(clustering.cluster_blind, forged, ("v",), given)
    # a sample chosen with the truth (the toy's sampler given the tasks): refused unless run as a ceiling
    net = quanta.QuantaConfig(n_tasks=4, n_bits=8, k=2, hidden=8, steps=1)
    subsets = quanta.draw_subsets(net, jax.random.key(0))
    chosen = quanta.sample(net, subsets, jax.random.key(1), 40, tasks=np.repeat(np.arange(4, dtype=np.int32), 10))
    drawn = quanta.sample(net, subsets, jax.random.key(1), 40)
    assert chosen.chosen_with_truth and not drawn.chosen_with_truth
    balanced = wall.observe_derived(chosen, lambda x: {"v": x})
    with pytest.raises(wall.WallBreached, match="chosen with the truth"):
        wall.apply(clustering.cluster_blind, balanced, ("v",), given)
    assert len(wall.apply(clustering.cluster_blind, balanced, ("v",), given, ceiling=True)[0]) == 40
    # a derivation may read the label (the training target) but not the task (the planted truth)
    wall.observe_derived(drawn, lambda x, labels: {"v": x * labels[:, None]}, reads=("x", "labels"))
    with pytest.raises(wall.WallBreached, match="not observable"):
        wall.observe_derived(drawn, lambda x, tasks: {"v": x}, reads=("x", "tasks"))
    # the truth used on purpose goes by its own, named road
    with pytest.raises(ValueError):
        wall.ceiling(clustering.cluster, [observation.v], "", n_clusters=true_k)


def test_the_audit_mode_catches_a_method_that_reads_a_global(monkeypatch):
    """TOYLAB_WALL=audit: apply also runs the method behind the process wall; a method reading a global its
    caller set to the truth answers differently there and is caught; an honest method passes."""
    import wall_counterparts

    batch, observation = _observation()
    monkeypatch.setenv("TOYLAB_WALL", "audit")
    assert wall.apply(wall_counterparts.honest, observation, ("v",)).shape == (6,)
    monkeypatch.setattr(wall_counterparts, "LEAK", batch.truth["task"].astype(float))
    with pytest.raises(wall.WallBreached):
        wall.apply(wall_counterparts.reads_a_global, observation, ("v",))


def _calls(tree, names):
    """Calls in a module's syntax tree of `alias.function` whose function is one of `names`."""
    import ast

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names:
            yield node.lineno, node.func.attr


def test_studies_call_a_finding_method_only_through_the_wall():
    """Where each method's inputs come from: every call from experiments/ of a method that finds structure
    (sae.readers.FINDERS) goes through wall.apply (observations, config settings) or, with the truth named,
    wall.ceiling; a direct call (which could pass anything) fails this test."""
    import ast
    from pathlib import Path

    from sae import readers

    names = {f.__name__ for f in readers.FINDERS}
    root = Path(__file__).resolve().parent.parent / "experiments"
    direct = [
        f"{path.relative_to(root.parent)}:{line} {name}"
        for path in sorted(root.rglob("*.py"))
        for line, name in _calls(ast.parse(path.read_text()), names)
    ]
    assert direct == []
    # the counterpart: the check sees a direct call
    planted = ast.parse("from sae.readers import clustering\nclustering.cluster_blind(v, 4)\n")
    assert list(_calls(planted, names)) == [(2, "cluster_blind")]
