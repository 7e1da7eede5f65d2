"""The SAE trainer: recovery on a small toy (and its failure on a too-dense one), grids, divergence."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sae import architectures, evaluate, pipeline, train
from sae import params as params_lib
from toys import superposition as sp
from toys.engine import loop
from toys.engine.config import ConfigError
from toys.engine.progress import DivergenceError
from toys.engine.runtime import Runtime

D, F, M = 8, 16, 32
CONFIG = train.TrainConfig("topk", D, M, steps=1500, batch_size=256, k_max=4)


def _train_and_score(mean_l0: float, k: int):
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=D, mean_l0=mean_l0), jax.random.key(0))
    hps = train.stack_hparams([architectures.hparams(3e-3, 0.0, k)])
    result = train.train(CONFIG, pipeline.toy_activations, toy, hps, jax.random.split(jax.random.key(1), 1))
    scores = evaluate.evaluate("topk", result.params, hps, toy, key=jax.random.key(2))
    return result, scores[0]


def test_small_topk_sae_recovers_sparse_planted_features():
    result, scores = _train_and_score(mean_l0=1.0, k=2)
    assert scores["mmcs"] >= 0.95, scores
    assert scores["mcc"] >= 0.9, scores
    assert result.loss[-100:].mean() < 0.2 * result.loss[:10].mean()  # it trained


def test_too_dense_toy_fails_the_recovery_bar():
    # Negative control: 12 of 16 features active at once in 8 dims is not sparse; the
    # same trainer and budget must miss the 0.95 bar.
    _, scores = _train_and_score(mean_l0=12.0, k=4)
    assert scores["mmcs"] < 0.95, scores


def test_a_vmapped_grid_equals_runs_trained_one_at_a_time():
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=D, mean_l0=2), jax.random.key(0))
    config = train.TrainConfig("topk", D, M, steps=50, batch_size=64, k_max=4)
    grid = [architectures.hparams(1e-3, 0.0, 2), architectures.hparams(3e-3, 0.0, 4)]
    keys = jax.random.split(jax.random.key(3), 2)
    together = train.train(config, pipeline.toy_activations, toy, train.stack_hparams(grid), keys)
    for i, hp in enumerate(grid):
        alone = train.train(config, pipeline.toy_activations, toy, train.stack_hparams([hp, hp]), jax.numpy.stack([keys[i], keys[i]]))
        np.testing.assert_allclose(together.params.W_dec[i], alone.params.W_dec[0], atol=1e-5)
    # k is traced: each member keeps its own L0
    assert together.l0[-1, 0] <= 2 and together.l0[-1, 1] > 2
    np.testing.assert_allclose(np.linalg.norm(together.params.W_dec, axis=-1), 1.0, atol=1e-5)
    assert int(together.fire_counts.sum()) > 0


def test_relu_l1_sae_trains_and_sparsifies():
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=D, mean_l0=1.0), jax.random.key(0))
    config = train.TrainConfig("relu", D, M, steps=600, batch_size=256)
    hps = train.stack_hparams([architectures.hparams(3e-3, 0.0, 1), architectures.hparams(3e-3, 0.3, 1)])
    result = train.train(config, pipeline.toy_activations, toy, hps, jax.random.split(jax.random.key(1), 2))
    assert np.all(result.loss[-50:].mean(0) < result.loss[:5].mean(0))
    assert result.l0[-50:, 1].mean() < result.l0[-50:, 0].mean()  # the L1 penalty lowers L0


def test_divergence_stops_with_the_step_number():
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=D, mean_l0=2, noise_std=1e30), jax.random.key(0))
    config = train.TrainConfig("topk", D, M, steps=20, batch_size=16, k_max=2)
    hps = train.stack_hparams([architectures.hparams(1e-3, 0.0, 2)])
    with pytest.raises(DivergenceError, match="step 0") as error:
        train.train(config, pipeline.toy_activations, toy, hps, jax.random.split(jax.random.key(1), 1))
    assert error.value.step == 0


def test_k_outside_its_range_is_refused():
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=D, mean_l0=2), jax.random.key(0))
    config = train.TrainConfig("topk", D, M, steps=5, batch_size=16, k_max=2)
    with pytest.raises(ValueError, match="k must lie"):
        train.train(
            config, pipeline.toy_activations, toy, train.stack_hparams([architectures.hparams(k=3)]), jax.random.split(jax.random.key(1), 1)
        )


def test_given_starting_dictionaries_and_no_decoder_bias():
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=D, mean_l0=2), jax.random.key(0))
    keys = jax.random.split(jax.random.key(5), 2)
    hps = train.stack_hparams([architectures.hparams(0.0, 0.0, 2)] * 2)  # learning rate 0: nothing moves
    start = jax.vmap(lambda k: params_lib.init(k, D, M))(jax.random.split(jax.random.key(6), 2))
    config = train.TrainConfig("topk", D, M, steps=5, batch_size=32, k_max=4, decoder_bias=False)
    result = train.train(config, pipeline.toy_activations, toy, hps, keys, start)
    np.testing.assert_allclose(result.params.W_dec, start.W_dec, atol=1e-6)
    np.testing.assert_array_equal(result.params.b_dec, 0.0)
    hps = train.stack_hparams([architectures.hparams(3e-3, 0.0, 2)] * 2)
    result = train.train(config, pipeline.toy_activations, toy, hps, keys, start)
    np.testing.assert_array_equal(result.params.b_dec, 0.0)  # held at 0 while the rest trains
    assert not np.allclose(result.params.W_dec, start.W_dec)


def test_segments_give_the_numbers_of_one_scan():
    # TopK with AuxK: the carry holds the firing counts that decide which latents are dead
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=D, mean_l0=2), jax.random.key(0))
    config = train.TrainConfig("topk", D, M, steps=41, batch_size=32, k_max=4, dead_after_steps=5)
    hp = architectures.hparams(3e-3, 0.0, 3, 1 / 32)
    hps, keys = train.stack_hparams([hp, hp]), jax.random.split(jax.random.key(1), 2)
    one = train.train(config, pipeline.toy_activations, toy, hps, keys, segments=1)
    for segments in (3,):  # uneven lengths 14/14/13: two compiled segment lengths
        many = train.train(config, pipeline.toy_activations, toy, hps, keys, segments=segments)
        for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(many)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_segment_lengths_cover_the_steps():
    for steps, segments in ((10, 3), (7, 10), (1000, 10), (1, 1)):
        lengths = loop.segment_lengths(steps, segments)
        assert sum(lengths) == steps and max(lengths) - min(lengths) <= 1 and len(lengths) == min(steps, segments)


@pytest.mark.parametrize("arch", ["topk", "batchtopk", "jumprelu", "relu"])
def test_bfloat16_compute_keeps_f32_parameters_and_tracks_the_f32_run(arch):
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=D, mean_l0=1.0), jax.random.key(0))
    hps = train.stack_hparams([architectures.hparams(3e-3, 0.01 if arch in ("relu", "jumprelu") else 0.0, 2)])
    keys = jax.random.split(jax.random.key(1), 1)
    runs = {}
    for dtype in train.COMPUTE_DTYPES:
        config = train.TrainConfig(arch, D, M, steps=300, batch_size=128, k_max=2, compute_dtype=dtype)
        runs[dtype] = train.train(config, pipeline.toy_activations, toy, hps, keys)
    low = runs["bfloat16"]
    assert all(leaf.dtype == np.float32 for leaf in jax.tree.leaves(low.params)) and low.loss.dtype == np.float32
    # bf16 keeps ~3 significant digits: the trained losses agree to a few per cent, not exactly
    final = {dtype: float(r.loss[-30:].mean()) for dtype, r in runs.items()}
    assert final["bfloat16"] != final["float32"]
    assert abs(final["bfloat16"] - final["float32"]) < 0.1 * final["float32"] + 1e-3, final


def test_unknown_compute_dtype_is_refused_with_the_allowed_values():
    with pytest.raises(ConfigError, match="precision: got 'float16', allowed values float32, bfloat16"):
        Runtime(precision="float16")


@pytest.mark.parametrize("implementation", ["rbg", "unsafe_rbg"])
def test_other_data_prngs_draw_other_batches_and_train_as_well(implementation):
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=D, mean_l0=1.0), jax.random.key(0))
    seeds = 6
    hps = train.stack_hparams([architectures.hparams(3e-3, 0.0, 2)] * seeds)
    keys = jax.random.split(jax.random.key(1), seeds)
    final = {
        impl: np.asarray(
            train.train(
                train.TrainConfig("topk", D, M, steps=300, batch_size=128, k_max=2, data_prng=impl),
                pipeline.toy_activations,
                toy,
                hps,
                keys,
            )
            .loss[-30:]
            .mean(0)
        )
        for impl in ("threefry", implementation)
    }
    assert not np.array_equal(final["threefry"], final[implementation])  # other random numbers …
    # … the same training: the mean final loss over seeds agrees within 3 standard errors
    a, b = final["threefry"], final[implementation]
    assert abs(a.mean() - b.mean()) < 3 * np.sqrt(a.var(ddof=1) / seeds + b.var(ddof=1) / seeds), final
    with pytest.raises(ConfigError, match="prng: got 'philox', allowed values threefry, rbg, unsafe_rbg"):
        Runtime(prng="philox")


def test_initial_decoder_norm_and_threshold_are_where_the_config_puts_them():
    # SAELens' Standard-SAE recipe starts decoder rows at norm 0.1 and leaves them free;
    # JumpReLU's θ starts at initial_threshold. One tiny step at a tiny rate barely moves them.
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=D, mean_l0=1.0), jax.random.key(0))
    hps = train.stack_hparams([architectures.hparams(1e-6, 0.1, 1)])
    keys = jax.random.split(jax.random.key(1), 1)
    config = train.TrainConfig(
        "jumprelu", D, M, steps=1, batch_size=16, decoder_init_norm=0.1, unit_norm_decoder=False, initial_threshold=0.5
    )
    params = train.train(config, pipeline.toy_activations, toy, hps, keys).params
    np.testing.assert_allclose(np.linalg.norm(params.W_dec[0], axis=-1), 0.1, atol=1e-4)
    np.testing.assert_allclose(params.W_enc[0], params.W_dec[0].T, atol=1e-4)
    np.testing.assert_allclose(np.exp(params.log_threshold[0]), 0.5, rtol=1e-4)
    renormalised = train.train(dataclasses.replace(config, unit_norm_decoder=True), pipeline.toy_activations, toy, hps, keys).params
    np.testing.assert_allclose(np.linalg.norm(renormalised.W_dec[0], axis=-1), 1.0, atol=1e-5)


def test_matching_pursuit_trains_with_free_decoder_norms_as_saelens_and_unit_norms_on_request():
    # SAELens starts MatchingPursuit's decoder rows at norm 1 and never renormalises them; so
    # does toylab by default (Architecture.unit_norm_decoder), and TrainConfig can ask for unit norms.
    toy = sp.build(sp.SuperpositionConfig(n_features=F, d=D, mean_l0=2.0), jax.random.key(0))
    hps = train.stack_hparams([architectures.hparams(3e-2, 0.0, 2)])
    keys = jax.random.split(jax.random.key(1), 1)
    config = train.TrainConfig("matching_pursuit", D, M, steps=40, batch_size=64, k_max=2)
    free = np.linalg.norm(train.train(config, pipeline.toy_activations, toy, hps, keys).params.W_dec[0], axis=-1)
    assert np.max(np.abs(free - 1.0)) > 1e-2  # the norms moved
    unit = train.train(dataclasses.replace(config, unit_norm_decoder=True), pipeline.toy_activations, toy, hps, keys).params.W_dec[0]
    np.testing.assert_allclose(np.linalg.norm(unit, axis=-1), 1.0, atol=1e-5)


def test_matching_pursuit_residual_threshold_stops_early():
    # ρ = ‖r₀‖ + 1 stops every sample after its first step; ρ = 0 runs the k steps.
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(M, D))
    # norms in [0.5, 1.3], not unit (below √2 a step never lengthens the residual)
    W_dec = (rows / np.linalg.norm(rows, axis=1, keepdims=True) * rng.uniform(0.5, 1.3, size=(M, 1))).astype(np.float32)
    params = pipeline.stack([params_lib.init(jax.random.key(0), D, M).replace(W_dec=jnp.asarray(W_dec), b_dec=jnp.zeros(D))])
    x = jnp.asarray(rng.normal(size=(50, D)).astype(np.float32))

    def latents(rho):
        hps = pipeline.stack([architectures.hparams(k=4, residual_threshold=rho)])
        return np.asarray(pipeline.encode("matching_pursuit", params, hps, x))[0]

    assert ((latents(0.0) > 0).sum(1) > 1).mean() > 0.5
    first_only = latents(float(np.linalg.norm(np.asarray(x), axis=1).max()) + 1.0)
    assert ((first_only > 0).sum(1) == 1).all()
