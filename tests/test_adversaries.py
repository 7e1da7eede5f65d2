"""toys.adversaries (no-circle structures) and the `circle-adversaries` study at tiny shapes."""

import json

import jax
import numpy as np
from cli_args import sets
from hypothesis import given, settings
from hypothesis import strategies as st

from toys import adversaries

SETTINGS = settings(max_examples=6, deadline=None, derandomize=True)


@SETTINGS
@given(st.sampled_from(adversaries.KINDS), st.integers(0, 1000), st.integers(16, 40))
def test_each_kind_samples_its_atoms_by_its_law(kind, seed, d):
    config = adversaries.AdversaryConfig(kind=kind, d=d, values=6, n_sparse_features=0, probability=0.5)
    toy = adversaries.build(config, jax.random.key(seed))
    batch = toy.sample(jax.random.key(seed + 1), 2000)
    x, codes, present = np.asarray(batch.x), np.asarray(batch.codes), np.asarray(batch.truth["present"])
    assert toy.atoms.shape == (config.atoms, d) and codes.shape == (2000, config.atoms)
    np.testing.assert_allclose(x, codes @ np.asarray(toy.atoms), atol=1e-5)  # no sparse features here
    assert np.all(codes[~present] == 0) and np.all(codes >= 0)
    active = (codes[present] > 0).sum(axis=1)
    if kind == "split triangle":
        assert set(active) == {2}  # pairs, never the two halves of the split feature together
        assert not np.any((codes[:, 2] > 0) & (codes[:, 3] > 0))
    elif kind == "correlated pair":
        assert set(active) == {2} and np.corrcoef(codes[present].T)[0, 1] > 0.5
    elif kind == "dense cluster":
        assert 0.4 < active.mean() / config.cluster < 0.6
    else:
        assert set(active) == {1}  # one point of the manifold-like kinds per sample


def test_the_decoupled_circle_and_the_arc_are_no_loop_but_the_helix_is_open():
    frame_config = adversaries.AdversaryConfig(kind="decoupled circle", d=16, values=5, offset=0.0, n_sparse_features=0)
    atoms = np.asarray(adversaries.build(frame_config, jax.random.key(0)).atoms)
    assert len(atoms) == 25 and np.ptp(np.linalg.norm(atoms, axis=1)) > 0.3  # a square's points, not on one circle
    arc = adversaries.AdversaryConfig(kind="arc", d=16, values=8, offset=0.0, arc=0.4, n_sparse_features=0)
    points = np.asarray(adversaries.build(arc, jax.random.key(0)).atoms)
    cosine = points[0] @ points[-1] / np.linalg.norm(points[0]) / np.linalg.norm(points[-1])
    assert np.isclose(np.degrees(np.arccos(cosine)), 0.4 * 360, atol=1e-3)
    helix = adversaries.AdversaryConfig(kind="helix", d=16, values=8, offset=0.0, rise=1.0, n_sparse_features=0)
    points = np.asarray(adversaries.build(helix, jax.random.key(0)).atoms)
    assert np.linalg.norm(points[-1] - points[0]) > np.linalg.norm(points[1] - points[0])  # its ends do not meet


def test_bad_settings_are_refused():
    import pytest

    from toys.engine.config import ConfigError

    with pytest.raises(ConfigError, match="arc"):
        adversaries.AdversaryConfig(kind="arc", arc=0.5).validate()
    with pytest.raises(ConfigError, match="d"):
        adversaries.AdversaryConfig(kind="dense cluster", cluster=20, d=16).validate()


def test_circle_adversaries_study_contract(tmp_path, monkeypatch):
    from experiments.runner import cli
    from sae.readers import activation_ring, manifold_ranking

    rng = np.random.default_rng(0)
    cells = [{"trained_top_evidence": {"1": float(e)}, "random_top_evidence": {"1": 0.0}} for e in rng.uniform(0, 0.5, 19)]
    null_file = tmp_path / "null.json"
    null_file.write_text(json.dumps({"strata": [{"stratum": {"steps": 60, "batch_size": 64, "n_geometry": 600}, "cells": cells}]}))
    monkeypatch.setattr(manifold_ranking, "NULL_FILE", null_file)
    tiny = sets(
        "seeds=1",
        "ks=1",
        "m=32",
        "kinds=helix,split triangle",
        "structure.d=16",
        "structure.n_sparse_features=10",
        "structure.sparse_mean_l0=1",
        "steps=60",
        "batch_size=64",
        "n_geometry=600",
    )
    assert cli.main(["run", "circle-adversaries", "--out", str(tmp_path), "--quick", *tiny]) == 0
    folder = next((tmp_path / "circle-adversaries").iterdir())
    results = json.loads((folder / "results.json").read_text())
    assert set(results["rates"]) == {"helix", "split triangle", "circle"}
    for entry in results["kinds"]:
        for dictionary in entry["dictionaries"]:
            # a claim: p ≤ α and a ring in the activations; on evidence alone: p ≤ α
            assert dictionary["null_size"] == 19 and dictionary["claimed_on_evidence"] == (dictionary["p_value"] <= 0.05)
            assert dictionary["claimed"] == (dictionary["claimed_on_evidence"] and activation_ring.holds_ring(dictionary["top_ring"]))
    assert results["all_adversaries"]["of"] == 2
    # the summary reads the results table: the same rates as the run's own record
    from experiments.runner import table
    from experiments.studies import circle_adversaries

    rates, adversarial = circle_adversaries.rates_from_table(table.read(results))
    assert json.loads(json.dumps([rates, adversarial])) == [results["rates"], results["all_adversaries"]]
    # no stored stratum for these settings: refused in one line, nothing written
    assert cli.main(["run", "circle-adversaries", "--out", str(tmp_path / "refused"), "--quick", *tiny, "--set", "steps=61"]) == 2
    assert not (tmp_path / "refused").exists()
