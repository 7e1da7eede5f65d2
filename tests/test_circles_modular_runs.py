"""The `circles` and `modular` experiments end to end at tiny shapes: results contract and figures."""

import json

from cli_args import sets

from experiments.runner import cli

TINY_CIRCLES = sets(
    "toy.d=16",
    "toy.n_sparse_features=16",
    "toy.sparse_mean_l0=1",
    "sizes=32,48",
    "ks=1,2",
    "k=1",
    "steps=80",
    "batch_size=64",
    "n_geometry=600",
    "figure_size=32",
)
TINY_MODULAR = sets(
    "toy.p=11", "toy.embed_dim=8", "toy.hidden=16", "toy.steps=60", "sae_size=32", "k=2", "sae_steps=40", "sae_batch_size=32"
)


def _run(tmp_path, name, argv):
    assert cli.main(["run", name, "--out", str(tmp_path), "--quick", *argv]) == 0
    folder = next((tmp_path / name).iterdir())
    return json.loads((folder / "results.json").read_text()), folder


def test_circles_results_contract(tmp_path):
    results, folder = _run(tmp_path, "circles", TINY_CIRCLES)
    entries = results["circles"]
    # 3 circles × (2 sizes × 2 ks trained, the same on the decoupled twin, + 2 random)
    assert len(entries) == 3 * (2 * 2 + 2 * 2 + 2)
    for entry in entries:
        assert {
            "circle",
            "kind",
            "size",
            "max_principal_angle_deg",
            "ordering_score",
            "latents_on_circle",
            "cyclic_order",
            "adjacent_share",
            "rank_circular_correlation",
            "shape",
            "found",
            "mode",
        } <= set(entry)
        assert 0.0 <= entry["max_principal_angle_deg"] <= 90.0
        assert entry["ordering_score"] is None or 0.0 <= entry["ordering_score"] <= 1.0
        if entry["ordering_score"] is not None:  # never reported on fewer samples than the stated minimum
            assert entry["ordering_samples"] >= 100
        blind = entry["blind"]
        assert blind["recall_at_1"] <= blind["recall_at_3"] and entry["exists"] == entry["found"]
        assert not blind["claimed_any_found"] or blind["claims"] > 0
    assert {e["circle"] for e in entries} == {"days", "months", "ring"}
    assert {e["kind"] for e in entries} == {"topk", "decoupled", "random"}
    # the decoupled twin's control counts one entry per dictionary (its first circle's), 2 sizes × 2 ks
    from experiments.studies import circles

    counts = circles.blind_counts(results)
    assert counts["decoupled twin false claims"]["of"] == 4 and counts["random dictionary false claims"]["of"] == 6
    decoupled = [e for e in entries if e["kind"] == "decoupled" and e["circle"] == "days"]
    assert counts["decoupled twin false claims"]["count"] == sum(e["blind"]["claims"] > 0 for e in decoupled)
    assert {p.name for p in (folder / "figures").iterdir()} == {
        "circle_pca.png",
        "tiling.png",
        "polygon_error.png",
        "recovery_vs_size.png",
    }  # the ring is planted


def test_modular_results_contract(tmp_path):
    results, folder = _run(tmp_path, "modular", TINY_MODULAR)
    assert results["p"] == 11 and 0.0 <= results["test_accuracy"] <= 1.0
    assert results["key_frequencies"] and all(1 <= k <= 5 for k in results["key_frequencies"])
    assert results["top_frequencies_variance_share"] >= 0.9 - 1e-9
    assert set(results["latents_per_key_frequency"]) == {"sae", "random", "neuron"}
    assert {p.name for p in (folder / "figures").iterdir()} == {"fourier_spectrum.png", "latents_per_frequency.png", "training.png"}
    # toylab evaluate retrains the network from the config with the run's keys and reads the saved SAE on
    # its hidden layer through the run's graders: live units, units off the key frequencies, EV — equal
    assert cli.main(["evaluate", str(folder)]) == 0
    agreement = json.loads((folder / "dictionaries" / "results.json").read_text())["agreement_with_run"]
    assert agreement["compared"] == 3 and agreement["equal"] == 3, agreement
