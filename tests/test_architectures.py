"""Property tests for every SAE architecture (sae/architectures.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sae import architectures as A
from sae import params as params_lib
from sae import pipeline, train
from toys import superposition as sp

D, M, B = 6, 16, 12


def _params(seed=0, b_enc=0.0):
    p = params_lib.init(jax.random.key(seed), D, M)
    return p.replace(b_enc=p.b_enc + b_enc)


def _x(seed=1, n=B):
    return jax.random.normal(jax.random.key(seed), (n, D))


@pytest.mark.parametrize("name", sorted(A.ARCHITECTURES))
def test_encode_decode_shapes_and_finite_loss_and_gradients(name):
    arch = A.get(name)
    p, x, hp = _params(), _x(), A.hparams(k=3, l1_coefficient=0.1, aux_coefficient=0.5)
    f = arch.encode(p, x, hp, 4)
    assert f.shape == (B, M) and A.decode(p, f).shape == (B, D) and arch.reconstruct(p, x, f).shape == (B, D)
    assert bool(jnp.all(f >= 0))
    dead = jnp.arange(M) % 2 == 0
    (loss, aux), grads = jax.value_and_grad(arch.loss, has_aux=True)(p, x, hp, 4, dead)
    assert np.isfinite(float(loss)) and aux.fired.shape == (M,)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    assert float(jnp.abs(grads.W_dec).sum()) > 0


@given(st.integers(1, 6), st.integers(0, 1000))
def test_topk_keeps_at_most_k_latents_per_row(k, seed):
    f = A.get("topk").encode(_params(seed), _x(seed + 1), A.hparams(k=k), 6)
    assert int(jnp.max(jnp.sum(f > 0, axis=-1))) <= k


@given(st.integers(1, 6), st.integers(0, 1000))
def test_batchtopk_mean_l0_over_a_batch_equals_k(k, seed):
    # a large encoder bias makes every pre-activation positive, so k·b entries are kept
    p = _params(seed, b_enc=10.0)
    f = A.batch_top_k(jax.nn.relu(A.pre_activation(p, _x(seed + 1))), jnp.int32(k), 6)
    assert float(jnp.mean(jnp.sum(f > 0, axis=-1))) == pytest.approx(k)
    _, aux = A.get("batchtopk").loss(p, _x(seed + 1), A.hparams(k=k), 6, None)
    assert float(aux.l0) == pytest.approx(k)


def test_jumprelu_threshold_gradient_is_finite_and_nonzero_near_the_threshold():
    p = _params()
    theta = float(jnp.exp(p.log_threshold[0]))
    x = _x()
    a = A.pre_activation(p, x / A.sample_scale(x))  # JumpReLU sees per-sample scaled inputs
    # shift latent 0's bias so that sample 0 sits just above its threshold (inside the kernel)
    p = p.replace(b_enc=p.b_enc.at[0].add(theta + 0.01 - a[0, 0]))
    hp = A.hparams(l1_coefficient=1.0, bandwidth=0.05)
    grad = jax.grad(lambda q: A.get("jumprelu").loss(q, x, hp, 1, None)[0])(p).log_threshold
    assert np.all(np.isfinite(grad)) and float(grad[0]) != 0.0
    far = p.replace(b_enc=p.b_enc.at[0].add(-100.0))  # every sample far below θ: no kernel mass
    grad_far = jax.grad(lambda q: A.get("jumprelu").loss(q, x, hp, 1, None)[0])(far).log_threshold
    assert float(grad_far[0]) == 0.0


def test_matryoshka_loss_equals_the_sum_of_its_prefix_losses():
    p, x, hp = _params(b_enc=0.2), _x(), A.hparams(k=3)
    loss, _ = A.get("matryoshka").loss(p, x, hp, 4, None)
    x = x / A.sample_scale(x)  # Matryoshka works on per-sample normalised inputs
    f = np.asarray(A.batch_top_k(jax.nn.relu(A.pre_activation(p, x)), jnp.int32(3), 4), np.float64)
    W, b, xn = np.asarray(p.W_dec, np.float64), np.asarray(p.b_dec, np.float64), np.asarray(x, np.float64)
    expected = sum(np.mean(np.sum((xn - (f[:, :q] @ W[:q] + b)) ** 2, axis=1)) for q in (2, 4, 8, 16))
    assert A.matryoshka_prefixes(M) == (2, 4, 8, 16)
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_matryoshka_l1_loss_is_prefix_losses_plus_the_l1_penalty():
    p, x, hp = _params(b_enc=0.2), _x(), A.hparams(l1_coefficient=0.3)
    loss, _ = A.get("matryoshka_l1").loss(p, x, hp, 1, None)
    f = np.asarray(jax.nn.relu(A.pre_activation(p, x)), np.float64)  # no per-sample scaling here
    W, b, xn = np.asarray(p.W_dec, np.float64), np.asarray(p.b_dec, np.float64), np.asarray(x, np.float64)
    prefixes = sum(np.mean(np.sum((xn - (f[:, :q] @ W[:q] + b)) ** 2, axis=1)) for q in (2, 4, 8, 16))
    penalty = 0.3 * np.mean(f @ np.linalg.norm(W, axis=1))
    assert float(loss) == pytest.approx(prefixes + penalty, rel=1e-5)


def test_auxk_only_adds_when_latents_are_dead_and_alpha_positive():
    p, x = _params(), _x()
    topk = A.get("topk")
    none_dead = jnp.zeros(M, bool)
    all_dead = jnp.ones(M, bool)
    base, _ = topk.loss(p, x, A.hparams(k=2), 4, None)
    assert float(topk.loss(p, x, A.hparams(k=2, aux_coefficient=1.0), 4, none_dead)[0]) == pytest.approx(float(base))
    with_aux = topk.loss(p, x, A.hparams(k=2, aux_coefficient=1.0), 4, all_dead)[0]
    assert float(with_aux) != float(base)


@pytest.mark.parametrize("sparse", [False, True])
def test_batchtopk_threshold_tracks_the_smallest_kept_activation(sparse):
    # computed here from the definition, not from the code's batch_threshold: the k·b largest of the
    # batch's ReLU pre-activations (inputs scaled to norm √d), and the smallest positive among them
    p, x, k = _params(b_enc=0.5), _x(), 2
    arch = A.get("batchtopk")
    _, aux = arch.loss(p, x, A.hparams(k=k), 4, None, sparse=sparse)
    xn = np.asarray(x, np.float64) / (np.linalg.norm(np.asarray(x, np.float64), axis=1, keepdims=True) / np.sqrt(D))
    pre = (xn - np.asarray(p.b_dec)) @ np.asarray(p.W_enc, np.float64) + np.asarray(p.b_enc)
    kept = np.sort(np.maximum(pre, 0).ravel())[::-1][: k * B]
    smallest = kept[kept > 0].min()
    assert float(aux.batch_threshold) == pytest.approx(smallest, rel=1e-4)
    updated = arch.after_step(p, aux)
    theta_before, theta_after = float(jnp.exp(p.log_threshold[0])), float(jnp.exp(updated.log_threshold[0]))
    assert theta_after == pytest.approx(theta_before + A.THRESHOLD_EMA * (smallest - theta_before), rel=1e-4)


@pytest.mark.parametrize("name", ["batchtopk", "matryoshka", "jumprelu", "gated"])
def test_each_new_architecture_trains_on_a_small_toy(name):
    toy = sp.build(sp.SuperpositionConfig(n_features=12, d=D, mean_l0=1.0), jax.random.key(0))
    config = train.TrainConfig(name, D, M, steps=400, batch_size=128, k_max=2)
    hps = train.stack_hparams([A.hparams(3e-3, 0.05 if name in ("jumprelu", "gated") else 0.0, 2)])
    result = train.train(config, pipeline.toy_activations, toy, hps, jax.random.split(jax.random.key(1), 1))
    assert float(result.mse[-50:].mean()) < 0.5 * float(result.mse[:5].mean())


def _matching_pursuit_reference(x, W, b, k):
    """SAELens' `_encode_matching_pursuit` loop in NumPy (max_iterations = k, residual_threshold = 0,
    stop_on_duplicate_support = True)."""
    r = x - b
    acts = np.zeros((len(x), len(W)))
    previous = acts != 0
    done = np.zeros(len(x), bool)
    for _ in range(k):
        index = np.argmax(np.maximum(r @ W.T, 0), axis=1)
        value = np.maximum(np.sum(r * W[index], axis=1), 0) * ~done
        acts[np.arange(len(x)), index] += value
        r = r - value[:, None] * W[index]
        support = acts != 0
        done |= (support == previous).all(axis=1)
        previous = support
    return acts


@given(st.integers(1, 6), st.integers(2, 12), st.integers(0, 1000))
def test_matching_pursuit_is_saelens_loop(k, d, seed):
    from sae.params import init

    rng = np.random.default_rng(seed)
    W = rng.standard_normal((20, d))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    p = init(jax.random.key(seed), d, 20).replace(
        W_dec=jnp.asarray(W, jnp.float32), b_dec=jnp.asarray(0.1 * rng.standard_normal(d), jnp.float32)
    )
    x = rng.standard_normal((30, d)).astype(np.float32)
    f = np.asarray(A.get("matching_pursuit").encode(p, jnp.asarray(x), A.hparams(k=k), 6))
    expected = _matching_pursuit_reference(x, np.asarray(p.W_dec, np.float64), np.asarray(p.b_dec, np.float64), k)
    np.testing.assert_allclose(f, expected, atol=1e-4)
    assert np.all((f > 0).sum(axis=1) <= k)


@given(st.integers(1, 4), st.integers(0, 1000))
def test_matching_pursuit_recovers_nonnegative_codes_on_an_orthonormal_dictionary(k, seed):
    # on orthonormal atoms each step removes one active atom exactly: k steps recover a k-sparse code
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((D, D)))
    from sae.params import init

    p = init(jax.random.key(seed), D, D).replace(W_dec=jnp.asarray(q.T, jnp.float32), b_dec=jnp.zeros(D))
    codes = np.zeros((16, D))
    for row in codes:
        row[rng.choice(D, k, replace=False)] = rng.uniform(0.5, 2.0, k)
    x = codes @ q.T
    f = np.asarray(A.get("matching_pursuit").encode(p, jnp.asarray(x, jnp.float32), A.hparams(k=k), 4))
    np.testing.assert_allclose(f, codes, atol=1e-4)
    # negative control: with one step fewer, one active atom is always missed
    if k > 1:
        short = np.asarray(A.get("matching_pursuit").encode(p, jnp.asarray(x, jnp.float32), A.hparams(k=k - 1), 4))
        assert np.all((short > 0).sum(axis=1) == k - 1)


@settings(max_examples=6)  # each example compiles two value-and-gradient programs
@given(
    st.sampled_from(["batchtopk", "matryoshka"]),
    st.integers(2, 40),
    st.integers(2, 12),
    st.integers(1, 24),
    st.integers(1, 5),
    st.integers(0, 1000),
    st.booleans(),
)
def test_sparse_decode_gives_the_dense_loss_and_gradient(arch, m, d, b, k_max, seed, with_dead):
    # BatchTopK-family training decodes from the k·b selected rows (sae.architectures.decode_selected) when
    # few latents are active; it must mean the same as the dense decode: loss, aux and every gradient.
    k_max = min(k_max, m)
    keys = jax.random.split(jax.random.key(seed), 3)
    p = params_lib.init(keys[0], d, m, None, 1.0)
    p = p.replace(b_enc=0.1 * jax.random.normal(keys[1], (m,)))
    x = jax.random.normal(keys[2], (b, d))
    hp = A.hparams(k=max(1, k_max - 1), aux_coefficient=0.1)
    dead = (jnp.arange(m) % 3 == 0) if with_dead else None
    loss = A.get(arch).loss

    def value(sparse):
        return jax.value_and_grad(lambda q: loss(q, x, hp, k_max, dead, sparse=sparse), has_aux=True)(p)

    (dense_loss, dense_aux), dense_grad = value(False)
    (sparse_loss, sparse_aux), sparse_grad = value(True)
    assert float(sparse_loss) == pytest.approx(float(dense_loss), rel=1e-5, abs=1e-6)
    assert float(sparse_aux.l0) == pytest.approx(float(dense_aux.l0))
    assert np.array_equal(np.asarray(sparse_aux.fired), np.asarray(dense_aux.fired))
    assert float(sparse_aux.batch_threshold) == pytest.approx(float(dense_aux.batch_threshold), rel=1e-5, abs=1e-7)
    for a, c in zip(jax.tree.leaves(sparse_grad), jax.tree.leaves(dense_grad)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=1e-4, atol=1e-5)


@settings(max_examples=10)
@given(st.integers(1, 64), st.integers(1, 300), st.integers(1, 6), st.integers(0, 1000))
def test_batch_selection_is_lax_top_k_on_the_flattened_batch_ties_included(b, m, k_max, seed):
    # values drawn from a few levels, so ties are everywhere; the two-level selection must pick what
    # lax.top_k picks (the lower flat index among ties)
    k_max = min(k_max, m)
    values = jax.random.randint(jax.random.key(seed), (b, m), 0, 4).astype(jnp.float32)
    kept, index = A.batch_top_k_entries(values, jnp.int32(k_max), k_max)
    want_values, want_index = jax.lax.top_k(values.reshape(-1), k_max * b)
    assert np.array_equal(np.asarray(index), np.asarray(want_index))
    assert np.array_equal(np.asarray(kept), np.asarray(want_values))


@settings(max_examples=15)
@given(b=st.integers(1, 9), i=st.integers(1, 12), o=st.integers(1, 12), runs=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_weights_product_has_the_gradient_of_a_plain_matmul(b, i, o, runs, seed):
    # The custom VJP only fixes the gradient's layout; its values are autodiff's of x @ W
    # (vmapped over runs, as the trainer calls it).
    keys = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(keys[0], (runs, b, i))
    w = jax.random.normal(keys[1], (runs, i, o))
    target = jax.random.normal(keys[2], (runs, b, o))

    def gradients(product):
        loss = lambda x, w, t: jnp.sum(jnp.sin(product(x, w)) * t)  # noqa: E731
        return jax.vmap(jax.grad(loss, argnums=(0, 1)))(x, w, target)

    for got, expected in zip(gradients(A.weights_product), gradients(lambda x, w: x @ w)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-5, atol=1e-5)


@settings(max_examples=15)
@given(b=st.integers(1, 9), i=st.integers(1, 12), o=st.integers(1, 12), runs=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_centred_product_has_the_gradient_of_a_plain_matmul(b, i, o, runs, seed):
    # x's, the centre's and the weights' gradients all equal autodiff's of (x − c) @ W.
    keys = jax.random.split(jax.random.key(seed), 4)
    x = jax.random.normal(keys[0], (runs, b, i))
    centre = jax.random.normal(keys[1], (runs, i))
    w = jax.random.normal(keys[2], (runs, i, o))
    target = jax.random.normal(keys[3], (runs, b, o))

    def gradients(product):
        loss = lambda x, c, w, t: jnp.sum(jnp.sin(product(x, c, w)) * t)  # noqa: E731
        return jax.vmap(jax.grad(loss, argnums=(0, 1, 2)))(x, centre, w, target)

    for got, expected in zip(gradients(A.centred_product), gradients(lambda x, c, w: (x - c) @ w)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-4, atol=1e-4)
