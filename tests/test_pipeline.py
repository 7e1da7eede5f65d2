"""The instrument layer: the toy protocol, every registered architecture through
fit → encode → reconstruct → save → load, baselines, and the one reconstruction."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sae import architectures, classical, pipeline, saelens_format, train
from toys import manifolds, protocol, semantic, stored, superposition, tms, trees

D, F = 6, 10
TOY = superposition.build(superposition.SuperpositionConfig(n_features=F, d=D, mean_l0=2), jax.random.key(0))


def _hps(arch: str, n: int = 2):
    facts = architectures.get(arch)
    coefficient = {"l1": 0.1, "l0": 0.01}.get(facts.penalty, 0.0)
    aux = 1 / 32 if facts.auxk else 0.0
    return pipeline.stack([architectures.hparams(3e-3, coefficient, 2, aux)] * n)


@pytest.mark.parametrize(
    "toy",
    [
        TOY,
        trees.build(trees.TreeConfig(n_roots=2, branching=2, depth=2, d=8, mean_l0=1.0), jax.random.key(0)),
        manifolds.build(manifolds.ManifoldConfig(8, (manifolds.ManifoldSpec("days", values=7),), 4, 1.0), jax.random.key(0)),
        stored.from_arrays(np.ones((5, 3)), np.ones((5, 2)), np.eye(2, 3)),
        semantic.LayerToy(
            semantic.isometry(jax.random.key(0), 6),
            semantic.initial_state(semantic.SemanticConfig(d=6, hidden=8, n_layers=2), jax.random.key(1)),
            semantic.SemanticConfig(d=6, hidden=8, n_layers=2),
            2,
        ),
        tms.HiddenToy(jax.random.normal(jax.random.key(0), (2, 5)), jnp.float32(0.2)),
    ],
)
def test_every_toy_follows_the_protocol(toy):
    assert isinstance(toy, protocol.Toy)
    batch = toy.sample(jax.random.key(1), 7)
    assert batch.x.shape == (7, toy.d)
    if batch.codes is not None:
        assert batch.codes.shape[0] == 7 and toy.features.shape == (batch.codes.shape[1], toy.d)
    # a toy is a pytree: the same function compiles once and samples inside jit
    x = jax.jit(pipeline.toy_activations, static_argnums=2)(toy, jax.random.key(1), 7)
    np.testing.assert_allclose(x, batch.x, atol=1e-6)


@pytest.mark.parametrize("arch", sorted(architectures.ARCHITECTURES))
def test_every_architecture_fits_encodes_reconstructs_saves_and_loads(arch, tmp_path):
    facts = architectures.get(arch)
    hps = _hps(arch)
    result = pipeline.fit(arch, TOY, hps, jax.random.split(jax.random.key(1), 2), n_latents=12, steps=30, batch_size=32)
    assert np.all(np.isfinite(np.asarray(result.loss)))
    x = TOY.sample(jax.random.key(2), 64).x
    f = np.asarray(pipeline.encode(arch, result.params, hps, x))
    x_hat = np.asarray(pipeline.reconstruct(arch, result.params, hps, x))
    assert f.shape == (2, 64, 12) and x_hat.shape == (2, 64, D) and np.all(f >= 0)
    if facts.inference == "topk":
        assert np.all((f > 0).sum(-1) <= 2)
    # the one reconstruction: decode, then undo the per-sample scaling where the architecture scales
    one = jax.tree.map(lambda leaf: leaf[0], result.params)
    plain = np.asarray(architectures.decode(one, jnp.asarray(f[0])))
    scale = np.linalg.norm(np.asarray(x), axis=1, keepdims=True) / np.sqrt(D)
    np.testing.assert_allclose(x_hat[0], plain * scale if facts.scales_input else plain, rtol=1e-5, atol=1e-5)
    # saved in SAELens' format and loaded back: the same latents
    folder = saelens_format.save(tmp_path / arch, arch, jax.tree.map(np.asarray, one), k=2 if facts.uses_k else None)
    loaded = saelens_format.load(folder)
    assert loaded.arch == arch and loaded.k == (2 if facts.uses_k else None)
    again = pipeline.encode(arch, pipeline.stack([jax.tree.map(jnp.asarray, loaded.params)]), jax.tree.map(lambda leaf: leaf[:1], hps), x)
    np.testing.assert_allclose(np.asarray(again)[0], f[0], atol=1e-6)


def test_scaled_architectures_need_the_architectures_reconstruction():
    # Negative control: decoding a scaled architecture's latents without undoing the scaling
    # (f W_dec + b_dec) reconstructs samples of norm ≠ √d wrongly.
    hps = _hps("batchtopk", 1)
    result = pipeline.fit("batchtopk", TOY, hps, jax.random.split(jax.random.key(1), 1), n_latents=20, steps=300, batch_size=128)
    x = TOY.sample(jax.random.key(3), 2000).x
    right = pipeline.explained_variance("batchtopk", result.params, hps, x)[0]
    f = pipeline.encode("batchtopk", result.params, hps, x)[0]
    wrong = 1 - np.sum((np.asarray(x) - np.asarray(architectures.decode(jax.tree.map(lambda a: a[0], result.params), f))) ** 2) / np.sum(
        (np.asarray(x) - np.asarray(x).mean(0)) ** 2
    )
    assert right > wrong + 0.1, (right, wrong)


def test_auxk_has_one_switch():
    config = train.TrainConfig("relu", D, 8, steps=5, batch_size=16)
    hps = pipeline.stack([architectures.hparams(1e-3, 0.1, 1, aux_coefficient=0.5)])
    with pytest.raises(ValueError, match="aux_coefficient"):
        train.train(config, pipeline.toy_activations, TOY, hps, jax.random.split(jax.random.key(0), 1))
    # for TopK the coefficient alone turns AuxK on: with every latent dead the loss grows
    topk = train.TrainConfig("topk", D, 8, steps=1, batch_size=16, k_max=1, dead_after_steps=0)
    keys = jax.random.split(jax.random.key(0), 1)
    off = train.train(topk, pipeline.toy_activations, TOY, pipeline.stack([architectures.hparams(1e-3, 0.0, 1)]), keys)
    on = train.train(topk, pipeline.toy_activations, TOY, pipeline.stack([architectures.hparams(1e-3, 0.0, 1, 1.0)]), keys)
    assert float(on.loss[0, 0]) > float(off.loss[0, 0])


@pytest.mark.parametrize("kind", pipeline.BASELINE_KINDS)
def test_every_baseline_is_the_same_pytree(kind):
    sample = TOY.sample(jax.random.key(4), 500).x
    params = pipeline.baseline(
        kind, jax.random.split(jax.random.key(5), 3), D, 8, k=2, fit_sample=sample, true_features=TOY.features, noise=0.1
    )
    template = jax.tree.map(lambda leaf: leaf[None].repeat(3, 0), architectures_init())
    assert jax.tree.structure(params) == jax.tree.structure(template)
    assert all(a.shape == b.shape for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(template)))
    scores = pipeline.evaluate(
        pipeline.BASELINE_ARCH, params, pipeline.baseline_hparams(2, 3), TOY, key=jax.random.key(6), n_eval=2000, chunk=1000
    )
    assert len(scores) == 3 and all(0 <= s["mmcs"] <= 1 for s in scores)


def architectures_init():
    from sae.params import init

    return init(jax.random.key(0), D, 8)


def test_baselines_refuse_missing_inputs():
    keys = jax.random.split(jax.random.key(0), 1)
    for kind, message in (("darts", "fit_sample"), ("pca", "fit_sample"), ("oracle", "true_features")):
        with pytest.raises(ValueError, match=message):
            pipeline.baseline(kind, keys, D, 8, k=2)
    with pytest.raises(ValueError, match="baseline kind"):
        pipeline.baseline("nope", keys, D, 8)


def test_oracle_baseline_is_the_truth_plus_noise_of_the_stated_size():
    # independent of the code path: at noise 0 atom i is true feature i mod F, unit norm; at noise σ the
    # added vector is σ·N(0, I_d)/√d (norm ≈ σ, nearly orthogonal to the feature in high d), so the atom's
    # cosine with its feature is about 1/√(1 + σ²)
    truth = np.asarray(TOY.features, np.float64)
    unit = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    exact = pipeline.baseline("oracle", jax.random.split(jax.random.key(0), 1), D, 14, true_features=TOY.features, noise=0.0)
    np.testing.assert_allclose(np.asarray(exact.W_dec[0]), unit[np.arange(14) % F], atol=1e-6)
    wide = np.asarray(jax.random.normal(jax.random.key(5), (40, 4096)))
    wide = wide / np.linalg.norm(wide, axis=1, keepdims=True)  # unit features, as toys plant them
    for sigma in (0.5, 2.0):
        noisy = classical.oracle_plus_noise(jax.random.key(9), jnp.asarray(wide), 40, sigma)
        cosine = np.sum(np.asarray(noisy.W_dec) * wide, axis=1)
        np.testing.assert_allclose(cosine.mean(), 1 / np.sqrt(1 + sigma**2), atol=0.02)


def test_a_stored_toy_trains_like_any_toy(tmp_path):
    batch = TOY.sample(jax.random.key(7), 4000)
    np.save(tmp_path / "x.npy", np.asarray(batch.x))
    np.save(tmp_path / "codes.npy", np.asarray(batch.codes))
    np.save(tmp_path / "features.npy", np.asarray(TOY.features))
    toy = stored.from_npy(tmp_path / "x.npy", tmp_path / "codes.npy", tmp_path / "features.npy")
    hps = pipeline.stack([architectures.hparams(3e-3, 0.0, 2)])
    result = pipeline.fit("topk", toy, hps, jax.random.split(jax.random.key(1), 1), n_latents=20, steps=600, batch_size=128)
    (on_rows,) = pipeline.evaluate("topk", result.params, hps, (toy.x, toy.codes), true_features=toy.features)
    (fresh,) = pipeline.evaluate("topk", result.params, hps, TOY, key=jax.random.key(8), n_eval=20_000)
    # the stored rows are read as rows of the same toy: every firing and reconstruction score agrees with
    # fresh samples within sampling error (MMCS is a property of the decoder alone, so not a check)
    for name in ("f1", "mcc", "explained_variance", "l0"):
        assert abs(on_rows[name] - fresh[name]) < 0.05 * max(1.0, abs(fresh[name])), (name, on_rows, fresh)
    # counterpart: the same rows with their codes shuffled across samples score as a mismatch
    shuffled = np.asarray(toy.codes)[np.random.default_rng(0).permutation(len(toy.codes))]
    (mismatched,) = pipeline.evaluate("topk", result.params, hps, (toy.x, shuffled), true_features=toy.features)
    assert mismatched["f1"] < on_rows["f1"] - 0.2, (mismatched, on_rows)
    random = pipeline.baseline("random", jax.random.split(jax.random.key(2), 1), D, 20)
    (chance,) = pipeline.evaluate("topk", random, pipeline.baseline_hparams(2, 1), (toy.x, toy.codes), true_features=toy.features)
    assert on_rows["mcc"] > chance["mcc"], (on_rows, chance)


def test_stored_toy_refuses_bad_shapes(tmp_path):
    from toys.engine.config import ConfigError

    with pytest.raises(ConfigError, match="codes"):
        stored.from_arrays(np.ones((5, 3)), np.ones((4, 2)))
    with pytest.raises(ConfigError, match="features"):
        stored.from_arrays(np.ones((5, 3)), np.ones((5, 2)), np.ones((2, 4)))
    (tmp_path / "bad.npy").write_text("not an array")
    with pytest.raises(ConfigError, match="x: cannot read"):
        stored.from_npy(tmp_path / "bad.npy")


def test_an_sae_on_a_tms_hidden_layer_beats_chance():
    # the network toy follows the protocol, so fit and evaluate take it like any other toy
    angles = 2 * np.pi * np.arange(5) / 5
    toy = tms.HiddenToy(jnp.asarray(np.stack([np.cos(angles), np.sin(angles)]), jnp.float32), jnp.float32(0.05))
    hps = pipeline.stack([architectures.hparams(3e-3, 0.0, 1)])
    result = pipeline.fit("topk", toy, hps, jax.random.split(jax.random.key(0), 1), n_latents=5, steps=800, batch_size=256)
    (trained,) = pipeline.evaluate("topk", result.params, hps, toy, key=jax.random.key(1), n_eval=20_000)
    (chance,) = pipeline.evaluate(
        "topk",
        pipeline.baseline("random", jax.random.split(jax.random.key(2), 1), 2, 5),
        pipeline.baseline_hparams(1, 1),
        toy,
        key=jax.random.key(1),
        n_eval=20_000,
    )
    assert trained["mcc"] > 0.95 > chance["mcc"], (trained["mcc"], chance["mcc"])


@pytest.mark.parametrize(
    "array, message",
    [
        (np.array([["a", "b"]]), "x: got dtype <U1, expected real numbers"),
        (np.ones((2, 2), complex), "x: got dtype complex128, expected real numbers"),
        (np.array([[1.0, np.nan], [0.0, np.inf]]), "x: 2 NaN/inf entries (first in row 0)"),
    ],
)
def test_stored_arrays_refuse_what_training_would_choke_on(array, message, tmp_path):
    from toys import stored
    from toys.engine.config import ConfigError

    np.save(tmp_path / "x.npy", array)
    with pytest.raises(ConfigError, match=re.escape(message)):
        stored.from_npy(tmp_path / "x.npy")
    assert stored.from_arrays(np.ones((3, 2), np.int8)).x.dtype == jnp.float32  # whole numbers are real numbers
