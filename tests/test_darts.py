"""The darts experiment: random-vector facts and a tiny end-to-end run."""

import json

import jax
import numpy as np
import pytest
from cli_args import sets

from experiments.runner import cli
from experiments.studies import darts
from theory import random_vectors


def test_max_coherence_matches_brute_force():
    X = np.asarray(jax.random.rademacher(jax.random.key(0), (64, 16), dtype=np.float32)) / 4.0
    gram = np.abs(X @ X.T)
    np.fill_diagonal(gram, 0)
    assert random_vectors.max_coherence(X, block=16) == pytest.approx(gram.max())


def test_inner_products_with_32n_rademacher_rows_have_the_predicted_std():
    # acceptance: n = 1024, m = 32768, empirical std of Xᵀy within 2% of ‖y‖/√n
    config = darts.Config(n=1024, ratios=(32,), coherence_max_ratio=1)
    facts, arrays = darts.numerical_facts(config, jax.random.key(0))
    (row,) = facts["by_m"]
    assert row["m"] == 32768 and "max_coherence" not in row
    assert row["inner_std_relative_error"] < 0.02
    assert 0.8 < row["max_inner"] / row["predicted_max_inner"] < 1.1
    assert arrays["inner_products"].shape == (32768,)


def test_sphere_tail_matches_monte_carlo_and_is_lighter_than_the_gaussian():
    d, threshold = 16, 0.5
    u = np.asarray(jax.random.normal(jax.random.key(0), (400_000, d)))
    cosines = np.abs(u[:, 0]) / np.linalg.norm(u, axis=1)
    measured = float((cosines > threshold).mean())
    assert random_vectors.hit_fraction_sphere(threshold, d, 1) == pytest.approx(measured, abs=0.002)
    assert random_vectors.hit_fraction_sphere(threshold, d, 1) < random_vectors.hit_fraction_gaussian(threshold, d, 1)


def test_predicted_hit_fraction_grows_with_m_and_falls_with_the_threshold():
    assert random_vectors.hit_fraction_gaussian(0.5, 32, 64) < random_vectors.hit_fraction_gaussian(0.5, 32, 1024)
    assert random_vectors.hit_fraction_gaussian(0.9, 32, 1024) < random_vectors.hit_fraction_gaussian(0.5, 32, 1024)
    assert 0.0 <= random_vectors.hit_fraction_gaussian(0.7, 32, 32) <= 1.0


def test_tiny_darts_run_has_the_superposition_results_shape(tmp_path):
    argv = [
        "run",
        "darts",
        "--quick",
        "--out",
        str(tmp_path),
        *sets("n=64", "ratios=1,2", "toy.n_features=16", "toy.d=8", "toy.mean_l0=1", "size_ratios=1,2", "k=2", "steps=60", "batch_size=64"),
    ]
    assert cli.main(argv) == 0
    (folder,) = (tmp_path / "darts").iterdir()
    results = json.loads((folder / "results.json").read_text())
    kinds = {(e["kind"], e["size"]) for e in results["dictionaries"]}
    assert kinds == {(k, s) for k in (*darts.DARTS_TRAINED, *darts.DARTS_BASELINES) for s in (8, 16)}
    assert all({"mmcs", "mcc", "f1", "explained_variance"} <= set(e["metrics"]) for e in results["dictionaries"])
    assert {h["threshold"] for h in results["random_hits"]} == set(darts.THRESHOLDS)
    assert len(list((folder / "figures").iterdir())) == 4
