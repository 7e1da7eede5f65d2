"""SAEBench's absorption (sae.absorption_saebench) on dictionaries whose answer is built in.

A parent fires on 40% of samples; on half of those exactly one of 40 children fires with it.
- The absorbing dictionary: the parent's latent fires only when no child does; each child's
  latent points along normalise(t_parent + t_child) and carries the parent when it fires.
  SAEBench's full absorption must read ≈ 1 on child samples and ≈ 0 without a child.
- The counterparts that must read ≈ 0: an honest dictionary (the parent's latent always
  fires) and a split parent (two latents along t_parent, each on half the parent's samples:
  the split set takes both, so nothing is absorbed).
The conformance test compares the calculator with SAEBench's own (`sae-bench`, installed by
`make test`) on the same arrays, sample by sample.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sae import absorption_saebench as saebench

N_CHILDREN, N_OTHER, D = 40, 20, 64


def _world(seed: int, n: int = 20_000):
    """x [n, d], the parent's label [n, 1], whether a child fires [n, 1], which child, the directions."""
    rng = np.random.default_rng(seed)
    directions = np.linalg.qr(rng.normal(size=(D, D)))[0].T[: 1 + N_CHILDREN + N_OTHER]
    parent = rng.random(n) < 0.4
    child = parent & (rng.random(n) < 0.5)
    which = rng.integers(0, N_CHILDREN, n)
    other = rng.random(n) < 0.5
    which_other = rng.integers(0, N_OTHER, n)
    x = (
        parent[:, None] * directions[0]
        + child[:, None] * directions[1 + which]
        + other[:, None] * directions[1 + N_CHILDREN + which_other]
        + 0.01 * rng.normal(size=(n, D))
    )
    return x.astype(np.float32), parent, child, which, other, which_other, directions


def _dictionary(world, kind: str):
    """(codes [n, m], decoder [m, d]) of an absorbing, honest or split-parent dictionary."""
    x, parent, child, which, other, which_other, directions = world
    n = len(x)
    m = 2 + N_CHILDREN + N_OTHER
    decoder = np.zeros((m, D), np.float32)
    codes = np.zeros((n, m), np.float32)
    decoder[0] = decoder[1] = directions[0]
    rows = np.arange(n)
    codes[rows[other], 2 + N_CHILDREN + which_other[other]] = 1.0
    decoder[2 + N_CHILDREN :] = directions[1 + N_CHILDREN :]
    if kind == "absorbing":
        decoder[2 : 2 + N_CHILDREN] = (directions[0] + directions[1 : 1 + N_CHILDREN]) / np.sqrt(2)
        codes[parent & ~child, 0] = 1.0
        codes[rows[child], 2 + which[child]] = np.sqrt(2)
    else:
        decoder[2 : 2 + N_CHILDREN] = directions[1 : 1 + N_CHILDREN]
        codes[rows[child], 2 + which[child]] = 1.0
        if kind == "honest":
            codes[parent, 0] = 1.0
        else:  # split: latents 0 and 1 share the parent's samples by halves
            half = rows % 2 == 0
            codes[parent & half, 0] = 1.0
            codes[parent & ~half, 1] = 1.0
    return codes, decoder


def _read(world, kind: str, seed: int):
    x, parent, child = world[0], world[1], world[2]
    codes, decoder = _dictionary(world, kind)
    half = len(x) // 2
    train, test = slice(0, half), slice(half, None)
    key_probe, key_sparse = jax.random.split(jax.random.PRNGKey(seed))
    prepared = saebench.Prepared(
        x[train],
        x[test],
        parent[train, None],
        parent[test, None],
        child[test, None],
        np.array([0]),
        saebench.train_probes(x[train], parent[train, None], key_probe),
    )
    readings = saebench.read(prepared, codes[train], codes[test], decoder, key_sparse)
    return readings, saebench.summary(readings)


@settings(max_examples=2, derandomize=True, deadline=None)
@given(seed=st.integers(0, 1000))
def test_an_absorbing_dictionary_reads_as_absorbed_and_its_counterparts_do_not(seed):
    world = _world(seed)
    readings, absorbed = _read(world, "absorbing", seed)
    assert readings[0].probe_f1 > saebench.MIN_PROBE_F1 and readings[0].split == [0]
    assert absorbed["full_absorption_with_child"] > 0.9
    assert absorbed["full_absorption_baseline"] < 0.05
    assert absorbed["full_absorption_excess"] > 0.85
    assert 0.4 < absorbed["full_absorption_rate"] < 0.6  # half the parent's samples carry a child
    assert absorbed["fraction_with_child"] > 0.9
    for kind in ("honest", "split"):
        readings, clean = _read(world, kind, seed)
        assert clean["full_absorption_rate"] < 0.05 and clean["mean_absorption_fraction"] < 0.05, kind
        if kind == "split":
            assert sorted(readings[0].split) == [0, 1]  # the split set takes both halves


def test_split_set_follows_saebench_rule():
    latents = [np.arange(k + 1) for k in range(5)]
    assert list(saebench.split_set([0.5, 0.6, 0.61, 0.9, 0.95], latents)) == [0, 1]  # stops at the first small gain
    assert list(saebench.split_set([0.9, 0.91], latents)) == [0]
    assert list(saebench.split_set([0.0, 0.5, 0.9, 0.95, 0.97], latents)) == [0, 1, 2, 3]


