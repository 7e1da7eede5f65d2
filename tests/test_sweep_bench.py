"""`toylab sweep` and `toylab bench` (no timing is asserted: machines are shared and noisy)."""

import json

from cli_args import sets

from experiments import bench
from experiments.runner import cli


def test_sweep_trains_seeds_times_values_and_reports_each(tmp_path, capsys):
    argv = [
        "sweep",
        "--quick",
        "--out",
        str(tmp_path),
        *sets(
            "toy.n_features=16",
            "toy.d=8",
            "toy.mean_l0=1",
            "arch=topk",
            "size=16",
            "hyperparameter=k",
            "values=1,3",
            "steps=50",
            "batch_size=32",
        ),
    ]
    assert cli.main(argv) == 0
    (folder,) = (tmp_path / "sweep").iterdir()
    entries = json.loads((folder / "results.json").read_text())["dictionaries"]
    assert sorted((e["value"], e["seed"]) for e in entries) == [(1, 0), (1, 1), (3, 0), (3, 1)]
    by_value = {v: [e["metrics"]["l0"] for e in entries if e["value"] == v] for v in (1, 3)}
    assert max(by_value[1]) <= 1.0 < min(by_value[3])  # k is traced per member
    assert (folder / "figures" / "sweep.png").exists()
    assert "mean ±" in capsys.readouterr().out


def test_sweep_refuses_values_outside_the_range(tmp_path, capsys):
    argv = ["sweep", "--out", str(tmp_path), "--set", "hyperparameter=k", "--set", "values=0,4"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.startswith("toylab: error: values:")


def test_bench_measures_ours_and_skips_saelens_when_absent(monkeypatch):
    case = bench.Case("tiny", 16, 8, 16, 2, 32, 2, 1.0, 5, 3.0)
    assert bench.ours(case, repeats=1) > 0
    import builtins

    real_import = builtins.__import__

    def no_saelens(name, *args, **kwargs):
        if name.startswith("sae_lens"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_saelens)
    assert bench.saelens(case, repeats=1) is None
    sampler = bench.sampler_throughput(repeats=1, shape=(64, 8, 32))
    assert sampler["ours_sparse"] > 0 and sampler["ours_dense"] > 0 and sampler["saelens"] is None
    synthetic = bench.synthetic_training(
        repeats=1, case={**bench.SYNTHETIC_CASE, "features": 64, "dims": 8, "width": 16, "k": 2, "batch_size": 32, "steps": 2}
    )
    assert synthetic["ours_samples_per_s"] > 0 and synthetic["saelens_samples_per_s"] is None
    text = bench.report(
        {
            "matmul_gflops_per_s": 1.0,
            "device": "cpu",
            "cases": [
                {
                    "case": "tiny",
                    "n_features": 16,
                    "d": 8,
                    "m": 16,
                    "k": 2,
                    "batch_size": 32,
                    "n_saes": 2,
                    "ours_sae_steps_per_s": 10.0,
                    "saelens_sae_steps_per_s": None,
                    "target_ratio": 3.0,
                }
            ],
            "synthetic": synthetic,
            "sampler": sampler,
        }
    )
    assert "skipped" in text and "not installed" in text and "synthetic-model sampler" in text
    assert "C    BatchTopK k=2 on the synthetic model" in text


def test_bench_profile_times_every_stage_of_a_topk_and_a_batchtopk_step():
    import jax

    from experiments import bench_profile
    from sae import architectures, pipeline, train
    from toys import superposition

    toy = superposition.build(superposition.SuperpositionConfig(n_features=16, d=8, mean_l0=1.0), jax.random.key(0))
    rows = []
    for arch, runs in (("topk", 2), ("batchtopk", 1)):
        config = train.TrainConfig(arch, 8, 16, steps=3, batch_size=16, k_max=2)
        hps = pipeline.stack([architectures.hparams(3e-4, 0.0, 2)] * runs)
        times = bench_profile.stage_times(config, pipeline.toy_activations, toy, hps, jax.random.split(jax.random.key(1), runs), repeats=1)
        assert set(times) == set(bench_profile.STAGES) and min(times.values()) > 0
        rows.append({"case": arch, **times})
    text = bench_profile.report(rows)
    assert all(stage in text for stage in bench_profile.STAGES) and "batchtopk" in text
