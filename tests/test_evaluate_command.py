"""`toylab evaluate`: a run's saved dictionaries re-scored exactly, any SAE folder scored on a
run's toy, and bad input refused with one line, exit 2, nothing written."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_args import sets

from experiments.runner import cli, registry, settings_index

FIXTURES = Path(__file__).parent / "fixtures"
TINY = sets(
    "toy.n_features=16", "toy.d=8", "toy.mean_l0=1", "sizes=12,16", "k=2", "steps=60", "batch_size=64", "heatmap_size=16", "n_seeds=2"
)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert cli.main(["run", "superposition", "--quick", "--out", str(out), *TINY]) == 0
    return next((out / "superposition").iterdir())


def test_a_run_saves_every_trained_dictionary_in_saelens_format(run_folder):
    names = sorted(p.name for p in (run_folder / "dictionaries").iterdir())
    assert names == [f"{kind}-{size}-seed{seed}" for kind in ("relu", "topk") for size in (12, 16) for seed in (0, 1)]
    for name in names:
        assert {p.name for p in (run_folder / "dictionaries" / name).iterdir()} == {"cfg.json", "sae_weights.safetensors"}


def test_evaluate_reproduces_the_runs_own_metrics_exactly(run_folder, capsys):
    assert cli.main(["evaluate", str(run_folder)]) == 0
    run = json.loads((run_folder / "results.json").read_text())["dictionaries"]
    again = {e["name"]: e["metrics"] for e in json.loads((run_folder / "dictionaries" / "results.json").read_text())["dictionaries"]}
    trained = [e for e in run if e["kind"] in ("topk", "relu")]
    assert len(trained) == len(again) == 8
    for entry in trained:
        assert again[f"{entry['name']}-seed{entry['seed']}"] == entry["metrics"]
    # the re-scored numbers sit beside the run's own results table, every one equal
    rescored = json.loads((run_folder / "dictionaries" / "results.json").read_text())
    agreement = rescored["agreement_with_run"]
    assert agreement["compared"] == len(rescored["table"]) > 8 and agreement["equal"] == agreement["compared"]
    assert "numbers equal (largest difference 0)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda table: {"rows": table}, "table: got dict, allowed a list of rows"),
        (lambda table: [{**table[0], "extra": 1}, *table[1:]], "table[0]: allowed an object with exactly the keys"),
        (lambda table: [{**table[0], "value": "high"}, *table[1:]], "value: got str, allowed a finite number or None"),
        (lambda table: [{**table[0], "seed": -3}, *table[1:]], "seed: got -3"),
    ],
)
def test_a_hand_edited_run_table_is_refused_in_one_line_before_scoring(edit, message, run_folder, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy, ignore=shutil.ignore_patterns("results.json"))
    results = json.loads((run_folder / "results.json").read_text())
    results["table"] = edit(results["table"])
    (copy / "results.json").write_text(json.dumps(results))
    (copy / "dictionaries" / "results.json").unlink(missing_ok=True)
    capsys.readouterr()
    assert cli.main(["evaluate", str(copy)]) == 2
    captured = capsys.readouterr()
    error = captured.err.strip()
    assert "\n" not in error and message in error and "results.json" in error, error
    assert "evaluate: scoring" not in captured.err  # refused before any dictionary was scored
    assert not (copy / "dictionaries" / "results.json").exists()


def test_evaluate_names_the_numbers_that_differ_from_the_runs_table(run_folder, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy)
    results = json.loads((copy / "results.json").read_text())
    edited = next(row for row in results["table"] if row["arm"] == "topk" and row["metric"] == "mmcs")
    edited["value"] += 0.25  # a run table that no longer matches its dictionaries
    (copy / "results.json").write_text(json.dumps(results))
    capsys.readouterr()
    assert cli.main(["evaluate", str(copy)]) == 0
    agreement = json.loads((copy / "dictionaries" / "results.json").read_text())["agreement_with_run"]
    assert agreement["equal"] == agreement["compared"] - 1 and agreement["max_abs_difference"] == pytest.approx(0.25)
    assert f"topk m={edited['size']} seed={edited['seed']} mmcs" in capsys.readouterr().out


def test_evaluate_scores_a_folder_written_by_saelens(run_folder, tmp_path):
    out = tmp_path / "out"
    assert cli.main(["evaluate", "--sae", str(FIXTURES / "saelens_topk"), "--toy", str(run_folder), "--out", str(out)]) == 0
    (folder,) = (out / "evaluate").iterdir()
    (entry,) = json.loads((folder / "results.json").read_text())["dictionaries"]
    assert entry["arch"] == "topk" and 0 <= entry["metrics"]["mmcs"] <= 1 and entry["metrics"]["l0"] <= 3


def test_a_runs_dictionary_scored_as_a_foreign_folder_scores_as_the_run_scored_it(run_folder, tmp_path):
    # `--sae FOLDER --toy RUN` reads the folder as any SAELens folder and rebuilds the run's toy and
    # evaluation samples: on one of the run's own dictionaries it must give the run's own numbers
    out = tmp_path / "out"
    saved = run_folder / "dictionaries" / "topk-12-seed1"
    assert cli.main(["evaluate", "--sae", str(saved), "--toy", str(run_folder), "--out", str(out)]) == 0
    (folder,) = (out / "evaluate").iterdir()
    (entry,) = json.loads((folder / "results.json").read_text())["dictionaries"]
    (own,) = [e for e in json.loads((run_folder / "results.json").read_text())["dictionaries"] if e["name"] == "topk-12" and e["seed"] == 1]
    assert entry["metrics"] == own["metrics"]


def _snapshot(*folders):
    return sorted(str(p) for folder in folders if folder.exists() for p in folder.rglob("*"))


@pytest.mark.parametrize("case", ["missing", "corrupt", "unknown_arch", "wrong_d", "not_a_run", "tms_run", "no_toy"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(case, run_folder, tmp_path, capsys):
    sae = tmp_path / "sae"
    shutil.copytree(FIXTURES / "saelens_topk", sae)
    toy = run_folder
    if case == "missing":
        sae = tmp_path / "nowhere"
    elif case == "corrupt":
        (sae / "sae_weights.safetensors").write_bytes(b"\x00\x01broken")
    elif case == "unknown_arch":
        cfg = json.loads((sae / "cfg.json").read_text())
        (sae / "cfg.json").write_text(json.dumps({**cfg, "architecture": "crosscoder"}))
    elif case == "wrong_d":
        shutil.rmtree(sae)
        shutil.copytree(FIXTURES / "saelens_topk", sae)
        cfg = json.loads((sae / "cfg.json").read_text())
        toy = tmp_path / "run6"
        shutil.copytree(run_folder, toy, ignore=shutil.ignore_patterns("dictionaries"))
        config = json.loads((toy / "config.json").read_text())
        config["config"]["toy"]["d"] = 6
        (toy / "config.json").write_text(json.dumps(config))
    elif case == "not_a_run":
        toy = tmp_path
    elif case == "tms_run":
        toy = tmp_path / "tmsrun"
        toy.mkdir()
        (toy / "config.json").write_text(json.dumps({"experiment": "tms", "config": {}}))
    out = tmp_path / "out"
    before = _snapshot(run_folder, toy)
    argv = ["evaluate", "--sae", str(sae), "--out", str(out)] + ([] if case == "no_toy" else ["--toy", str(toy)])
    capsys.readouterr()
    assert cli.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("toylab: error:") and "\n" not in error
    assert not out.exists() and _snapshot(run_folder, toy) == before


def test_evaluate_needs_saved_dictionaries(run_folder, tmp_path, capsys):
    bare = tmp_path / "bare"
    shutil.copytree(run_folder, bare, ignore=shutil.ignore_patterns("dictionaries"))
    assert cli.main(["evaluate", str(bare)]) == 2
    assert "holds no saved dictionaries" in capsys.readouterr().err
    assert not (bare / "dictionaries").exists()


def _edit_cfg(folder, edit):
    path = folder / "cfg.json"
    cfg = json.loads(path.read_text())
    edit(cfg)
    path.write_text(json.dumps(cfg))


def _edit_weights(folder, edit):
    from safetensors.numpy import load_file, save_file

    path = folder / "sae_weights.safetensors"
    tensors = load_file(str(path))
    edit(tensors)
    save_file(tensors, str(path))


def _edit_cfg_text(folder, edit):
    path = folder / "cfg.json"
    path.write_text(edit(path.read_text()))


SAVED_FOLDER_CASES = {  # a saved run edited by hand → the line that refuses it (each names the file)
    "k is true": (lambda d: _edit_cfg(d, lambda c: c.update(k=True)), "cfg.json: k: got true, expected a whole number"),
    "weights as int8": (lambda d: _edit_weights(d, lambda t: t.update(W_dec=t["W_dec"].astype("int8"))), "W_dec: got dtype int8"),
    "weights as bool": (lambda d: _edit_weights(d, lambda t: t.update(W_enc=t["W_enc"] > 0)), "W_enc: got dtype bool"),
    "toylab is a number": (lambda d: _edit_cfg(d, lambda c: c.update(toylab=5)), "cfg.json: toylab: got 5, expected a JSON object"),
    "group is a list": (lambda d: _edit_cfg(d, lambda c: c["toylab"].update(group=["x"])), 'toylab.group: got ["x"]'),
    "table seed negative": (lambda d: _edit_cfg(d, lambda c: c["toylab"]["table"].update(seed=-1)), "toylab.table: got"),
    "table without setting": (lambda d: _edit_cfg(d, lambda c: c["toylab"]["table"].pop("setting")), "toylab.table: got"),
    "NaN in W_dec": (
        lambda d: _edit_weights(d, lambda t: t["W_dec"].__setitem__((0, 0), float("nan"))),
        "sae_weights.safetensors: W_dec: 1 entries are NaN/inf in float32",
    ),
    "inf in W_enc": (lambda d: _edit_weights(d, lambda t: t["W_enc"].__setitem__((0, 0), float("inf"))), "W_enc: 1 entries"),
    # values that would change on the way in (issue round three): refused, not converted
    "1e300 in float64": (
        lambda d: _edit_weights(d, lambda t: t.update(W_dec=np.full(t["W_dec"].shape, 1e300))),
        "entries are NaN/inf in float32",
    ),
    "b_dec flag as text": (
        lambda d: _edit_cfg(d, lambda c: c.update(apply_b_dec_to_input="true")),
        'apply_b_dec_to_input: got "true", expected true or false',
    ),
    "architecture as a list": (
        lambda d: _edit_cfg(d, lambda c: c.update(architecture=["topk"])),
        'architecture: got ["topk"], expected a string',
    ),
    "401-digit k": (
        lambda d: _edit_cfg_text(d, lambda text: text.replace('"d_sae": 16', '"d_sae": ' + "9" * 401)),
        "an integer of 401 digits",
    ),
    "nested 100,000 deep": (
        lambda d: _edit_cfg_text(d, lambda text: text[:-2] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n"),
        "nested too deeply",
    ),
    "cfg.json a FIFO": (lambda d: ((d / "cfg.json").unlink(), os.mkfifo(d / "cfg.json")), "cfg.json is not a regular file"),
}


@pytest.mark.parametrize("case", sorted(SAVED_FOLDER_CASES) + ["sizes is text"])
def test_a_hand_edited_run_folder_is_refused_before_scoring(case, run_folder, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy, ignore=shutil.ignore_patterns("results.json"))
    (copy / "results.json").write_text((run_folder / "results.json").read_text())
    if case == "sizes is text":
        config = json.loads((copy / "config.json").read_text())
        config["config"]["sizes"] = "abc"
        (copy / "config.json").write_text(json.dumps(config))
        message = "sizes: got 'abc', expected a list of int"
    else:
        edit, message = SAVED_FOLDER_CASES[case]
        edit(copy / "dictionaries" / "topk-16-seed1")
    capsys.readouterr()
    assert cli.main(["evaluate", str(copy)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and message in error, error
    assert not (copy / "dictionaries" / "results.json").exists()


def test_evaluate_lists_dictionaries_in_natural_order(run_folder, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy)
    for seed in (0, 1):  # as text relu-12 comes before relu-9; a reader expects 9 first
        (copy / "dictionaries" / f"relu-16-seed{seed}").rename(copy / "dictionaries" / f"relu-9-seed{seed}")
    assert cli.main(["evaluate", str(copy)]) == 0
    names = [e["name"] for e in json.loads((copy / "dictionaries" / "results.json").read_text())["dictionaries"]]
    relu = [name for name in names if name.startswith("relu")]
    assert relu[0].startswith("relu-9-") and relu[-1].startswith("relu-12-"), relu


def _edited_copy(run_folder, folder, case):
    shutil.copytree(run_folder, folder, ignore=shutil.ignore_patterns("results.json"))
    if case == "sizes is text":
        config = json.loads((folder / "config.json").read_text())
        config["config"]["sizes"] = "abc"
        (folder / "config.json").write_text(json.dumps(config))
    else:
        SAVED_FOLDER_CASES[case][0](folder / "dictionaries" / "topk-16-seed1")
    return folder


def test_a_hand_edited_run_folder_is_refused_without_importing_jax(run_folder, tmp_path):
    # the checks that need neither the study nor JAX (experiments.runner.saved_runs) run first
    cases = sorted(SAVED_FOLDER_CASES) + ["sizes is text"]
    folders = [str(_edited_copy(run_folder, tmp_path / f"run{i}", case)) for i, case in enumerate(cases)]
    probe = (
        "import sys; from experiments.runner import cli; "
        f"codes = [cli.main(['evaluate', f]) for f in {folders!r}]; print(codes, 'jax' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.stdout.strip().splitlines()[-1] == f"{[2] * len(cases)} False", result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(cases) and all(line.startswith("toylab: error: ") for line in lines), lines


def test_the_rescorable_studies_are_those_with_an_evaluation_source():
    assert set(settings_index.rescorable()) == {name for name in registry.EXPERIMENTS if registry.get(name).evaluation_source is not None}


def test_an_unknown_saved_setting_is_named_with_its_path(run_folder, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy, ignore=shutil.ignore_patterns("results.json"))
    config = json.loads((copy / "config.json").read_text())
    config["config"]["toy"]["nosuch"] = 1
    (copy / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert cli.main(["evaluate", str(copy)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("toylab: error: config: unknown key 'toy.nosuch'; known keys: toy.") and "\n" not in error, error


def test_a_dictionary_whose_group_names_another_architecture_is_refused(run_folder, tmp_path, capsys):
    """Meaning is never guessed: a ReLU dictionary edited into a TopK group is refused, naming it, not scored as TopK."""
    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy, ignore=shutil.ignore_patterns("results.json"))
    (copy / "results.json").write_text((run_folder / "results.json").read_text())
    relu = next(p for p in sorted((copy / "dictionaries").iterdir()) if p.name.startswith("relu"))
    topk = next(p for p in sorted((copy / "dictionaries").iterdir()) if p.name.startswith("topk"))
    group = json.loads((topk / "cfg.json").read_text())["toylab"]["group"]
    _edit_cfg(relu, lambda c: c["toylab"].update(group=group))
    capsys.readouterr()
    assert cli.main(["evaluate", str(copy)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and relu.name in error and "toylab.group" in error, error
    assert not (copy / "dictionaries" / "results.json").exists()


def test_evaluate_refuses_options_it_does_not_use(run_folder, capsys):
    for extra in (["--toy", str(run_folder)], ["--out", "elsewhere"]):
        assert cli.main(["evaluate", str(run_folder), *extra]) == 2
        assert capsys.readouterr().err.strip().endswith("only with --sae (evaluate RUN_FOLDER writes beside the run's dictionaries)")
