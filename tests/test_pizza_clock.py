"""Pizza or clock: the two diagnostics on cases whose answer is known, and the run contract."""

import json

import jax
import numpy as np
import pytest
from cli_args import sets

from experiments.runner import cli
from sae.readers import grid_latents
from toys import modular

P = 11


def untrained(architecture: str):
    config = modular.ModularConfig(p=P, embed_dim=8, hidden=16, steps=1, architecture=architecture)
    return config, modular.train(config, jax.random.split(jax.random.key(0), 1))


def test_distance_irrelevance_is_zero_for_a_function_of_the_distance_and_one_without_it():
    s, d = np.meshgrid(np.arange(P), np.arange(P), indexing="ij")
    pizza = np.abs(np.cos(np.pi * d / P))  # the correct logit follows a − b only
    clock = np.cos(2 * np.pi * s / P)  # … or a + b only
    assert modular.distance_irrelevance(pizza) == pytest.approx(0.0, abs=1e-12)
    assert modular.distance_irrelevance(clock) == pytest.approx(1.0, abs=1e-12)
    mixed = np.random.default_rng(0).normal(size=(P, P))
    assert 0.8 < modular.distance_irrelevance(mixed) < 1.0


def test_gradient_symmetricity_is_one_by_construction_only_for_the_additive_network():
    scores = {arch: modular.gradient_symmetricity(*untrained(arch), jax.random.key(1), 50) for arch in modular.ARCHITECTURES}
    assert scores["additive"] == pytest.approx(1.0, abs=1e-5)
    assert scores["bilinear"] < 0.9 and scores["concatenated"] < 0.9, scores


def test_correct_logits_are_the_logits_of_the_answer():
    config, result = untrained("bilinear")
    matrix = modular.correct_logits(config, result)
    a, b = 3, 7
    logits = np.asarray(modular.model(config, result)(np.array([a]), np.array([b])))[0]
    assert matrix[(a + b) % P, (a - b) % P] == pytest.approx(logits[(a + b) % P], rel=1e-5)


TINY = sets(
    "toy.p=13",
    "toy.steps=300",
    "toy.hidden=32",
    "toy.embed_dim=16",
    "sae_size=32",
    "k=2",
    "sae_steps=100",
    "sae_batch_size=64",
    "n_triples=20",
    "architectures=additive_narrow,bilinear",
)


def test_pizza_clock_results_contract(tmp_path, monkeypatch):
    # in the wall's audit mode every method call also runs behind the process wall and must answer the same
    monkeypatch.setenv("TOYLAB_WALL", "audit")
    assert cli.main(["run", "pizza-clock", "--quick", "--out", str(tmp_path), *TINY]) == 0
    folder = next((tmp_path / "pizza-clock").iterdir())
    results = json.loads((folder / "results.json").read_text())
    assert [n["name"] for n in results["networks"]] == ["additive_narrow", "bilinear"]
    assert [n["embed_dim"] for n in results["networks"]] == [8, 16]
    from experiments.studies import pizza_clock

    assert pizza_clock.Config().architectures == ("additive", "additive_narrow", "bilinear", "concatenated")
    for n in results["networks"]:
        assert n["kind"] == pizza_clock.KINDS[n["name"]]
        assert -1.0 <= n["gradient_symmetricity"] <= 1.0 + 1e-6 and 0.0 <= n["distance_irrelevance"] <= 1.5
        assert 0.0 <= n["test_accuracy"] <= 1.0 and n["algorithm"] in ("pizza", "clock")
        for kind in ("sae_latents", "random_atoms", "neurons"):
            assert {*grid_latents.CATEGORIES, "dead"} <= set(n[kind])
        assert sum(n["sae_latents"][c] for c in (*grid_latents.CATEGORIES, "dead", "always")) == 32
    assert results["networks"][0]["gradient_symmetricity"] == pytest.approx(1.0, abs=1e-5)  # additive: by construction
    assert {p.name for p in (folder / "figures").iterdir()} == {"correct_logits.png", "latent_categories.png", "hidden_geometry.png"}
