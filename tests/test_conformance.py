"""Conformance with SAELens (the release in saelens_reference.CHECKED_WITH), on every change.

- Metrics: on the same weights and the same (x, codes), every score toylab shares with
  `sae_lens.synthetic.eval_sae_on_synthetic_data` (MCC, precision, recall, F1, uniqueness,
  L0, true L0, dead latents, explained variance, shrinkage) equals it to 1e-6, over drawn
  widths, dead-latent shares and architectures.
- Folders SAELens writes (`save_model` and `save_inference_model`, every architecture it
  has) load in toylab and encode as SAELens' inference SAE encodes them (1e-5), or are
  refused in one line; folders toylab writes load in SAELens and encode the same.
- The synthetic sampler agrees with SAELens' on model files SAELens wrote, over
  hierarchy depths, correlation ranks and widths: identical feature vectors, and
  per-feature firing rates within binomial intervals of each other.
The counterparts that must fail sit beside: a wrong uniqueness (live latents only) differs
from SAELens' on a dictionary with dead latents; a TopK folder read without folding its
decoder norms encodes differently.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from binomial_intervals import allowed_outside, outside_share
from hypothesis import given, settings
from hypothesis import strategies as st
from saelens_reference import require

from sae import architectures, evaluate, metrics, pipeline, saelens_format
from sae.params import SAEParams
from toys import synthetic_files, synthetic_model

pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module")
def sae_lens():
    return require("sae_lens")


def _torch():
    import torch

    return torch


def _encode(loaded, x):
    hps = pipeline.stack([loaded.hparams()])
    return np.asarray(pipeline.encode(loaded.arch, pipeline.stack([jax.tree.map(jnp.asarray, loaded.params)]), hps, x))[0]


def _random_params(rng, d, m, dead_share=0.0) -> SAEParams:
    """A dictionary with decoder rows of norms in [0.3, 3] (not unit), biases, thresholds, and
    `dead_share` of its latents switched off by a very negative encoder bias."""
    W_dec = rng.normal(size=(m, d)) / np.sqrt(d) * rng.uniform(0.3, 3.0, size=(m, 1))
    b_enc = rng.normal(size=m) * 0.3
    b_enc[rng.random(m) < dead_share] = -1e3
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return SAEParams(
        W_enc=f32(rng.normal(size=(d, m)) / np.sqrt(d)),
        b_enc=f32(b_enc),
        W_dec=f32(W_dec),
        b_dec=f32(rng.normal(size=d) * 0.2),
        log_threshold=f32(np.log(rng.uniform(0.05, 0.6, m))),
        r_mag=f32(rng.normal(size=m) * 0.3),
        b_mag=f32(rng.normal(size=m) * 0.3),
    )


# --- metrics ------------------------------------------------------------------------------


class _Fixed:
    """An activation generator that hands out fixed codes (SAELens' `sample(n)` interface)."""

    def __init__(self, codes):
        self.codes, self.at = codes, 0

    def sample(self, n):
        part = self.codes[self.at : self.at + n]
        self.at += n
        return part


def _saelens_scores(sae_lens, folder, features, bias, codes):
    torch = _torch()
    from sae_lens.synthetic.evals import eval_sae_on_synthetic_data
    from sae_lens.synthetic.feature_dictionary import FeatureDictionary

    sae = sae_lens.SAE.load_from_disk(str(folder), device="cpu")
    dictionary = FeatureDictionary(features.shape[0], features.shape[1])
    with torch.no_grad():
        dictionary.feature_vectors.copy_(torch.tensor(features))
        dictionary.bias.data = torch.tensor(bias)
        x = dictionary(torch.tensor(codes)).numpy()
    result = eval_sae_on_synthetic_data(sae, dictionary, _Fixed(torch.tensor(codes)), num_samples=len(codes))
    return result, x


@settings(max_examples=8)
@given(
    st.sampled_from(["relu", "topk", "jumprelu_unscaled", "matching_pursuit"]),
    st.integers(4, 24),
    st.integers(3, 12),
    st.integers(2, 40),
    st.floats(0.0, 0.6),
    st.integers(0, 2**31 - 1),
)
def test_every_metric_equals_saelens_evaluation(sae_lens, tmp_path_factory, arch, n_features, d, m, dead_share, seed):
    rng = np.random.default_rng(seed)
    n = 3000
    features = rng.normal(size=(n_features, d)).astype(np.float32)
    bias = (rng.normal(size=d) * 0.3).astype(np.float32)
    codes = np.where(rng.random((n, n_features)) < rng.uniform(0.0, 0.4, n_features), rng.uniform(0.5, 2.0, (n, n_features)), 0.0).astype(
        np.float32
    )  # some features never fire
    params = _random_params(rng, d, m, dead_share)
    k = int(rng.integers(1, m + 1)) if architectures.get(arch).uses_k else None
    folder = saelens_format.save(tmp_path_factory.mktemp("m") / arch, arch, params, k=k)
    theirs, x = _saelens_scores(sae_lens, folder, features, bias, codes)
    loaded = saelens_format.load(folder)
    (ours,) = evaluate.evaluate(
        loaded.arch,
        pipeline.stack([jax.tree.map(jnp.asarray, loaded.params)]),
        pipeline.stack([loaded.hparams()]),
        (x, codes),
        true_features=features,
        chunk=1000,
    )
    pairs = {
        "mcc": theirs.mcc,
        "uniqueness": theirs.uniqueness,
        "precision": theirs.classification.precision,
        "recall": theirs.classification.recall,
        "f1": theirs.classification.f1_score,
        "l0": theirs.sae_l0,
        "true_l0": theirs.true_l0,
        "dead_fraction": theirs.dead_latents / m,
        "explained_variance": theirs.explained_variance,
        "shrinkage": theirs.shrinkage,
    }
    for name, expected in pairs.items():
        # 1e-6, absolute or relative: both libraries sum squared errors in float32 (in chunks of
        # different sizes), which moves EV far below 0 in its seventh digit
        assert ours[name] == pytest.approx(expected, abs=1e-6, rel=1e-6), name


def test_live_only_uniqueness_is_not_saelens_uniqueness(sae_lens):
    # the counterpart: the old reading (distinct best features of live latents ÷ m) differs from
    # SAELens' on a dictionary whose dead latents point at features no live latent takes.
    torch = _torch()
    from sae_lens.synthetic.evals import feature_uniqueness

    T = np.eye(4, dtype=np.float32)
    D = np.stack([T[0], T[0], T[2], T[3]])
    live = np.array([True, True, False, False])
    C = metrics.abs_cosine(T, D)
    theirs = feature_uniqueness(torch.tensor(D), torch.tensor(T))
    assert metrics.uniqueness(C) == pytest.approx(theirs, abs=1e-9) == 0.75
    live_only_over_m = len(np.unique(np.asarray(metrics.best_feature(C))[live])) / 4
    assert live_only_over_m != pytest.approx(theirs)


# --- folders SAELens writes, read by toylab ------------------------------------------------

# (name, SAELens training class, its config class, config fields)
SAELENS_KINDS = [
    ("standard", "StandardTrainingSAE", "StandardTrainingSAEConfig", {}),
    ("gated", "GatedTrainingSAE", "GatedTrainingSAEConfig", {}),
    ("jumprelu", "JumpReLUTrainingSAE", "JumpReLUTrainingSAEConfig", {}),
    ("jumprelu_rescaled", "JumpReLUTrainingSAE", "JumpReLUTrainingSAEConfig", {"normalize_activations": "constant_norm_rescale"}),
    ("topk", "TopKTrainingSAE", "TopKTrainingSAEConfig", {"k": 4}),  # rescale_acts_by_decoder_norm: true
    ("topk_plain", "TopKTrainingSAE", "TopKTrainingSAEConfig", {"k": 4, "rescale_acts_by_decoder_norm": False}),
    ("batchtopk", "BatchTopKTrainingSAE", "BatchTopKTrainingSAEConfig", {"k": 4}),
    (
        "matryoshka_batchtopk",
        "MatryoshkaBatchTopKTrainingSAE",
        "MatryoshkaBatchTopKTrainingSAEConfig",
        {"k": 4, "matryoshka_widths": [16, 64]},
    ),
    ("matching_pursuit", "MatchingPursuitTrainingSAE", "MatchingPursuitTrainingSAEConfig", {}),
    (
        "matching_pursuit_k",
        "MatchingPursuitTrainingSAE",
        "MatchingPursuitTrainingSAEConfig",
        {"max_iterations": 5, "residual_threshold": 0.5},
    ),
]
# SAELens folders toylab cannot represent: refused in one line, never read with another meaning.
REFUSED_KINDS = [
    ("abstopk", "AbsTopKTrainingSAE", "AbsTopKTrainingSAEConfig", {"k": 4}, "architecture: got 'abstopk'"),
    (
        "standard_rescaled",
        "StandardTrainingSAE",
        "StandardTrainingSAEConfig",
        {"normalize_activations": "constant_norm_rescale"},
        "normalize_activations: got 'constant_norm_rescale'",
    ),
    (
        "topk_layer_norm",
        "TopKTrainingSAE",
        "TopKTrainingSAEConfig",
        {"k": 4, "normalize_activations": "layer_norm"},
        "normalize_activations: got 'layer_norm'",
    ),
]
D_IN, D_SAE = 16, 64
WIDTHS = [(16, 64), (24, 40)]  # (d_in, d_sae): a power of two and not


def _saelens_sae(sae_lens, cls_name, cfg_name, fields, seed, d_in=D_IN, d_sae=D_SAE):
    """A SAELens training SAE with random weights: decoder rows of norms in [0.3, 3], biases, thresholds."""
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MatchingPursuit warns that it sets decoder_init_norm to 1
        sae = getattr(sae_lens, cls_name)(getattr(sae_lens, cfg_name)(d_in=d_in, d_sae=d_sae, **fields))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in sae.state_dict().items():
            if name == "W_dec":
                value = torch.randn(tensor.shape, generator=g) / 4 * (0.3 + 2.7 * torch.rand(d_sae, 1, generator=g))
            elif name in ("threshold", "log_threshold"):
                value = 0.05 + 0.5 * torch.rand(tensor.shape, generator=g)
                value = value.log() if name == "log_threshold" else value
            elif name == "topk_threshold":
                value = torch.tensor(0.3, dtype=tensor.dtype)
            else:
                value = torch.randn(tensor.shape, generator=g) * (0.25 if tensor.ndim == 2 else 0.3)
            tensor.copy_(value.to(tensor.dtype))
    return sae


def _reference_codes(sae_lens, sae, folder, tmp_path, x):
    """SAELens' inference encoding of a folder: its own loader; for BatchTopK-type training folders,
    which its loader refuses, the inference folder its save_inference_model makes of the same SAE."""
    torch = _torch()
    try:
        reference = sae_lens.SAE.load_from_disk(str(folder), device="cpu")
    except KeyError:
        inference = tmp_path / "reference"
        sae.save_inference_model(inference)
        reference = sae_lens.SAE.load_from_disk(str(inference), device="cpu")
    with torch.no_grad():
        return reference.encode(torch.tensor(x)).numpy()


@pytest.mark.parametrize("widths", WIDTHS, ids=[f"{d}x{m}" for d, m in WIDTHS])
@pytest.mark.parametrize("save", ["save_model", "save_inference_model"])
@pytest.mark.parametrize("kind", SAELENS_KINDS, ids=[k[0] for k in SAELENS_KINDS])
def test_saelens_folders_encode_in_toylab_as_in_saelens(sae_lens, tmp_path, kind, save, widths):
    name, cls_name, cfg_name, fields = kind
    d_in, d_sae = widths
    if "matryoshka_widths" in fields:
        fields = {**fields, "matryoshka_widths": [d_sae // 4, d_sae]}
    sae = _saelens_sae(sae_lens, cls_name, cfg_name, fields, seed=len(name) + d_in, d_in=d_in, d_sae=d_sae)
    folder = tmp_path / name
    getattr(sae, save)(folder)
    x = np.random.default_rng(0).normal(size=(2000, d_in)).astype(np.float32)
    expected = _reference_codes(sae_lens, sae, folder, tmp_path, x)
    ours = _encode(saelens_format.load(folder), x)
    # relative too: matching pursuit on decoder rows longer than √2 overshoots and its values grow
    # to ~1e5 in both libraries, where float32 keeps 7 digits
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=1e-5)
    assert (expected > 0).any() and not (expected > 0).all()  # some latents on, some off: a real test


def test_topk_read_without_folding_its_decoder_norms_encodes_differently(sae_lens, tmp_path):
    # the counterpart: SAELens' TopK training default rescales by the decoder norms; ignoring
    # that field (as toylab once did) picks other latents.
    sae = _saelens_sae(sae_lens, "TopKTrainingSAE", "TopKTrainingSAEConfig", {"k": 4}, seed=3)
    sae.save_model(tmp_path / "topk")
    cfg = json.loads((tmp_path / "topk" / "cfg.json").read_text())
    x = np.random.default_rng(0).normal(size=(1000, D_IN)).astype(np.float32)
    expected = _reference_codes(sae_lens, sae, tmp_path / "topk", tmp_path, x)
    cfg["rescale_acts_by_decoder_norm"] = False
    (tmp_path / "topk" / "cfg.json").write_text(json.dumps(cfg))
    unfolded = _encode(saelens_format.load(tmp_path / "topk"), x)
    assert np.mean(np.any((unfolded > 0) != (expected > 0), axis=1)) > 0.5


@pytest.mark.parametrize("save", ["save_model", "save_inference_model"])
@pytest.mark.parametrize("kind", REFUSED_KINDS, ids=[k[0] for k in REFUSED_KINDS])
def test_saelens_folders_toylab_cannot_represent_are_refused_in_one_line(sae_lens, tmp_path, kind, save):
    name, cls_name, cfg_name, fields, message = kind
    sae = _saelens_sae(sae_lens, cls_name, cfg_name, fields, seed=1)
    getattr(sae, save)(tmp_path / name)
    with pytest.raises(saelens_format.FormatError, match=message) as error:
        saelens_format.load(tmp_path / name)
    assert "\n" not in str(error.value)


# --- folders toylab writes, read by SAELens --------------------------------------------------


@pytest.mark.parametrize("arch", sorted(architectures.ARCHITECTURES))
def test_toylab_folders_load_in_saelens_and_encode_the_same(sae_lens, arch, tmp_path):
    torch = _torch()
    d, m = 8, 12
    params = _random_params(np.random.default_rng(0), d, m)
    k = 3 if architectures.get(arch).uses_k else None
    extra = {"hparams": {"residual_threshold": 0.4}} if arch == "matching_pursuit" else None
    folder = saelens_format.save(tmp_path / arch, arch, params, k=k, extra=extra)
    x = np.random.default_rng(1).normal(size=(5000, d)).astype(np.float32)
    theirs = sae_lens.SAE.load_from_disk(str(folder), device="cpu")
    with torch.no_grad():
        expected = theirs.encode(torch.tensor(x)).numpy()
    ours = _encode(saelens_format.load(folder), x)
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=1e-5)  # relative: see the test above
    assert (expected > 0).any() and not (expected > 0).all()


# --- the synthetic model's sampler -----------------------------------------------------------


def _model_config(n_features, hidden_dim, depth, rank, exclusive, seed):
    """A SAELens model config; depth None: no hierarchy, rank None: no correlation."""
    config = {
        "num_features": n_features,
        "hidden_dim": hidden_dim,
        "firing_probability": {"exponent": 0.5, "max_prob": 0.4, "min_prob": 0.02, "generator_name": "zipfian"},
        "hierarchy": {
            "total_root_nodes": 3,
            "branching_factor": 2,
            "max_depth": depth,
            "mutually_exclusive_portion": exclusive,
            "mutually_exclusive_min_depth": 0,
            "mutually_exclusive_max_depth": None,
            "compensate_probabilities": True,
            "scale_children_by_parent": True,
        },
        "orthogonalization": {"num_steps": 5, "lr": 3e-4, "chunk_size": 1024},
        "correlation": {"rank": rank, "correlation_scale": 0.2, "seed": None},
        "std_firing_magnitudes": {"mean": 0.5, "std": 0.5, "min_value": None, "max_value": None, "generator_name": "folded_normal"},
        "mean_firing_magnitudes": {"start": 5.0, "end": 4.0, "generator_name": "linear"},
        "bias": 0.5,
        "dtype": "float32",
        "seed": seed,
    }
    if depth is None:
        config["hierarchy"] = None
    if rank is None:
        config["correlation"] = None
    return config


@pytest.mark.parametrize(
    "n_features, hidden_dim, depth, rank, exclusive, seed",
    [
        (48, 12, 1, 2, 0.0, 3),
        (80, 16, 2, 6, 0.5, 11),
        (96, 24, 3, 3, 1.0, 29),
        (64, 20, None, None, 0.0, 5),  # flat and independent
    ],
)
def test_sampler_agrees_with_saelens_on_a_model_saelens_wrote(sae_lens, tmp_path, n_features, hidden_dim, depth, rank, exclusive, seed):
    torch = _torch()
    from sae_lens.synthetic import SyntheticModel, SyntheticModelConfig

    theirs = SyntheticModel(SyntheticModelConfig.from_dict(_model_config(n_features, hidden_dim, depth, rank, exclusive, seed)))
    theirs.save(tmp_path / "model")
    parts = synthetic_files.load(tmp_path / "model")
    np.testing.assert_array_equal(parts.feature_vectors, theirs.feature_dict.feature_vectors.detach().numpy())
    built = synthetic_model.build(parts.config)  # from the config alone: SAELens' arrays to float32 rounding
    np.testing.assert_allclose(built.feature_vectors, parts.feature_vectors, atol=1e-5)
    np.testing.assert_allclose(built.firing_probabilities, parts.firing_probabilities, atol=1e-6)

    n = 40_000
    torch.manual_seed(seed)
    on_theirs = theirs.activation_generator.sample(n).numpy() > 0
    model = synthetic_model.from_parts(parts)
    on_ours = np.asarray(jax.jit(model.sample, static_argnums=1)(jax.random.key(seed), n).codes.dense()) > 0
    assert outside_share(on_ours.sum(0), n, on_theirs.sum(0), n).sum() <= allowed_outside(n_features)
    parent = np.asarray(model.parent)[:n_features]
    child = parent >= 0
    for on in (on_ours, on_theirs):  # both obey the hierarchy: a child fires only with its parent
        assert not np.any(on[:, child] & ~on[:, parent[child]])


def test_a_sampler_with_other_firing_rates_fails_the_same_check(sae_lens, tmp_path):
    # the counterpart: SAELens' sampler against ours on a model whose probabilities were halved.
    torch = _torch()
    from sae_lens.synthetic import SyntheticModel, SyntheticModelConfig

    theirs = SyntheticModel(SyntheticModelConfig.from_dict(_model_config(48, 12, 1, 2, 0.0, 3)))
    theirs.save(tmp_path / "model")
    parts = synthetic_files.load(tmp_path / "model")
    parts = dataclasses.replace(parts, firing_probabilities=parts.firing_probabilities * 0.5)
    n = 40_000
    torch.manual_seed(3)
    on_theirs = theirs.activation_generator.sample(n).numpy() > 0
    model = synthetic_model.from_parts(parts)
    on_ours = np.asarray(jax.jit(model.sample, static_argnums=1)(jax.random.key(3), n).codes.dense()) > 0
    assert outside_share(on_ours.sum(0), n, on_theirs.sum(0), n).sum() > allowed_outside(48)
