"""`circles-grid` end to end at tiny shapes: cells drawn from the ranges, the results contract, controls."""

import json

import numpy as np
from cli_args import sets

from experiments import circle_cells
from experiments.runner import cli, table
from sae.readers import activation_ring

TINY = sets(
    "cells=2",
    "ks=1",
    "dims=16,20",
    "sparse_features=10,20",
    "sparse_mean_l0=1",
    "sizes=32,48",
    "steps=60",
    "batch_size=64",
    "n_geometry=600",
    "shape_clouds=1",
    "shape_points=200",
)
METHOD_FIELDS = {"found", "max_principal_angle_deg", "cyclic_order", "adjacent_share", "rank_circular_correlation", "shape", "mode"}


def test_results_contract(tmp_path):
    assert cli.main(["run", "circles-grid", "--out", str(tmp_path), "--quick", *TINY]) == 0
    folder = next((tmp_path / "circles-grid").iterdir())
    results = json.loads((folder / "results.json").read_text())
    assert len(results["cells"]) == 2
    for cell in results["cells"]:
        assert {"period", "d", "offset", "n_sparse", "k", "m"} <= set(cell)
        assert 16 <= cell["d"] <= 20 and 32 <= cell["m"] <= 48 and cell["k"] == 1
        assert cell["period"] == 0 or 5 <= cell["period"] <= 24
        for method in ("recipe", "oracle", "random", "null", "decoupled"):
            assert METHOD_FIELDS <= set(cell[method]), method
            assert cell[method]["mode"] in ("tiling", "span", None)
            assert 0.0 <= cell[method]["max_principal_angle_deg"] <= 90.0
    for field in ("recipe_recovery_given_oracle", "null_false_positive_rate", "random_false_positive_rate"):
        assert field in results
    blind = results["blind"]
    for field in ("exists", "recall_at_1", "recall_at_3", "claimed_found"):
        assert blind[field]["of"] == blind["recoverable_cells"]
    assert set(blind["false_claims"]) == set(circle_cells.CONTROLS)
    for k, controls in blind["false_claims_by_k"].items():
        assert int(k) in (1, 2) and set(controls) == set(circle_cells.CONTROLS)
        for entry in controls.values():
            low, high = entry["interval"]
            assert 0.0 <= low <= entry["rate"] <= high <= 1.0
    assert blind["all_cells"]["recall_at_1"]["of"] == len(results["cells"])
    assert sum(e["of"] for e in blind["claimed_found_by_offset"].values()) == len(results["cells"])
    assert sum(e["of"] for e in blind["claimed_found_by_latents"].values()) == len(results["cells"])
    # the summary reads the blind rates back from the results table: the same dict the run computed
    assert circle_cells.blind_from_table(table.read(results)) == blind
    # no stored null at these tiny settings: the run's own null twins decide (one per cell, leave one out)
    assert "own null twins" in results["null_source"]
    for cell in results["cells"]:
        assert cell["blind"]["null"]["null_size"] == len(results["cells"]) - 1
        assert cell["blind"]["sae"]["null_size"] == len(results["cells"])
    for cell in results["cells"]:
        sae = cell["blind"]["sae"]
        assert sae["recall_at_1"] <= sae["recall_at_3"]  # top 1 found ⇒ among the top 3
        assert not sae["claimed_found"] or (sae["claimed"] and sae["recall_at_1"])
        assert 0.0 < sae["p_value"] <= 1.0 and 0.0 <= sae["top_evidence"] <= 1.0
        # a claim: p ≤ α and a ring in the activations where the top candidate fires; on evidence: p ≤ α
        assert sae["claimed_on_evidence"] == (sae["p_value"] <= 0.05)
        assert sae["claimed"] == (sae["claimed_on_evidence"] and activation_ring.holds_ring(sae["top_ring"]))
        assert sae["claimed_found_on_evidence"] == (sae["claimed_on_evidence"] and sae["recall_at_1"])
    assert set(results["shape_confusion"]) == set(circle_cells.SHAPE_KINDS)
    assert {p.name for p in (folder / "figures").iterdir()} == {"recovery_map.png", "false_positives.png", "shape_confusion.png"}


def test_cells_are_drawn_by_the_seed_not_picked():
    config = circle_cells.Config(cells=200)
    cells = circle_cells.draw_cells(config)
    assert cells == circle_cells.draw_cells(config)  # reproducible
    assert cells != circle_cells.draw_cells(circle_cells.Config(cells=200, seed=1))
    # every range is visited: both offsets, every k, continuous and discrete circles, the ends of d and m
    assert {c["offset"] for c in cells} == {True, False} and {c["k"] for c in cells} == set(config.ks)
    assert any(c["period"] == 0 for c in cells) and any(c["period"] > 0 for c in cells)
    d = np.array([c["d"] for c in cells])
    m = np.array([c["m"] for c in cells])
    assert d.min() < 40 and d.max() > 120 and m.min() < 320 and m.max() > 1600


def test_the_null_toy_keeps_labels_and_sparse_codes_but_no_circle():
    import jax

    from toys import manifolds

    config = circle_cells.Config()
    cell = {"period": 7, "d": 24, "offset": True, "n_sparse": 30, "k": 1, "m": 64}
    toy = manifolds.build(circle_cells.cell_toy_config(config, cell), jax.random.PRNGKey(0))
    real = manifolds.sample(toy, jax.random.PRNGKey(1), 500)
    null = manifolds.sample(circle_cells.null_toy(toy), jax.random.PRNGKey(1), 500)
    np.testing.assert_array_equal(real.present, null.present)
    np.testing.assert_allclose(real.codes, null.codes)
    span = manifolds.subspace(toy, 0)
    # the real toy's circle samples have energy in the span beyond the sparse features; the null toy's do not
    sparse_only = np.asarray(real.x) - np.asarray(null.x)
    assert np.allclose(sparse_only[~np.asarray(real.present[:, 0])], 0)
    assert np.linalg.norm(sparse_only[np.asarray(real.present[:, 0])] @ span.T, axis=1).min() > 1.0
