"""`toylab run synthsaebench` at a tiny size: the results contract, the model file, bad input."""

from __future__ import annotations

import json

import pytest

from experiments.runner import cli
from experiments.studies import synthsaebench
from toys import synthetic_files, synthetic_model

TINY = [
    "width=64",
    "samples_per_sae=20480",
    "batch_size=512",
    "n_seeds=1",
    "archs=batchtopk",
    "target_l0s=4",
    "learning_rate=0.003",
    "n_eval=100000",
    "saelens_samples=0",
]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    # A flat model (no hierarchy, no correlation) and one architecture keep compilation short
    # (the sampler compiles into every training program); the full family is exercised in
    # tests/test_synthetic_model.py, the λ calibration below. It also takes the model_folder path.
    config = synthetic_model.SyntheticModelConfig(
        num_features=128, hidden_dim=16, seed=3, firing_probability=synthetic_model.zipfian(0.5, 0.3, 0.01)
    )
    folder = synthetic_files.save(tmp_path_factory.mktemp("model") / "tiny", synthetic_model.build(config))
    out = tmp_path_factory.mktemp("runs")
    arguments = [*TINY, f"model_folder={folder}"]
    assert cli.main(["run", "synthsaebench", "--quick", "--out", str(out), *sum((["--set", a] for a in arguments), [])]) == 0
    return next((out / "synthsaebench").iterdir())


def test_results_contract_and_model_file(run_folder):
    results = json.loads((run_folder / "results.json").read_text())
    assert results["samples_per_sae"] == 20480 and results["model"]["is_synthsaebench_16k"] is False
    assert {e["arch"] for e in results["entries"]} == {"batchtopk"}
    for entry in results["entries"]:
        assert entry["target_l0"] == 4 and entry["seed"] == 0
        for metric in ("f1", "mcc", "uniqueness", "explained_variance", "l0", "dead_fraction"):
            assert 0 <= entry["metrics"][metric] <= max(1, entry["metrics"]["l0"])
    # the run reports the published table as the module holds it (a run that mislabels rows fails)
    published = results["published"]
    assert set(published) == set(synthsaebench.ARCHS)
    for arch, by_l0 in synthsaebench.PUBLISHED.items():
        for l0, scores in by_l0.items():
            for metric, (mean, std) in scores.items():
                assert published[arch][str(l0)][metric] == {"mean": mean, "std": std}, (arch, l0, metric)
    assert {e["arch"] for e in results["chance"]} == {"random"}
    # the model, in SAELens' file format, beside the results
    parts = synthetic_files.load(run_folder / "synthetic_model")
    assert parts.feature_vectors.shape == (128, 16)
    assert (run_folder / "figures" / "f1_mcc_vs_published.png").exists()
    assert "random" in (run_folder / "summary.txt").read_text()
    # edge-level absorption: a flat model has no edges, so the file is an empty list and nothing is summarised
    assert json.loads((run_folder / "edge_absorption.json").read_text()) == []
    assert results["edge_absorption_summary"] == {} and results["edge_absorption_file"] == "edge_absorption.json"
    assert all("absorption_scores" not in e["metrics"] for e in results["entries"] + results["chance"])


def test_bad_input_names_the_field(tmp_path, capsys):
    code = cli.main(["run", "synthsaebench", "--quick", "--out", str(tmp_path), "--set", "archs=topk"])
    assert code == 2 and "archs" in capsys.readouterr().err
    assert not (tmp_path / "synthsaebench").exists()
    code = cli.main(["run", "synthsaebench", "--quick", "--out", str(tmp_path), "--set", f"model_folder={tmp_path}"])
    assert code == 2 and "model_folder" in capsys.readouterr().err


