"""The `toylab` command: bad input, run folders, determinism, divergence, atomic writes."""

import json

import pytest
from cli_args import sets

from experiments.runner import cli
from toys.engine import files

TINY_SUPERPOSITION = sets(
    "toy.n_features=16", "toy.d=8", "toy.mean_l0=1", "sizes=16,32", "k=2", "steps=60", "batch_size=64", "heatmap_size=16"
)
TINY_TMS = sets("n_instances=2", "steps=40", "batch_size=64", "sweep_features=4", "sweep_hidden=3", "sweep_probabilities=1,0.1")


@pytest.mark.parametrize(
    "argv, field",
    [
        (["run", "nope"], "experiment"),
        (["run", "superposition", "--set", "k=5000"], "k"),
        (["run", "superposition", "--set", "sizes=0,16"], "sizes"),
        (["run", "superposition", "--set", "toy.mean_l0=-1"], "toy.mean_l0"),
        (["run", "superposition", "--set", "colour=blue"], "--set colour"),
        (["run", "superposition", "--set", "steps=many"], "steps"),
        (["run", "tms", "--set", "sparse_probability=1.5"], "sparse_probability"),
        (["run", "tms", "--set", "sweep_probabilities=0.5,0"], "sweep_probabilities"),
        (["run", "tms", "--seed", "-3"], "seed"),
        (["run", "circles", "--set", "toy.offset=-1"], "toy.offset"),
        (["run", "circles", "--set", "toy.days=2"], "toy.days"),
        (["run", "circles", "--set", "ks=1,9999"], "ks"),
        (["run", "modular", "--set", "toy.p=12"], "toy.p"),
        (["run", "modular", "--set", "toy.train_fraction=1"], "toy.train_fraction"),
        (["run", "trees", "--set", "toy.child_probability=0.9"], "toy.child_probability"),
        (["run", "trees", "--set", "splitting_sizes=64,32"], "splitting_sizes"),
        (["run", "trees", "--set", "kinds=batchtopk,gated"], "kinds"),
        (["run", "trees", "--set", "toy.depth=1"], "toy.depth"),
        (["run", "trees", "--set", "saebench_samples=10"], "saebench_samples"),
        (["run", "trees", "--set", "saebench_samples=-1"], "saebench_samples"),
        (["run", "synthsaebench", "--quick", "--set", "saebench_samples=999"], "saebench_samples"),
        (["run", "modular-clock", "--set", "toy.task=random"], "toy.task"),
        (["run", "modular-clock", "--set", "null_networks=0"], "null_networks"),
        (["run", "circuits", "--set", "toy.n_inputs=20"], "toy.n_inputs"),
        (["run", "circuits", "--set", "toy.n_inputs=2", "--set", "toy.width=12"], "toy"),
        (["run", "circuits", "--set", "sae_sizes=16,2"], "k"),
        (["run", "quanta", "--set", "toy.k=50"], "toy.k"),
        (["run", "quanta", "--set", "projection_dims=0,16"], "projection_dims"),
        (["run", "quanta", "--set", "variants=onehot,hash"], "variants"),
        (["run", "pizza-clock", "--set", "architectures=additive,attention"], "architectures"),
        (["run", "pizza-clock", "--set", "toy.p=15"], "toy.p"),
        (["run", "knockoff", "--set", "train_fractions=0.5,1.0"], "train_fractions"),
        (["run", "knockoff", "--set", "calendar_heldout=40"], "calendar_heldout"),
        (["run", "quanta", "--set", "toy.task_code=gray"], "toy.task_code"),
        (["theory", "--seed", "-1"], "--seed"),
        (["run", "zoom-out", "--set", "toy.manifold=cubes"], "toy.manifold"),
        (["run", "zoom-out", "--set", "ball_dims=40"], "ball_dims"),
        (["run", "zoom-out", "--set", "neighbours=5000"], "neighbours"),
        (["run", "superposition", "--devices", "4096"], "devices"),
        (["run", "superposition", "--devices", "two"], "devices"),
        (["run", "superposition", "--precision", "float16"], "precision"),
        (["run", "superposition", "--prng", "philox"], "prng"),
        (["run", "superposition", "--distributed"], "distributed"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, argv, field):
    out = tmp_path / "out"
    code = cli.main([*argv, "--out", str(out)])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert len(error.splitlines()) == 1 and error.startswith(f"toylab: error: {field}")
    assert not out.exists()


def test_argparse_errors_are_one_line_with_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run"])
    assert exit_info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def _results(folder):
    results = json.loads((folder / "results.json").read_text())
    results.pop("duration_s")  # wall time: the one field two runs of a seed do not share
    return results


def test_superposition_run_writes_a_complete_deterministic_run_folder(tmp_path, capsys):
    for _ in range(2):
        assert cli.main(["run", "superposition", "--quick", "--out", str(tmp_path), *TINY_SUPERPOSITION]) == 0
    first, second = sorted((tmp_path / "superposition").iterdir())
    assert _results(first) == _results(second)  # same seed, same numbers
    results = _results(first)
    kinds = {(e["kind"], e["size"]) for e in results["dictionaries"]}
    assert kinds == {(k, s) for k in ("topk", "relu", "random") for s in (16, 32)}
    for entry in results["dictionaries"]:
        assert {"name", "kind", "size", "seed", "metrics"} <= set(entry)
        assert {"mmcs", "mcc", "uniqueness", "f1", "explained_variance", "l0", "dead_fraction", "shrinkage"} <= set(entry["metrics"])
    config = json.loads((first / "config.json").read_text())
    assert config["seed"] == 0 and config["config"]["toy"]["n_features"] == 16 and config["devices"] == 1
    assert config["devices_used"] == 1  # what the run used, recorded when it finished (sae.sharding)
    assert config["precision"] == "float32" and config["prng"] == "threefry"
    assert {"toylab", "jax", "flax"} <= set(config["versions"]) and config["device"]["platform"] == "cpu"
    assert {p.name for p in (first / "figures").iterdir()} == {"mmcs_mcc_vs_size.png", "matched_cosine_heatmap.png"}
    assert "random" in capsys.readouterr().out


def test_tms_run_reports_each_setting(tmp_path):
    assert cli.main(["run", "tms", "--quick", "--seed", "3", "--out", str(tmp_path), *TINY_TMS]) == 0
    (folder,) = (tmp_path / "tms").iterdir()
    settings = _results(folder)["settings"]
    assert [s["name"] for s in settings] == ["pentagon", "dense", "sweep-p1", "sweep-p0.1"]
    for s in settings:
        assert {"n_features", "n_hidden", "probability", "importance"} <= set(s)
        assert {"loss", "column_norms", "dimensionality"} <= set(s["best"])
    assert len(settings[0]["best"]["neighbour_angles_deg"]) >= 1
    assert {p.name for p in (folder / "figures").iterdir()} == {"tms_columns.png", "tms_dimensionality.png"}


def test_a_diverging_run_names_the_step_and_writes_no_results(tmp_path, capsys):
    argv = ["run", "superposition", "--quick", "--out", str(tmp_path), *TINY_SUPERPOSITION, "--set", "toy.noise_std=1e30"]
    assert cli.main(argv) == 1
    assert "step 0" in capsys.readouterr().err
    (folder,) = (tmp_path / "superposition").iterdir()
    assert not (folder / "results.json").exists()


def test_an_interrupted_write_leaves_no_file(tmp_path):
    target = tmp_path / "results.json"
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_path(target) as temporary:
            temporary.write_text('{"partial": ')
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_the_installed_command_exits_2_on_bad_input(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "experiments.runner.entry", "run", "tms", "--set", "steps=0", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "toylab: error: steps: got 0, allowed range [1, 2147483647]"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", list(__import__("experiments.runner.registry", fromlist=["EXPERIMENTS"]).EXPERIMENTS))
def test_every_experiment_config_round_trips_through_config_json(name):
    # `toylab evaluate` rebuilds a run's config from config.json: to_dict → JSON → from_dict is the identity
    from experiments.runner import overrides, registry

    experiment = registry.get(name)
    for config in (experiment.Config(), experiment.Config.quick()):
        config.validate()
        again = overrides.from_dict(experiment.Config, json.loads(json.dumps(overrides.to_dict(config))))
        assert again == config
