"""sae.readers.manifold_ranking (blind) and sae.readers.manifold_grading (sighted).

Recovery: a dictionary that tiles a planted circle (rows on it, one or two latents per
sample) ranks a circle group first with high evidence, whatever the period, dimension and
offset. Counterparts that must fail: groups of independent features with nonnegative codes
(arcs, co-firing triangles, a triangle with a split latent), three-latent groups, helices,
and the ideal dictionaries of every `toys.adversaries` kind are not claimed against the
stored null; a claim against a random plane is not found.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sae.readers import activation_ring, geometry, manifold_grading, manifold_ranking

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
    ranked = manifold_ranking.rank(codes, decoder, [independent, circle_group], [0.5] * 19, x=codes @ decoder)
    assert ranked.order[0] == 1
    assert ranked.evidence[1].evidence > 0.8
    assert ranked.evidence[0].evidence < 0.3
    assert ranked.claimed and ranked.p_value == 1 / 20 and ranked.top_ring > 0.9
    # the counterparts: without the activations nothing is claimed; with the same latents and directions
    # but magnitudes filling a disc (a region, not a loop) the evidence stands and the claim falls
    assert not manifold_ranking.rank(codes, decoder, [independent, circle_group], [0.5] * 19).claimed
    filled = codes * np.sqrt(rng.uniform(0.0, 1.0, (len(codes), 1)))
    region = manifold_ranking.rank(filled, decoder, [independent, circle_group], [0.5] * 19, x=filled @ decoder)
    assert region.p_value == 1 / 20 and region.top_ring < activation_ring.SHELL_ROUNDNESS and not region.claimed
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
    ranked = manifold_ranking.rank(np.zeros((10, 4)), np.eye(4), [], null)
    assert not ranked.claimed and len(ranked.order) == 0


def test_claim_threshold_is_where_the_p_value_crosses_alpha():
    rng = np.random.default_rng(0)
    for n in (19, 20, 39, 40, 80, 160):
        tops = rng.uniform(size=n)
        threshold = manifold_ranking.claim_threshold(tops)
        above, at = threshold + 1e-9, threshold
        assert manifold_ranking.claimed(above, tops) and not manifold_ranking.claimed(at, tops)
        low, high = manifold_ranking.threshold_interval(tops, draws=200)
        assert low <= high and tops.min() <= low and high <= tops.max()
    assert manifold_ranking.claim_threshold(rng.uniform(size=18)) is None  # 1/19 > 0.05: nothing claimable
    assert manifold_ranking.threshold_interval(rng.uniform(size=18)) is None


def test_stored_null_strata_are_per_cell_and_per_k_probabilities():
    strata = manifold_ranking.stored_strata()
    assert strata, "no stored null (sae/readers/circle_null.json)"
    for stored in strata:
        stratum = manifold_ranking.Stratum(**stored["stratum"])
        for k in stored["cells"][0]["trained_top_evidence"]:
            tops = manifold_ranking.stored_null(int(k), stratum)
            assert len(tops) == len(stored["cells"]) and np.all((0 <= tops) & (tops <= 1))
            chance = manifold_ranking.stratum_tops(stored, int(k), "random")
            assert len(chance) == len(tops)
    # a stratum that is not stored: None (the study then draws its own null twins)
    assert manifold_ranking.stored_null(1, manifold_ranking.Stratum(1, 1, 1)) is None
    quick = manifold_ranking.Stratum(2000, 256, 6144)
    for k in (1, 2, 4, 8):  # the stratum circles-grid --quick and circle-adversaries read
        tops = manifold_ranking.stored_null(k, quick)
        assert tops is not None and manifold_ranking.claim_threshold(tops) is not None
        nearest, used = manifold_ranking.nearest_null(k, manifold_ranking.Stratum(5000, 256, 8192))
        assert used == quick and len(nearest) == len(tops)


def _split_triangle(rng, d: int, split_deg: float, n: int = 3000):
    """Three orthonormal features firing cyclically in pairs, the third held by two latents split by
    magnitude, split_deg apart (codes [n, 4], decoder [4, d])."""
    frame = np.linalg.qr(rng.normal(size=(d, 4)))[0].T
    tilt = np.radians(split_deg)
    decoder = np.stack([frame[0], frame[1], frame[2], np.cos(tilt) * frame[2] + np.sin(tilt) * frame[3]])
    pair = rng.integers(0, 3, n)
    features = np.zeros((n, 3))
    features[np.arange(n), pair] = rng.uniform(0.2, 1.2, n)
    features[np.arange(n), (pair + 1) % 3] = rng.uniform(0.2, 1.2, n)
    big = features[:, 2] > 0.7
    codes = np.column_stack([features[:, :2], np.where(big, 0, features[:, 2]), np.where(big, features[:, 2], 0)])
    return codes, decoder


@SETTINGS
@given(st.integers(0, 10_000), st.integers(16, 96), st.floats(0.0, 4.0))
def test_a_triangle_with_a_split_latent_is_no_circle(seed, d, split_deg):
    codes, decoder = _split_triangle(np.random.default_rng(seed), d, split_deg)
    evidence = manifold_ranking.circle_evidence(codes, decoder, np.arange(4))
    assert evidence.latent_places == 3 and evidence.evidence == 0.0
    # the counterpart: the same loop of directions held by four latents at four places is read
    tiles = np.random.default_rng(seed)
    codes, decoder, _ = tiled_circle(tiles, d, 4, 0.0)
    assert manifold_ranking.circle_evidence(codes, decoder, np.arange(4)).latent_places == 4


@SETTINGS
@given(st.integers(0, 10_000), st.integers(24, 96), st.integers(8, 24), st.floats(1.0, 2.0), st.sampled_from([0.0, 2.0]))
def test_a_helix_does_not_close_and_loses_its_seam(seed, d, values, rise, offset):
    rng = np.random.default_rng(seed)
    u, v, w, c = np.linalg.qr(rng.normal(size=(d, 4)))[0].T
    theta = 2 * np.pi * np.arange(values) / values
    helix = offset * c + np.cos(theta)[:, None] * u + np.sin(theta)[:, None] * v + rise * (np.arange(values) / values - 0.5)[:, None] * w
    codes = np.eye(values)[rng.integers(0, values, 1500)]
    read = manifold_ranking.circle_evidence(codes, helix, np.arange(values))
    flat = manifold_ranking.circle_evidence(codes, helix - rise * (np.arange(values) / values - 0.5)[:, None] * w, np.arange(values))
    # ζ ≈ 1 − rise / radius, less the tilt the plane's fit takes up (a rise of at least the radius)
    assert read.seam < 0.75 and read.evidence < 0.6
    assert flat.seam > 0.99 and flat.evidence > 0.8  # the counterpart: the same loop, closed


def test_ideal_dictionaries_of_the_adversaries_are_not_claimed():
    """Every `toys.adversaries` kind, read through its ideal dictionary (one latent per atom, the true
    codes), against the stored null at the k its codes use; the planted circle beside it is claimed."""
    import jax

    from toys import adversaries, manifolds

    quick = manifold_ranking.Stratum(2000, 256, 6144)
    active = {"split triangle": 2, "correlated pair": 2, "dense cluster": 8}
    claims = 0
    for kind in adversaries.KINDS:
        for seed in range(3):
            config = adversaries.AdversaryConfig(kind=kind, d=32, values=12 if kind != "decoupled circle" else 6, n_sparse_features=0)
            toy = adversaries.build(config, jax.random.key(seed))
            batch = toy.sample(jax.random.key(100 + seed), 3000)
            codes, decoder = np.asarray(batch.codes), np.asarray(toy.atoms)
            ranked = manifold_ranking.rank(
                codes, decoder, [np.arange(len(decoder))], manifold_ranking.stored_null(active.get(kind, 1), quick), x=np.asarray(batch.x)
            )
            claims += ranked.claimed
    assert claims == 0
    spec = manifolds.ManifoldSpec("circle", values=12, offset=2.0, probability=1.0)
    toy = manifolds.build(manifolds.ManifoldConfig(32, (spec,), 0), jax.random.key(0))
    sample = manifolds.sample(toy, jax.random.key(1), 3000)
    value = np.round(np.asarray(sample.phases[:, 0, 0]) * 12 / (2 * np.pi)).astype(int) % 12
    atoms = np.stack([np.asarray(sample.x)[value == j][0] for j in range(12)])
    ranked = manifold_ranking.rank(
        np.eye(12)[value], atoms, [np.arange(12)], manifold_ranking.stored_null(1, quick), x=np.asarray(sample.x)
    )
    assert ranked.claimed


def test_circle_null_records_each_null_dictionarys_top_evidence_per_k(tmp_path):
    import json

    from experiments.runner import cli

    tiny = [
        "--set",
        "cells=2",
        "--set",
        "grid.dims=16,20",
        "--set",
        "grid.sparse_features=10,20",
        "--set",
        "grid.sparse_mean_l0=1",
        "--set",
        "grid.sizes=32,48",
        "--set",
        "grid.ks=1,2",
        "--set",
        "grid.steps=60",
        "--set",
        "grid.batch_size=64",
        "--set",
        "grid.n_geometry=600",
    ]
    assert cli.main(["run", "circle-null", "--out", str(tmp_path), "--quick", *tiny]) == 0
    folder = next((tmp_path / "circle-null").iterdir())
    results = json.loads((folder / "results.json").read_text())
    assert len(results["cells"]) == 2 and set(results["per_k"]) == {"1", "2"}
    for entry in results["per_k"].values():
        assert len(entry["trained"]) == 2 and len(entry["random"]) == 2  # trained and random apart, not pooled
        assert entry["trained"] == sorted(entry["trained"])
        assert all(0.0 <= e <= 1.0 for e in entry["trained"] + entry["random"])
        # with two null dictionaries no evidence reaches p ≤ 0.05: (1 + 0) / 3 > 0.05
        assert entry["threshold"] is None and entry["threshold_interval"] is None
    assert results["record"]["stratum"] == {"steps": 60, "batch_size": 64, "n_geometry": 600}
    assert all(set(cell["trained_top_evidence"]) == {"1", "2"} for cell in results["record"]["cells"])
    # grid.seed and grid.cells are set from seed and cells: setting them is refused, nothing written
    assert cli.main(["run", "circle-null", "--out", str(tmp_path / "refused"), "--set", "grid.cells=3"]) == 2
    assert not (tmp_path / "refused").exists()
