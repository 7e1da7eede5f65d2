"""The `trees` experiment end to end at tiny shapes: results contract and figures."""

import json

from cli_args import sets

from experiments.runner import cli
from sae import absorption_saebench

# two_feature_* keep their defaults: the same compiled training as tests/test_absorption_toy.py
TINY_TREES = sets(
    "toy.n_roots=4",
    "toy.d=16",
    "size=32",
    "splitting_sizes=16,32",
    "k=2",
    "steps=100",
    "batch_size=128",
    "n_eval=2000",
    "n_tree_samples=1000",
    "saebench_samples=2000",
)


def test_trees_results_contract(tmp_path):
    assert cli.main(["run", "trees", "--out", str(tmp_path), "--quick", *TINY_TREES]) == 0
    folder = next((tmp_path / "trees").iterdir())
    results = json.loads((folder / "results.json").read_text())
    kinds = [entry["kind"] for entry in results["dictionaries"]]
    assert kinds == ["batchtopk", "matryoshka", "relu", "random"]
    for entry in results["dictionaries"]:
        metrics = entry["metrics"]
        assert {"f1", "mcc", "absorption_rate", "absorbed_share", "edge_recall_linkage_cosine"} <= set(metrics)
        assert 0.0 <= metrics["absorption_rate"] <= 1.0
        assert len(metrics["absorption_scores"]) == results["toy"]["n_features"]
    splitting = results["splitting"]
    assert set(splitting["edge_recall"]) == {"sizes", "linkage_cosine", "linkage_cofiring"}
    assert all(0.0 <= value <= 1.0 for value in splitting["edge_recall"].values())
    assert set(splitting["chance"]) == {"random_dictionaries", "shuffled_tree"}
    two = results["two_feature"]
    assert abs(two["hand_built"]["absorbed"]["l1"] - two["expected_l1"]["absorbed"]) < 1e-9
    assert set(two["trained"]) == {"relu", "matryoshka_l1"}
    # edge-level absorption: one record per planted edge, architecture and seed; counts behind every number
    n_edges = sum(1 for p in json.loads((folder / "results.json").read_text())["edge_absorption"])
    assert n_edges > 0 and n_edges % len(kinds) == 0
    for record in results["edge_absorption"]:
        assert {
            "parent",
            "child",
            "arch",
            "seed",
            "recall_alone",
            "recall_with_child",
            "symptom_gap",
            "absorbed_rate",
            "n_absorbed",
            "n_alone",
            "n_with_child",
        } <= set(record)
        assert record["n_absorbed"] <= record["n_with_child"] - record["n_with_child_hit"]
        if record["n_with_child"] == 0 or record["n_alone"] == 0:
            assert record["symptom_gap"] is None
        else:
            assert (
                abs(
                    record["symptom_gap"]
                    - (record["n_alone_hit"] / record["n_alone"] - record["n_with_child_hit"] / record["n_with_child"])
                )
                < 1e-3
            )
    assert set(results["edge_absorption_summary"]) == set(kinds)
    # SAEBench's absorption on every dictionary, the random one included
    for entry in results["dictionaries"]:
        reading = entry["metrics"]["saebench_absorption"]
        n_concepts = min(absorption_saebench.MAX_CONCEPTS, results["toy"]["n_parents"])
        assert reading["concepts"] == n_concepts and 0 <= reading["scored_concepts"] <= n_concepts
        for name in ("full_absorption_rate", "mean_absorption_fraction", "full_absorption_baseline"):
            assert reading[name] is None or 0.0 <= reading[name] <= 1.0
    assert "SAEBench absorption" in (folder / "summary.txt").read_text()
    assert all("edge_absorption" not in entry["metrics"] for entry in results["dictionaries"])
    assert {p.name for p in (folder / "figures").iterdir()} == {"trees.png", "absorption_by_architecture.png", "edge_absorption.png"}
