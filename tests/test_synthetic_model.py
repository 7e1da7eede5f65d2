"""SAELens' synthetic-model family in JAX: the build, the files, and the sparse sampler's exactness.

Exactness is tested as a distribution, with counterparts that must fail:
- level-0 features fire with their stored probability p_f (binomial intervals), and pairs
  co-fire with the Gaussian copula's orthant probability;
- the sparse sampler and the dense reference sampler (SAELens' steps one to one) agree on
  every feature's rate, and both obey the hierarchy exactly;
- a thinning envelope that does not dominate (a broken model) fails the same checks.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from binomial_intervals import allowed_outside, outside_share
from saelens_reference import require
from scipy import stats

from toys import synthetic_files, synthetic_hierarchy, synthetic_model
from toys.engine.config import ConfigError
from toys.torch_rng import TorchGenerator

FIXTURE = Path(__file__).parent / "fixtures" / "saelens_synthetic_tiny"  # written by SAELens 6.54 itself


@pytest.fixture(scope="module")
def tiny():
    return synthetic_model.from_parts(synthetic_files.load(FIXTURE))


@pytest.fixture(scope="module")
def draws(tiny):
    n = 60_000
    batch = jax.jit(tiny.sample, static_argnums=1)(jax.random.key(1), n)
    sparse = np.asarray(batch.codes.dense())
    _, dense = jax.jit(tiny.sample_dense, static_argnums=1)(jax.random.key(2), n)
    return batch, sparse, np.asarray(dense)


def test_torch_streams_match_recorded_torch_values():
    # torch.randn(20) then randn(3) then rand(2) with manual_seed(42), recorded from torch 2.5.1.
    g = TorchGenerator(42)
    assert np.allclose(g.randn(20)[[0, 7, 15, 19]], [1.9269153, 1.6806206, 0.8598585, -0.6215954], atol=1e-6)
    assert np.allclose(g.randn(3), [-0.7658386, -0.7506223, 1.3525478], atol=1e-6)
    assert np.allclose(g.rand(2), [0.7890298, 0.2814137], atol=1e-7)


def test_torch_streams_match_torch_when_installed():
    torch = require("torch")
    for seed, shapes in [(3, [(5,), (40,), (7, 9)]), (44, [(1000,)])]:
        g, ours = torch.Generator().manual_seed(seed), TorchGenerator(seed)
        for shape in shapes:
            assert np.allclose(torch.randn(*shape, generator=g).numpy(), ours.randn(*shape), atol=2e-6)
        assert np.array_equal(torch.rand(17, generator=g).numpy(), ours.rand(17))


def test_fixture_round_trips_and_builds_from_its_config(tmp_path):
    parts = synthetic_files.load(FIXTURE)
    synthetic_files.save(tmp_path / "copy", parts)
    for name in (synthetic_files.CONFIG_FILE, synthetic_files.HIERARCHY_FILE):
        assert json.loads((tmp_path / "copy" / name).read_text()) == json.loads((FIXTURE / name).read_text())
    from safetensors.numpy import load_file

    ours, theirs = load_file(str(tmp_path / "copy" / synthetic_files.WEIGHTS_FILE)), load_file(str(FIXTURE / synthetic_files.WEIGHTS_FILE))
    assert ours.keys() == theirs.keys() and all(np.array_equal(ours[k], theirs[k]) for k in ours)
    # Built from the config alone, with SAELens' seeded streams: SAELens' arrays (to float32 rounding).
    built = synthetic_model.build(parts.config)
    assert np.allclose(built.feature_vectors, parts.feature_vectors, atol=1e-5)
    assert np.allclose(built.bias, parts.bias, atol=1e-6)
    assert np.allclose(built.firing_probabilities, parts.firing_probabilities, atol=1e-6)
    assert np.allclose(built.correlation_factor, parts.correlation_factor, atol=1e-6)
    assert synthetic_hierarchy.to_dict(built.roots) == synthetic_hierarchy.to_dict(parts.roots)


def test_orthogonalisation_gradient_is_the_loss_gradient():
    w = jax.random.normal(jax.random.key(0), (40, 8))
    assert np.allclose(
        synthetic_model.orthogonality_loss_and_gradient(w)[1], jax.grad(synthetic_model.orthogonality_loss)(w), rtol=1e-4, atol=1e-3
    )


def test_bad_config_is_one_line_naming_the_field():
    config = synthetic_model.synthsaebench_config(64, 8)
    with pytest.raises(ConfigError, match="hidden_dim"):
        synthetic_model.SyntheticModelConfig.from_dict({**config.to_dict(), "hidden_dim": 0}).validate()


def test_level_zero_features_fire_at_their_probability(tiny, draws):
    batch, sparse, _ = draws
    level0 = np.asarray(tiny.level) == 0
    fires = (sparse[:, level0] > 0).sum(0)
    # P(fire and magnitude > 0) = p_f · P(μ + σξ > 0)
    std = np.maximum(np.asarray(tiny.std[:-1])[level0], 1e-12)
    p = np.asarray(tiny.probabilities)[level0] * stats.norm.sf(-np.asarray(tiny.mean[:-1])[level0] / std)
    assert outside_share(fires, len(sparse), p).sum() <= allowed_outside(level0.sum())
    assert not bool(batch.truth["redrawn"])


def test_pairs_cofire_with_the_copula_orthant_probability(tiny, draws):
    _, sparse, _ = draws
    level0 = np.flatnonzero(np.asarray(tiny.level) == 0)
    factor = np.asarray(tiny.firing.factor)[level0]
    corr = factor @ factor.T
    np.fill_diagonal(corr, 0)
    t = np.asarray(tiny.firing.thresholds)[level0]
    orthant = lambda i, j: stats.multivariate_normal(mean=[0, 0], cov=[[1, corr[i, j]], [corr[i, j], 1]]).cdf(-t[[i, j]])  # noqa: E731
    # the pair whose co-firing departs most from independence, in standard errors
    pairs = [(i, j) for i in range(len(level0)) for j in range(i)]
    departure = [abs(orthant(i, j) - stats.norm.sf(t[i]) * stats.norm.sf(t[j])) / np.sqrt(orthant(i, j)) for i, j in pairs]
    i, j = pairs[int(np.argmax(departure))]
    fi, fj = level0[i], level0[j]
    exact, independent = orthant(i, j), stats.norm.sf(t[i]) * stats.norm.sf(t[j])
    both = ((sparse[:, fi] > 0) & (sparse[:, fj] > 0)).sum()
    tolerance = 4 * np.sqrt(exact / len(sparse))
    assert abs(both / len(sparse) - exact) < tolerance
    assert abs(exact - independent) > 2 * tolerance  # the pair is correlated enough for this to mean something


def test_sparse_and_dense_samplers_agree_and_obey_the_hierarchy(tiny, draws):
    _, sparse, dense = draws
    on_s, on_d = sparse > 0, dense > 0
    assert outside_share(on_s.sum(0), len(on_s), on_d.sum(0), len(on_d)).sum() <= allowed_outside(tiny.num_features)
    parent = np.asarray(tiny.parent)
    child = parent >= 0
    for on in (on_s, on_d):
        assert not np.any(on[:, child] & ~on[:, parent[child]])  # a child is on only with its parent
        exclusive = child & np.asarray(tiny.exclusive)[np.where(child, parent, 0)]
        for p in np.unique(parent[exclusive]):
            assert on[:, exclusive & (parent == p)].sum(1).max() <= 1  # one child of an exclusive parent
    # scaled children: value = raw · parent value / parent mean, so the ratio child/parent = raw/μ_parent does
    # not depend on the parent's value (an unscaled child's ratio raw/parent falls as the parent grows), the
    # child rises with its parent, and the mean ratio is μ_child/μ_parent
    f = np.flatnonzero(child & np.asarray(tiny.rescale[:-1]))[0]
    for codes in (sparse, dense):
        both = codes[:, f] > 0
        parent_value, ratio = codes[both, parent[f]], codes[both, f] / codes[both, parent[f]]
        noise = 4 / np.sqrt(both.sum())  # four standard errors of a correlation under independence
        assert abs(np.corrcoef(ratio, parent_value)[0, 1]) < noise
        assert np.corrcoef(codes[both, f], parent_value)[0, 1] > noise
        assert abs(ratio.mean() - float(tiny.mean[f]) / float(tiny.mean[parent[f]])) < 0.05
    # magnitudes: per-feature means and standard deviations agree
    for f in range(tiny.num_features):
        a, b = sparse[on_s[:, f], f], dense[on_d[:, f], f]
        if len(a) > 200 and len(b) > 200:
            assert abs(a.mean() - b.mean()) < 5 * np.sqrt(a.var() / len(a) + b.var() / len(b)) + 1e-6


def test_a_non_dominating_envelope_is_caught(tiny):
    # Counterpart: raise every block's threshold, so the envelope no longer bounds the rates.
    broken = tiny.replace(firing=tiny.firing.replace(block_threshold=tiny.firing.block_threshold + 1.0))
    n = 60_000
    codes = np.asarray(jax.jit(broken.sample, static_argnums=1)(jax.random.key(1), n).codes.dense())
    level0 = np.flatnonzero(np.asarray(tiny.level) == 0)
    tail = np.setdiff1d(level0, np.asarray(tiny.firing.head))
    p = np.asarray(tiny.probabilities)[tail]
    assert outside_share((codes[:, tail] > 0).sum(0), n, p).sum() > allowed_outside(len(tail))


def test_overflowing_buffers_redraw_densely_and_stay_exact(tiny):
    cramped = tiny.replace(firing=tiny.firing.replace(events_cap=1, accepted_cap=1, active_cap=1), level_caps=(1,) * len(tiny.level_caps))
    n = 40_000
    batch = jax.jit(cramped.sample, static_argnums=1)(jax.random.key(3), n)
    assert bool(batch.truth["redrawn"])
    _, reference = tiny.sample_dense(jax.random.key(4), n)
    on, ref = np.asarray(batch.codes.dense()) > 0, np.asarray(reference) > 0
    assert outside_share(on.sum(0), n, ref.sum(0), n).sum() <= allowed_outside(tiny.num_features)
    x = np.asarray(batch.codes.dense()) @ np.asarray(tiny.directions) + np.asarray(tiny.bias)
    assert np.allclose(np.asarray(batch.x), x, atol=1e-4)


def test_sparse_codes_feed_the_streamed_metrics(tiny, draws):
    from sae import metrics

    batch, sparse, _ = draws
    x, codes = batch.x[:500], jax.tree.map(lambda a: a[:500], batch.codes)
    latents = jnp.asarray(sparse[:500, :10])
    sums = metrics.reconstruction_sums(x, x, latents, codes)
    assert float(sums.true_l0) == float((sparse[:500] > 0).sum())
    counts = metrics.firing_counts(latents, codes, jnp.arange(10))
    dense_counts = metrics.firing_counts(latents, jnp.asarray(sparse[:500]), jnp.arange(10))
    assert all(np.array_equal(a, b) for a, b in zip(counts, dense_counts))


# --- with SAELens installed: its sampler on the same file -------------------------------------


@pytest.fixture(scope="module")
def saelens_model():
    require("sae_lens.synthetic")
    from sae_lens.synthetic import SyntheticModel

    return SyntheticModel.load_from_disk(str(FIXTURE))


def test_agrees_with_saelens_sampler_on_the_same_file(tiny, draws, saelens_model):
    import torch

    torch.manual_seed(0)
    n = 60_000
    theirs = saelens_model.activation_generator.sample(n).numpy()
    _, ours, _ = draws
    on_t, on_o = theirs > 0, ours > 0
    assert outside_share(on_o.sum(0), n, on_t.sum(0), n).sum() <= allowed_outside(tiny.num_features)
    l0_o, l0_t = on_o.sum(1), on_t.sum(1)
    assert abs(l0_o.mean() - l0_t.mean()) < 5 * np.sqrt((l0_o.var() + l0_t.var()) / n)
    parent = np.asarray(tiny.parent)
    child = parent >= 0
    assert not np.any(on_t[:, child] & ~on_t[:, parent[child]])
    for f in range(tiny.num_features):
        a, b = ours[on_o[:, f], f], theirs[on_t[:, f], f]
        if len(a) > 200 and len(b) > 200:
            assert abs(a.mean() - b.mean()) < 5 * np.sqrt(a.var() / len(a) + b.var() / len(b)) + 1e-6
            assert abs(a.std() - b.std()) < 0.1 * b.std() + 0.02
    np.testing.assert_allclose(saelens_model.activation_generator.std_firing_magnitudes.numpy(), tiny.std[:-1], atol=1e-6)


def test_a_model_written_by_toylab_loads_in_saelens(tmp_path, saelens_model):
    from sae_lens.synthetic import SyntheticModel

    parts = synthetic_model.build(synthetic_model.synthsaebench_config(128, 16, seed=5, orthogonalization_steps=5))
    synthetic_files.save(tmp_path / "model", parts)
    loaded = SyntheticModel.load_from_disk(str(tmp_path / "model"))
    assert np.array_equal(loaded.feature_dict.feature_vectors.detach().numpy(), parts.feature_vectors)
    assert synthetic_hierarchy.to_dict(parts.roots) == loaded.hierarchy.to_dict()


def test_edge_absorption_of_the_hierarchy_streams_from_sparse_codes(tiny):
    # pipeline.evaluate with the model's parents: one record per planted edge, with consistent
    # counts (that sparse codes count as dense ones is tested in tests/test_hierarchy.py).
    from sae import absorption, pipeline

    params = pipeline.baseline("random", jax.random.split(jax.random.key(0), 1), tiny.d, 32)
    hps = pipeline.baseline_hparams(3, 1)
    (scores,) = pipeline.evaluate(pipeline.BASELINE_ARCH, params, hps, tiny, key=jax.random.key(1), n_eval=4096, parents=tiny.parent)
    records = scores["edge_absorption"]
    parents = np.asarray(tiny.parent)
    assert [r["child"] for r in records] == list(np.flatnonzero(parents >= 0))
    assert sum(r["n_with_child"] for r in records) > 0
    for r in records:
        assert r["n_with_child_hit"] <= r["n_with_child"] and r["n_alone_hit"] <= r["n_alone"]
        assert (r["symptom_gap"] is None) == (r["n_alone"] == 0 or r["n_with_child"] == 0)
    assert absorption.edge_summary(records)["n_edges"] == len(records)


# --- bad input and the corners SAELens guards --------------------------------------------------

FOLDED = synthetic_model.Generator("folded_normal", (("max_value", None), ("mean", 0.5), ("min_value", None), ("std", 0.5)))


def test_a_single_feature_draws_its_magnitudes_as_saelens_does():
    # SAELens gives `start` to a single feature only for the linear and exponential generators; a
    # folded normal draws from its stream as for any n (toylab once returned `start`, None → NaN).
    one = synthetic_model.magnitudes(FOLDED, 1, seed=3)
    assert np.isfinite(one).all() and one[0] == np.float32(abs(0.5 + TorchGenerator(3).randn(1)[0] * 0.5))
    linear = synthetic_model.Generator("linear", (("end", 4.0), ("start", 5.0)))
    assert synthetic_model.magnitudes(linear, 1, seed=3)[0] == 5.0
    config = synthetic_model.SyntheticModelConfig(
        num_features=1, hidden_dim=4, seed=0, std_firing_magnitudes=FOLDED, firing_probability=synthetic_model.zipfian(0.5, 0.9, 0.01)
    )
    model = synthetic_model.from_parts(synthetic_model.build(config))
    batch = model.sample(jax.random.key(0), 256)
    assert np.isfinite(np.asarray(batch.x)).all() and np.asarray(batch.codes.dense()).any()


def test_single_feature_magnitudes_equal_saelens():
    require("sae_lens.synthetic")
    from sae_lens.synthetic.firing_magnitudes import FoldedNormalMagnitudeConfig

    theirs = FoldedNormalMagnitudeConfig(mean=0.5, std=0.5).generate(1, seed=3).numpy()
    np.testing.assert_array_equal(synthetic_model.magnitudes(FOLDED, 1, seed=3), theirs)


def _config_with(**changes):
    d = synthetic_model.SyntheticModelConfig.from_dict(json.loads((FIXTURE / synthetic_files.CONFIG_FILE).read_text())).to_dict()
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = d
        for name in parents:
            target = target[name]
        target[leaf] = value
    return d


BAD_CONFIGS = [  # SAELens' own checks, each a one-line error naming the field
    ({"firing_probability__exponent": 0.0}, "firing_probability.exponent"),
    ({"firing_probability__min_prob": 0.5}, "firing_probability.min_prob"),  # min ≥ max
    ({"firing_probability__max_prob": 1.5}, "firing_probability.max_prob"),
    ({"mean_firing_magnitudes__start": 0.0}, "mean_firing_magnitudes.start"),
    ({"mean_firing_magnitudes__end": -1.0}, "mean_firing_magnitudes.end"),
    ({"std_firing_magnitudes__std": 0.0}, "std_firing_magnitudes.std"),
    ({"std_firing_magnitudes__min_value": 2.0, "std_firing_magnitudes__max_value": 1.0}, "std_firing_magnitudes.min_value"),
    (
        {"hierarchy__mutually_exclusive_min_depth": 2, "hierarchy__mutually_exclusive_max_depth": 1},
        "hierarchy.mutually_exclusive_max_depth",
    ),
]


@pytest.mark.parametrize("changes, field", BAD_CONFIGS, ids=[f for _, f in BAD_CONFIGS])
def test_bad_model_configs_are_refused_in_one_line(changes, field):
    from toys.engine.config import ConfigError

    with pytest.raises(ConfigError, match=field) as error:
        synthetic_model.SyntheticModelConfig.from_dict(_config_with(**changes)).validate()
    assert "\n" not in str(error.value)


def test_saelens_refuses_the_same_configs():
    require("sae_lens.synthetic")
    from sae_lens.synthetic import SyntheticModel, SyntheticModelConfig

    for changes, _field in BAD_CONFIGS:  # SAELens checks some fields when it builds the model
        with pytest.raises(ValueError):
            SyntheticModel(SyntheticModelConfig.from_dict(_config_with(**changes)))
    SyntheticModel(SyntheticModelConfig.from_dict(_config_with()))  # the unchanged fixture builds


def test_a_bad_model_folder_exits_2_through_the_cli_and_writes_nothing(tmp_path, capsys):
    from experiments.runner import cli

    folder = tmp_path / "model"
    shutil.copytree(FIXTURE, folder)
    (folder / synthetic_files.CONFIG_FILE).write_text(json.dumps(_config_with(firing_probability__exponent=-1.0)))
    code = cli.main(["run", "synthsaebench", "--quick", "--out", str(tmp_path / "runs"), "--set", f"model_folder={folder}"])
    err = capsys.readouterr().err
    assert code == 2 and "firing_probability.exponent" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()