def test_probe_trainer_separates_a_planted_concept_and_its_l1_penalty_sparsifies():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 30)).astype(np.float32)
    labels = np.stack([x[:, 0] > 0.5, x[:, 1] + x[:, 2] > 0], axis=1)
    # batches of 128: enough Adam steps on 3,000 samples (at SAEBench's 4,096 this is 50 steps)
    weights, bias = saebench.train_probes(x, labels, jax.random.PRNGKey(0), batch_size=128)
    predicted = x @ weights.T + bias > 0
    assert np.mean(predicted == labels) > 0.95
    sparse, _ = saebench.train_probes(x, labels, jax.random.PRNGKey(0), l1=0.01, batch_size=128)
    assert np.abs(sparse[0, 3:]).max() < np.abs(weights[0, 3:]).max()


def _saebench_calculator():
    from saelens_reference import require

    require("sae_bench.evals.absorption.feature_absorption_calculator")
    import torch
    from sae_bench.evals.absorption.feature_absorption_calculator import FeatureAbsorptionCalculator

    class Model:  # hands the calculator our activations as if a model had made them
        def __init__(self, x):
            self.x, self.at = torch.tensor(x), 0

        def run_with_cache(self, prompts, names_filter):
            batch = self.x[self.at : self.at + len(prompts)]
            self.at += len(prompts)
            return None, {names_filter[0]: batch[:, None, :]}

    class Dictionary:
        def __init__(self, codes, decoder):
            self.codes, self.W_dec, self.device, self.at = torch.tensor(codes), torch.tensor(decoder), "cpu", 0

        def encode(self, acts):
            batch = self.codes[self.at : self.at + len(acts)]
            self.at += len(acts)
            return batch

    class Calculator(FeatureAbsorptionCalculator):
        def _build_prompts(self, words):
            from sae_bench.evals.absorption.prompting import SpellingPrompt

            return [SpellingPrompt(base=word, answer="", word=word) for word in words]

        def _validate_prompts_are_same_length(self, prompts):
            return None

    return Calculator, Model, Dictionary, torch


@pytest.mark.conformance
def test_the_calculator_agrees_with_saebench_sample_by_sample():
    Calculator, Model, Dictionary, torch = _saebench_calculator()
    world = _world(3, n=800)
    x, parent = world[0], world[1]
    rng = np.random.default_rng(3)
    for kind in ("absorbing", "honest", "split", "dense"):
        if kind == "dense":  # many latents fire and many lie along the probe: every branch of the fraction
            codes = (rng.exponential(size=(len(x), 62)) * (rng.random((len(x), 62)) < 0.3)).astype(np.float32)
            decoder = rng.normal(size=(62, D)).astype(np.float32)
            decoder[:8] += 2 * decoder[8]
            decoder /= np.linalg.norm(decoder, axis=1, keepdims=True)
            activations = codes @ decoder  # x·w then sums every latent's projection: the top 3 hold part of it
        else:
            codes, decoder = _dictionary(world, kind)
            activations = x
        codes = codes * rng.uniform(0.5, 1.5, size=codes.shape).astype(np.float32)  # not only exact values
        rows = np.flatnonzero(parent)
        direction = (decoder[0] + 0.3 * rng.normal(size=D)).astype(np.float32)
        direction /= np.linalg.norm(direction)
        for split in ([0], [0, 1], [0, 1, 5]):
            calculator = Calculator(model=Model(activations[rows]), icl_word_list=[], word_token_pos=0, batch_size=64)
            theirs = calculator.calculate_absorption(
                Dictionary(codes[rows], decoder), [str(i) for i in rows], torch.tensor(direction), split, layer=0, show_progress=False
            )
            cosines = saebench.probe_cosines(direction, decoder)
            projection = activations[rows] @ direction
            full = saebench.full_absorption(codes[rows], cosines, projection, np.array(split))
            fraction = saebench.absorption_fraction(codes[rows], cosines, projection, np.array(split))
            assert [r.is_full_absorption for r in theirs.word_results] == list(full), (kind, split)
            if kind == "dense":  # the comparison can fail: the case reaches both outcomes and partial fractions
                assert 0 < np.mean(fraction > 0) < 1 and np.any((fraction > 0) & (fraction < 1))
            np.testing.assert_allclose([r.absorption_fraction for r in theirs.word_results], fraction, atol=1e-5)


def test_labels_of_a_planted_hierarchy_and_the_concepts_chosen():
    parents = np.array([-1, -1, 0, 0, 1, 4])  # 0 → {2, 3}, 1 → {4}, 4 → {5}
    codes = np.array([[1, 0, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, 1, 0, 0, 1, 1], [0, 0, 0, 0, 1, 0]], np.float32)
    label, child = saebench.hierarchy_labels(codes, parents, np.array([0, 1, 4]))
    np.testing.assert_array_equal(label, [[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_array_equal(child, [[1, 0, 0], [0, 0, 0], [0, 1, 1], [0, 1, 0]])
    assert list(saebench.concepts(label, max_concepts=2)) == [0, 1]  # the most frequent, ties by index


def test_a_sample_count_too_small_for_the_probes_is_refused_naming_the_field():
    from toys.engine.config import ConfigError

    saebench.check_samples("saebench_samples", 0)
    saebench.check_samples("saebench_samples", saebench.MIN_SAMPLES)
    with pytest.raises(ConfigError, match=r"^saebench_samples: got 10, allowed"):
        saebench.check_samples("saebench_samples", 10)