def test_published_table_holds_the_papers_order_and_ranges():
    # Checks that catch a mistyped value: each mean a fraction with a small spread, and the F1 order
    # at L0 = 25 the paper reports (Matryoshka ≥ BatchTopK ≈ JumpReLU > L1 > MatchingPursuit).
    table = synthsaebench.PUBLISHED
    assert set(table) == set(synthsaebench.ARCHS)
    for by_l0 in table.values():
        assert set(by_l0) == {20, 25}
        for scores in by_l0.values():
            for mean, std in scores.values():
                assert 0.3 < mean < 1.0 and 0 < std < 0.01
    f1 = {arch: table[arch][25]["f1"][0] for arch in table}
    matryoshka, batchtopk, jumprelu, l1, pursuit = (f1[a] for a in synthsaebench.PUBLISHED_ORDER_F1_25)
    assert matryoshka > max(batchtopk, jumprelu) and abs(batchtopk - jumprelu) < 0.01
    assert min(batchtopk, jumprelu) > l1 > pursuit


def test_calibration_finds_the_penalty_for_each_target_l0():
    import jax

    from sae import architectures, pipeline
    from toys import superposition

    toy = superposition.build(superposition.SuperpositionConfig(n_features=64, d=16, mean_l0=3.0), jax.random.key(0))
    result = pipeline.calibrate_to_l0(
        "relu",
        toy,
        architectures.hparams(3e-3),
        (0.03, 3.0),
        (2.0, 10_000.0),
        jax.random.key(1),
        eval_key=jax.random.key(2),
        n_latents=32,
        steps=300,
        batch_size=256,
    )
    low, high = result["l0"]
    assert low > high  # more penalty, fewer active latents
    assert high < 2.0 < low  # the sweep brackets the target (no silent skip: a sweep that misses it fails)
    chosen = result["chosen"]
    assert 0.03 < chosen[2.0] < 3.0 and 2.0 not in result["outside"]
    assert chosen[10_000.0] == pytest.approx(0.03) and 10_000.0 in result["outside"]  # beyond the sweep: its end


def test_the_saelens_side_by_side_trains_both_libraries_on_one_model(tmp_path):
    # With sae-lens installed (make test installs it), SAELens and toylab train BatchTopK,
    # Matryoshka and L1 on the same model file and both rows are reported.
    from saelens_reference import require

    require("sae_lens.synthetic")
    import jax

    from experiments import saelens_side_by_side
    from experiments.studies.synthsaebench import train_and_score

    parts = synthetic_model.build(
        synthetic_model.SyntheticModelConfig(
            num_features=64, hidden_dim=8, seed=3, firing_probability=synthetic_model.zipfian(0.5, 0.3, 0.01)
        )
    )
    toy = synthetic_model.from_parts(parts)
    config = synthsaebench.Config(
        n_seeds=1, width=32, target_l0s=(3,), batch_size=256, samples_per_sae=1024, saelens_samples=1024, n_eval=4_000, learning_rate=3e-3
    )
    side = saelens_side_by_side.compare(config, toy, parts, jax.random.key(0), jax.random.key(1), {}, train_and_score)
    assert set(side["per_arch"]) == set(saelens_side_by_side.ARCHS)
    for both in side["per_arch"].values():
        for library in ("toylab", "saelens"):
            assert 0 <= both[library]["f1"] <= 1 and both[library]["l0"] > 0
    assert set(side["orders_agree"]) == {"f1", "mcc"}
    for metric in ("f1", "mcc"):  # each library's order is its own scores, best first
        for library in ("toylab", "saelens"):
            scores = [side["per_arch"][arch][library][metric] for arch in side["orders"][metric][library]]
            assert sorted(side["orders"][metric][library]) == sorted(saelens_side_by_side.ARCHS)
            assert scores == sorted(scores, reverse=True), (metric, library, scores)
        agree = side["orders"][metric]["toylab"] == side["orders"][metric]["saelens"]
        assert side["orders_agree"][metric] is agree
    # (at this test's 4 training steps a BatchTopK's learned threshold is still near its start, so its
    # L0 is not yet near k: the scores themselves promise nothing here; the study's runs compare them)
    assert "SAELens side by side" in saelens_side_by_side.summary(side)
