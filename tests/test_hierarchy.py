"""Absorption counts and inferred hierarchies against oracles, shuffles and random dictionaries."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sae import absorption
from sae.readers import hierarchy
from toys import trees

SMALL_TREE = trees.TreeConfig(n_roots=4, branching=3, depth=3, d=64, child_probability=0.3, exclusive_fraction=0.0, mean_l0=3.0)


def _shuffled(parents, seed):
    """The same forest with its node labels permuted: edge π(p) → π(c)."""
    perm = np.random.default_rng(seed).permutation(len(parents))
    relabelled = np.where(parents >= 0, perm[np.maximum(parents, 0)], -1)
    return relabelled[np.argsort(perm)]


@settings(max_examples=20)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(2, 4), st.integers(0, 10_000))
def test_tree_scores_are_one_on_the_planted_tree_and_drop_for_a_shuffled_one(n_roots, branching, depth, seed):
    parents, _ = trees.structure(trees.TreeConfig(n_roots=n_roots, branching=branching, depth=depth))
    assert hierarchy.tree_scores(parents, parents) == {"edge_recall": 1.0, "edge_precision": 1.0, "tree_similarity": 1.0}
    shuffled = _shuffled(parents, seed)
    assume(hierarchy.clusters(shuffled) != hierarchy.clusters(parents))  # not an automorphism of the labels
    assert hierarchy.edge_recall(parents, shuffled) < 1.0
    assert hierarchy.tree_similarity(parents, shuffled) < 1.0


def test_shuffled_larger_tree_scores_near_zero():
    parents, _ = trees.structure(SMALL_TREE)
    for seed in range(5):
        shuffled = _shuffled(parents, seed)
        assert hierarchy.edge_recall(parents, shuffled) < 0.2
        assert hierarchy.tree_similarity(parents, shuffled) < 0.2


def test_clusters_by_hand():
    # 0 → 1 → 3, 0 → 2
    assert hierarchy.clusters(np.array([-1, 0, 0, 1])) == {frozenset({0, 1, 2, 3}), frozenset({1, 3})}
    assert hierarchy.tree_similarity(np.array([-1, 0, 0, 1]), np.array([-1, 0, 0, 0])) == 1 - 1 / 3
    assert hierarchy.tree_similarity(np.full(4, -1), np.full(4, -1)) == 1.0


def _toy(closeness, seed=0):
    config = trees.TreeConfig(**{**SMALL_TREE.__dict__, "closeness": closeness})
    return trees.build(config, jax.random.key(seed))


def test_splitting_ladder_of_the_true_levels_recovers_every_edge_when_children_lie_near_parents():
    toy = _toy(closeness=0.4)
    t, parents = np.asarray(toy.directions), np.asarray(toy.parents)
    depths = np.asarray(toy.depths)
    ladder = [t[depths == level] for level in range(3)]  # each level splits its parents
    inferred = hierarchy.splitting_parents(ladder, t)
    assert hierarchy.tree_scores(parents, inferred) == {"edge_recall": 1.0, "edge_precision": 1.0, "tree_similarity": 1.0}


def test_splitting_ladder_fails_when_children_point_anywhere():
    toy = _toy(closeness=None)  # children independent of their parents: nearest latent one size down is arbitrary
    t, parents, depths = np.asarray(toy.directions), np.asarray(toy.parents), np.asarray(toy.depths)
    inferred = hierarchy.splitting_parents([t[depths == level] for level in range(3)], t)
    assert hierarchy.edge_recall(parents, inferred) < 0.5


def test_linkage_on_the_true_dictionary_recovers_the_tree_and_a_random_dictionary_does_not():
    toy = _toy(closeness=0.4)
    t, parents = np.asarray(toy.directions), np.asarray(toy.parents)
    _, codes = trees.sample(toy, jax.random.key(1), 20_000)
    firing = np.asarray(codes) > 0
    for metric in ("cosine", "cofiring"):
        inferred = hierarchy.linkage_parents(t, t, firing, metric)
        assert hierarchy.edge_recall(parents, inferred) >= 0.9, metric
    random = np.random.default_rng(0).standard_normal((len(t), t.shape[1]))
    for metric in ("cosine", "cofiring"):
        inferred = hierarchy.linkage_parents(random, t, firing, metric)
        assert hierarchy.edge_recall(parents, inferred) < 0.1, metric


def test_cofiring_distance_is_zero_for_a_subset():
    firing = np.array([[1, 1, 0], [1, 0, 1], [1, 1, 0], [0, 0, 1]], bool)
    distance = hierarchy.cofiring_distance(firing)
    assert distance[0, 1] == 0.0  # latent 1 fires only with latent 0
    assert distance[1, 2] == 1.0  # never together
    np.testing.assert_allclose(distance, distance.T)


# --- absorption --------------------------------------------------------------------------------


def test_children_fire_matches_a_loop():
    toy = _toy(closeness=None)
    _, codes = trees.sample(toy, jax.random.key(2), 500)
    fires = np.asarray(codes) > 0
    parents = np.asarray(toy.parents)
    expected = np.zeros_like(fires)
    for child, parent in enumerate(parents):
        if parent >= 0:
            expected[:, parent] |= fires[:, child]
    np.testing.assert_array_equal(np.asarray(absorption.children_fire(jnp.asarray(fires), toy.parents)), expected)


def test_absorption_is_zero_for_faithful_latents_and_one_for_absorbed_ones():
    toy = _toy(closeness=None)
    _, codes = trees.sample(toy, jax.random.key(4), 20_000)
    identity = jnp.arange(codes.shape[1])
    faithful = absorption.scores(absorption.counts(codes, codes, toy.parents, identity))
    assert faithful.n_scored == SMALL_TREE.n_parents
    assert faithful.rate == 0.0 and faithful.absorbed_share == 0.0
    # parent latents that go silent whenever a child fires: a(p) = 1 − 0
    any_child = absorption.children_fire(codes > 0, toy.parents)
    absorbed_codes = jnp.where(any_child, 0.0, codes)
    absorbed = absorption.scores(absorption.counts(absorbed_codes, codes, toy.parents, identity))
    assert absorbed.rate == 1.0 and absorbed.absorbed_share == 1.0
    leaves = np.asarray(toy.depths) == SMALL_TREE.depth - 1
    assert np.isnan(absorbed.scores[leaves]).all()  # leaves have no children: not scored


def test_edge_gaps_are_zero_for_faithful_latents_one_for_absorbed_edges_and_null_without_samples():
    toy = _toy(closeness=None)
    _, codes = trees.sample(toy, jax.random.key(4), 20_000)
    identity = jnp.arange(codes.shape[1])
    parents = np.asarray(toy.parents)
    fires = np.asarray(codes) > 0
    faithful = absorption.edges(absorption.counts(codes, codes, toy.parents, identity), parents)
    assert len(faithful) == int((parents >= 0).sum())
    assert all(r["symptom_gap"] == 0.0 and r["recall_alone"] == 1.0 for r in faithful)
    # Absorb one edge only: the parent's latent goes silent when this child fires (higher = more absorbed).
    child = int(np.flatnonzero(parents >= 0)[0])
    parent = int(parents[child])
    absorbed_codes = np.asarray(codes).copy()
    absorbed_codes[fires[:, child], parent] = 0.0
    records = {
        r["child"]: r for r in absorption.edges(absorption.counts(jnp.asarray(absorbed_codes), codes, toy.parents, identity), parents)
    }
    assert records[child]["symptom_gap"] == 1.0 and records[child]["recall_with_child"] == 0.0
    assert records[child]["n_with_child"] == int((fires[:, child] & fires[:, parent]).sum())
    assert records[child]["n_with_child_hit"] == 0
    siblings = [c for c in records if parents[c] == parent and c != child]
    for c in siblings:  # a sibling's edge loses exactly the samples where `child` fires too (siblings not exclusive here)
        assert records[c]["n_with_child_hit"] == int((fires[:, c] & fires[:, parent] & ~fires[:, child]).sum())
    # An edge with no samples of the child is null, with its count.
    silent = np.asarray(codes).copy()
    silent[:, child] = 0.0
    empty = {
        r["child"]: r for r in absorption.edges(absorption.counts(jnp.asarray(silent), jnp.asarray(silent), toy.parents, identity), parents)
    }[child]
    assert empty["n_with_child"] == 0 and empty["recall_with_child"] is None and empty["symptom_gap"] is None
    assert empty["recall_alone"] == 1.0
    summary = absorption.edge_summary(list(records.values()))
    assert summary["n_edges"] == len(records) and summary["n_unavailable"] == 0


def test_absorption_proper_counts_planted_absorption_and_not_splitting_or_topk_competition():
    toy = _toy(closeness=None)
    _, codes = trees.sample(toy, jax.random.key(6), 20_000)
    codes = np.asarray(codes)
    t, parents = np.asarray(toy.directions), np.asarray(toy.parents)
    fires = codes > 0
    child = int(np.flatnonzero(parents >= 0)[0])
    parent = int(parents[child])
    both = fires[:, child] & fires[:, parent]

    def records(latents, decoder):
        best = absorption.best_latents(jnp.asarray(t), jnp.asarray(decoder))
        carries = absorption.carriers(jnp.asarray(t), jnp.asarray(decoder), jnp.asarray(parents), best)
        total = absorption.counts(jnp.asarray(latents), jnp.asarray(codes), jnp.asarray(parents), best, carries)
        return {r["child"]: r for r in absorption.edges(total, parents)}

    # absorbed: the child's latent takes the parent's direction, the parent's latent is silent when the child fires
    absorbed_decoder = t.copy()
    absorbed_decoder[child] = (t[child] + t[parent]) / np.linalg.norm(t[child] + t[parent])
    absorbed_latents = codes.copy()
    absorbed_latents[fires[:, child], parent] = 0.0
    row = records(absorbed_latents, absorbed_decoder)[child]
    assert row["n_absorbed"] == int(both.sum()) and row["absorbed_rate"] == 1.0 and row["symptom_gap"] == 1.0
    # split: a second latent along t_p fires instead of the first when the child is present; the child's latent is
    # along t_c alone — the symptom is the same, nothing is absorbed
    split_decoder = np.concatenate([t, t[parent][None]])
    split_latents = np.concatenate([absorbed_latents, np.where(both, codes[:, parent], 0.0)[:, None]], axis=1)
    row = records(split_latents, split_decoder)[child]
    assert row["symptom_gap"] == 1.0 and row["n_absorbed"] == 0
    # TopK competition: the parent's latent loses its slot on the child's samples, no latent carries t_p
    row = records(absorbed_latents, t)[child]
    assert row["symptom_gap"] == 1.0 and row["n_absorbed"] == 0
    # faithful latents: neither
    assert all(r["n_absorbed"] == 0 for r in records(codes, t).values())


def test_edge_counts_read_sparse_codes_as_dense_ones():
    from toys.sparse_firing import SparseCodes

    toy = _toy(closeness=None)
    _, codes = trees.sample(toy, jax.random.key(5), 2_000)
    values, indices = jax.lax.top_k(codes, int((codes > 0).sum(1).max()))  # every active entry
    sparse = SparseCodes(jnp.where(values > 0, indices, codes.shape[1]), values, codes.shape[1])
    latents = jax.random.uniform(jax.random.key(6), (2_000, 20)) - 0.5
    best = jax.random.randint(jax.random.key(7), (codes.shape[1],), 0, 20)
    for a, b in zip(absorption.counts(latents, codes, toy.parents, best), absorption.counts(latents, sparse, toy.parents, best)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_best_latents_follow_a_permuted_decoder():
    t = np.asarray(_toy(closeness=None).directions)
    perm = np.random.default_rng(1).permutation(len(t))
    np.testing.assert_array_equal(np.asarray(absorption.best_latents(t, t[perm])), np.argsort(perm))
