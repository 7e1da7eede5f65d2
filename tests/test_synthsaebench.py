"""`toylab run synthsaebench` at a tiny size: the results contract, the model file, bad input."""

from __future__ import annotations

import json

import pytest

from experiments import cli, synthsaebench
from toys import synthetic_files, synthetic_model

TINY = [
    "width=64", "samples_per_sae=20480", "batch_size=512", "n_seeds=1", "archs=l1", "target_l0s=4",
    "l1_coefficients=0.1,3.0", "calibration_share=0.5", "learning_rate=0.003", "n_eval=100000", "saelens_samples=0",
]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    # A flat model (no hierarchy, no correlation) keeps compilation short; the full family is
    # exercised in tests/test_synthetic_model.py. It also takes the model_folder path.
    config = synthetic_model.SyntheticModelConfig(num_features=128, hidden_dim=16, seed=3,
                                                  firing_probability=synthetic_model.zipfian(0.5, 0.3, 0.01))
    folder = synthetic_files.save(tmp_path_factory.mktemp("model") / "tiny", synthetic_model.build(config))
    out = tmp_path_factory.mktemp("runs")
    arguments = [*TINY, f"model_folder={folder}"]
    assert cli.main(["run", "synthsaebench", "--quick", "--out", str(out), *sum((["--set", a] for a in arguments), [])]) == 0
    return next((out / "synthsaebench").iterdir())


def test_results_contract_and_model_file(run_folder):
    results = json.loads((run_folder / "results.json").read_text())
    assert results["samples_per_sae"] == 20480 and results["model"]["is_synthsaebench_16k"] is False
    assert {e["arch"] for e in results["entries"]} == {"l1"}
    for entry in results["entries"]:
        assert entry["target_l0"] == 4 and entry["seed"] == 0
        for metric in ("f1", "mcc", "uniqueness", "explained_variance", "l0", "dead_fraction"):
            assert 0 <= entry["metrics"][metric] <= max(1, entry["metrics"]["l0"])
    assert set(results["published"]) == set(synthsaebench.ARCHS)
    assert results["published"]["matryoshka"]["25"]["f1"]["mean"] == 0.8793
    assert {e["arch"] for e in results["chance"]} == {"random"}
    assert set(results["calibration"]) == {"l1"} and len(results["calibration"]["l1"]["l0"]) == 2
    # the model, in SAELens' file format, beside the results
    parts = synthetic_files.load(run_folder / "synthetic_model")
    assert parts.feature_vectors.shape == (128, 16)
    assert (run_folder / "figures" / "f1_mcc_vs_published.png").exists()
    assert "random" in (run_folder / "summary.txt").read_text()


def test_bad_input_names_the_field(tmp_path, capsys):
    code = cli.main(["run", "synthsaebench", "--quick", "--out", str(tmp_path), "--set", "archs=topk"])
    assert code == 2 and "archs" in capsys.readouterr().err
    assert not (tmp_path / "synthsaebench").exists()
    code = cli.main(["run", "synthsaebench", "--quick", "--out", str(tmp_path), "--set", f"model_folder={tmp_path}"])
    assert code == 2 and "model_folder" in capsys.readouterr().err
