"""The shapes in the public signatures (jaxtyping, `toys.engine.shapes`) are the shapes the code keeps.

A subprocess imports the annotated modules under jaxtyping's import hook (each call checked by
beartype), fits every architecture for a few steps on a tiny toy, encodes, reconstructs and
scores; the counterpart passes a decoder of the wrong width and must be refused by the hook.
"""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    from jaxtyping import install_import_hook

    MODULES = ["sae.metrics", "sae.architectures", "sae.pipeline", "toys.protocol", "toys.superposition",
               "sae.readers.geometry", "sae.readers.feature_map", "sae.readers.manifold_finder",
               "sae.readers.manifold_ranking", "sae.readers.manifold_grading", "sae.readers.knockoff",
               "sae.readers.hierarchy", "sae.readers.detectors", "sae.readers.clustering", "sae.readers.topology",
               "sae.readers.projection_circles", "sae.readers.grid_latents"]
    with install_import_hook(MODULES, "beartype.beartype"):
        from sae import architectures, metrics, pipeline
        from sae.readers import (clustering, detectors, feature_map, geometry, grid_latents, hierarchy, knockoff,
                                 manifold_grading, manifold_ranking, projection_circles, topology)
        from toys import superposition

    import jax
    import numpy as np

    toy = superposition.build(superposition.SuperpositionConfig(n_features=12, d=6, mean_l0=2.0), jax.random.key(0))
    batch = toy.sample(jax.random.key(1), 64)
    for arch in ("topk", "relu", "batchtopk", "matching_pursuit", "jumprelu", "gated", "matryoshka"):
        hps = pipeline.stack([architectures.hparams(k=2, l1_coefficient=1e-3)] * 2)
        keys = jax.random.split(jax.random.key(2), 2)
        result = pipeline.fit(arch, toy, hps, keys, n_latents=16, steps=4, batch_size=32)
        codes = pipeline.encode(arch, result.params, hps, batch.x)
        x_hat = pipeline.reconstruct(arch, result.params, hps, batch.x)
        assert codes.shape == (2, 64, 16) and x_hat.shape == (2, 64, 6)
        metrics.mcc(metrics.abs_cosine(toy.features, result.params.W_dec[0]))
        pipeline.explained_variance(arch, result.params, hps, batch.x)
    chance = pipeline.chance_dictionaries(jax.random.split(jax.random.key(3), 2), 6, 16)
    pipeline.chance_codes(chance, 2, batch.x)
    decoder = np.asarray(chance.W_dec[0])
    feature_map.neighbours(decoder, 3)
    geometry.principal_angles_deg(np.linalg.qr(np.random.default_rng(0).normal(size=(6, 2)))[0].T,
                              np.linalg.qr(np.random.default_rng(1).normal(size=(6, 2)))[0].T)
    # a 12-tile circle beside 20 random rows in d = 16; each sample fires two neighbouring tiles
    rng = np.random.default_rng(0)
    angles = 2 * np.pi * np.arange(12) / 12
    rows = np.concatenate([np.stack([np.cos(angles), np.sin(angles)], 1) @ np.eye(2, 16),
                           rng.normal(size=(20, 16)) / 4.0])
    tile = rng.integers(0, 12, 600)
    circle_codes = np.zeros((600, 32))
    circle_codes[np.arange(600), tile] = 1.0
    circle_codes[np.arange(600), (tile + 1) % 12] = 0.5
    groups, found_by, ranked = manifold_ranking.find_and_rank(circle_codes @ rows, circle_codes, rows, seed=0)
    manifold_grading.oracle_group(rows, np.ones(32, bool), np.eye(2, 16))
    knockoff.correlation_placement(rng, circle_codes, rows)
    knockoff.random_placement(rng, rows)
    hierarchy.assign(rows, rows[:12])
    projection_circles.blind_planes(circle_codes, rows, seed=0)
    labels = rng.random((600, 3)) < 0.5
    detectors.best_unit_auroc(circle_codes, labels)
    detectors.probe_accuracy(circle_codes, labels, np.arange(600) < 400)
    clustering.scores(np.arange(12) % 3, clustering.cluster(rows[:12], 3, n_neighbors=4))
    a_plus_b = np.add.outer(np.arange(5), np.arange(5)).ravel() % 5  # p = 5: units firing on slices of a + b
    slices = (a_plus_b[:, None] == np.arange(5)[None]).astype(np.float64)
    kinds = grid_latents.categorise(slices, 5)
    grid_latents.slice_widths(slices, kinds, 5), grid_latents.tiling(slices, kinds, 5)
    topology.topology(np.stack([np.cos(angles), np.sin(angles)], 1).repeat(10, 0))
    if "--wrong" in sys.argv:
        metrics.abs_cosine(toy.features, np.ones((16, 5)))  # d = 5 against the features' 6
    print("ok")
""")


def _run(*args):
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=600)


def test_public_signatures_hold_their_shapes_at_run_time():
    done = _run()
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


def test_a_wrong_shape_is_refused_by_the_check():
    done = _run("--wrong")
    assert done.returncode != 0 and "TypeCheckError" in done.stderr, done.stderr[-3000:]
