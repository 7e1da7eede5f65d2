"""sae.readers.manifold_ranking (blind) and sae.readers.manifold_grading (sighted).

Recovery: a dictionary that tiles a planted circle (rows on it, one or two latents per
sample) ranks a circle group first with high evidence, whatever the period, dimension and
offset. Counterparts that must fail: groups of independent features with nonnegative codes
(arcs, co-firing triangles), three-latent groups, and random dictionaries score low; a
claim against a random plane is not found.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sae.readers import geometry, manifold_grading, manifold_ranking

SETTINGS = settings(max_examples=8, deadline=None, derandomize=True)


def tiled_circle(rng, d: int, tiles: int, offset: float, n: int = 1200, noise_latents: int = 20):
    """A circle c + (cos θ u + sin θ v) tiled by `tiles` latents (k = 1), beside noise latents
    that each fire alone on their own samples. Returns (codes, decoder, circle truth)."""
    basis = np.linalg.qr(rng.normal(size=(d, 3)))[0].T
    u, v, c = basis
    angles = 2 * np.pi * np.arange(tiles) / tiles
    tiles_rows = offset * c + np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v
    decoder = np.concatenate([tiles_rows, rng.normal(size=(noise_latents, d))])
    theta = rng.uniform(0, 2 * np.pi, n)
    present = rng.uniform(size=n) < 0.5
    codes = np.zeros((n, len(decoder)))
    nearest = np.round(theta / (2 * np.pi / tiles)).astype(int) % tiles
    codes[np.flatnonzero(present), nearest[present]] = 1.0
    others = np.flatnonzero(~present)
    codes[others, tiles + rng.integers(0, noise_latents, len(others))] = rng.uniform(0.5, 1.5, len(others))
    circle = geometry.PlantedCircle("c", np.stack([u, v]), basis if offset else np.stack([u, v]), present, theta, 1.0, 0)
    return codes, decoder, circle


@SETTINGS
@given(st.integers(0, 10_000), st.integers(24, 96), st.integers(6, 24), st.sampled_from([0.0, 2.0]))
def test_a_tiled_circle_ranks_first_with_high_evidence(seed, d, tiles, offset):
    rng = np.random.default_rng(seed)
    codes, decoder, circle = tiled_circle(rng, d, tiles, offset)
    circle_group = np.arange(tiles)
    independent = tiles + np.arange(5)  # five noise latents: no shared plane
    ranked = manifold_ranking.rank(codes, decoder, [independent, circle_group], null_top=[0.5] * 19)
    assert ranked.order[0] == 1
    assert ranked.evidence[1].evidence > 0.8
    assert ranked.evidence[0].evidence < 0.3
    assert ranked.claimed and ranked.p_value == 1 / 20
    graded = manifold_grading.grade_ranking(codes, decoder, [independent, circle_group], ranked, circle)
    assert graded["recall_at_1"] and graded["claimed_found"] and graded["first_found_rank"] == 1
    # the same blind answer against a random plane in the decoder's span: not found
    wrong = manifold_grading.wrong_plane(circle, manifold_grading.random_plane(rng, decoder, np.ones(len(decoder), bool)))
    assert not manifold_grading.false_claim(codes, decoder, [independent, circle_group], ranked, wrong)["false_claim"]
    # the claim matches the planted circle, and matches nothing when only the wrong circle is planted
    assert manifold_grading.unmatched_claims(codes, decoder, [independent, circle_group], ranked, [circle]) == 0
    assert manifold_grading.unmatched_claims(codes, decoder, [independent, circle_group], ranked, [wrong]) == 1


@SETTINGS
@given(st.integers(0, 10_000), st.integers(24, 96), st.integers(4, 8))
def test_cofiring_independent_features_score_low(seed, d, size):
    # `size` nearly orthogonal features whose codes are nonnegative, firing in random pairs and triples
    rng = np.random.default_rng(seed)
    decoder = rng.normal(size=(size, d))
    codes = np.where(rng.uniform(size=(2000, size)) < 2.5 / size, rng.uniform(0.2, 1.5, (2000, size)), 0.0)
    evidence = manifold_ranking.circle_evidence(codes, decoder, np.arange(size))
    assert evidence.evidence < 0.5


def test_three_latents_and_arcs_are_no_circle():
    rng = np.random.default_rng(0)
    codes, decoder, _ = tiled_circle(rng, 32, 3, 2.0)
    assert manifold_ranking.circle_evidence(codes, decoder, np.arange(3)).evidence == 0.0  # MIN_LATENTS
    # five tiles on a quarter of the circle: an arc, closure ≤ ½
    basis = np.linalg.qr(rng.normal(size=(32, 2)))[0].T
    angles = np.linspace(0, np.pi / 2, 5)
    arc_rows = np.cos(angles)[:, None] * basis[0] + np.sin(angles)[:, None] * basis[1]
    arc_codes = np.eye(5)[rng.integers(0, 5, 500)]
    arc = manifold_ranking.circle_evidence(arc_codes, arc_rows, np.arange(5))
    assert arc.closure <= 0.5 and arc.evidence <= 0.5


def test_p_value_and_claim_follow_the_null_tops():
    null = [0.1, 0.2, 0.3, 0.4]
    assert manifold_ranking.p_value(0.35, null) == 2 / 5
    assert manifold_ranking.p_value(0.5, null) == 1 / 5
    assert manifold_ranking.p_value(0.0, null) == 1.0
    ranked = manifold_ranking.rank(np.zeros((10, 4)), np.eye(4), [], null_top=null)
    assert not ranked.claimed and len(ranked.order) == 0


def test_stored_null_tops_are_sorted_probabilities():
    tops = np.asarray(manifold_ranking.NULL_TOP_EVIDENCE)
    assert len(tops) >= 1 / manifold_ranking.CLAIM_ALPHA  # a claim at α must be possible
    assert np.all(np.diff(tops) >= 0) and tops.min() >= 0 and tops.max() <= 1


def test_circle_null_records_each_null_dictionarys_top_evidence(tmp_path):
    import json

    from experiments.runner import cli

    tiny = ["--set", "cells=1", "--set", "grid.dims=16,20", "--set", "grid.sparse_features=10,20",
            "--set", "grid.sparse_mean_l0=1", "--set", "grid.sizes=32,48", "--set", "grid.ks=1,2",
            "--set", "grid.steps=60", "--set", "grid.batch_size=64", "--set", "grid.n_geometry=600"]
    assert cli.main(["run", "circle-null", "--out", str(tmp_path), "--quick", *tiny]) == 0
    folder = next((tmp_path / "circle-null").iterdir())
    results = json.loads((folder / "results.json").read_text())
    assert len(results["cells"]) == 1 and len(results["null_top_evidence"]) == 2
    assert results["null_top_evidence"] == sorted(results["null_top_evidence"])
    assert all(0.0 <= e <= 1.0 for e in results["null_top_evidence"])
    # with two null dictionaries no evidence reaches p ≤ 0.05: (1 + 0) / 3 > 0.05
    assert results["smallest_claimable_evidence"] is None
    # grid.seed and grid.cells are set from seed and cells: setting them is refused, nothing written
    assert cli.main(["run", "circle-null", "--out", str(tmp_path / "refused"), "--set", "grid.cells=3"]) == 2
    assert not (tmp_path / "refused").exists()
