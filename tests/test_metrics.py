"""Metrics: NumPy references, invariances, oracles and bounds (sae/metrics.py, sae/evaluate.py)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sae import architectures, evaluate, metrics
from sae import params as params_lib
from toys import superposition as sp

finite = st.floats(-10, 10, allow_nan=False, allow_subnormal=False, width=32)


@st.composite
def features_and_decoder(draw, max_f=5, max_m=5, max_d=4):
    F = draw(st.integers(1, max_f))
    m = draw(st.integers(1, max_m))
    d = draw(st.integers(1, max_d))
    T = draw(hnp.arrays(np.float32, (F, d), elements=finite))
    D = draw(hnp.arrays(np.float32, (m, d), elements=finite))
    return T, D


def reference_cosines(T, D):
    T = np.asarray(T, np.float64)
    D = np.asarray(D, np.float64)
    t = T / np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-12)
    w = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-12)
    return np.abs(t @ w.T)


def reference_mcc(C):
    """Brute force over all one-to-one matchings (tiny F, m only): an independent oracle."""
    F, m = C.shape
    if F <= m:
        return max(np.mean([C[f, j] for f, j in zip(range(F), perm)]) for perm in itertools.permutations(range(m), F))
    return max(np.mean([C[f, j] for f, j in zip(perm, range(m))]) for perm in itertools.permutations(range(F), m))


@given(features_and_decoder())
def test_decoder_scores_match_numpy_reference(pair):
    T, D = pair
    C = np.asarray(metrics.abs_cosine(T, D))
    C_ref = reference_cosines(T, D)
    np.testing.assert_allclose(C, C_ref, atol=1e-5)
    assert metrics.mmcs(C) == pytest.approx(C_ref.max(axis=1).mean(), abs=1e-5)
    assert metrics.mcc(C) == pytest.approx(reference_mcc(C_ref), abs=1e-5)


@given(features_and_decoder(), st.integers(0, 2**31 - 1))
def test_decoder_scores_invariant_to_latent_order_and_sign(pair, seed):
    T, D = pair
    rng = np.random.default_rng(seed)
    permutation = rng.permutation(len(D))
    signs = rng.choice([-1.0, 1.0], size=(len(D), 1)).astype(np.float32)
    live = rng.random(len(D)) < 0.7
    C = metrics.abs_cosine(T, D)
    C2 = metrics.abs_cosine(T, (D * signs)[permutation])
    assert metrics.mmcs(C2) == pytest.approx(metrics.mmcs(C), abs=1e-6)
    assert metrics.mcc(C2) == pytest.approx(metrics.mcc(C), abs=1e-6)
    assert metrics.uniqueness(C2) == pytest.approx(metrics.uniqueness(C), abs=1e-9)
    assert metrics.uniqueness_live(C2, live[permutation]) == pytest.approx(metrics.uniqueness_live(C, live), abs=1e-9)


@st.composite
def firing_data(draw):
    n = draw(st.integers(1, 12))
    F = draw(st.integers(1, 4))
    m = draw(st.integers(1, 5))
    codes = draw(hnp.arrays(np.float32, (n, F), elements=st.sampled_from([0.0, 0.0, 0.5, 1.0])))
    latents = draw(hnp.arrays(np.float32, (n, m), elements=st.sampled_from([0.0, 0.0, 0.3, 2.0])))
    assignment = draw(hnp.arrays(np.int32, (m,), elements=st.integers(0, F - 1)))
    return latents, codes, assignment


def reference_detection(latents, codes, assignment):
    """The live-latent means (precision_live, recall_live, f1_live)."""
    p, r, f = [], [], []
    for j in range(latents.shape[1]):
        predicted = latents[:, j] > 0
        if not predicted.any():
            continue
        actual = codes[:, assignment[j]] > 0
        tp = np.sum(predicted & actual)
        p.append(tp / predicted.sum())
        r.append(tp / actual.sum() if actual.any() else 0.0)
        f.append(2 * tp / (predicted.sum() + actual.sum()))
    return (np.mean(p), np.mean(r), np.mean(f)) if p else (0.0, 0.0, 0.0)


@given(firing_data())
def test_detection_scores_match_numpy_reference_and_lie_in_unit_interval(data):
    latents, codes, assignment = data
    scores = metrics.detection_scores(metrics.firing_counts(jnp.asarray(latents), jnp.asarray(codes), assignment))
    np.testing.assert_allclose(scores[3:], reference_detection(latents, codes, assignment), atol=1e-9)
    assert all(0.0 <= s <= 1.0 for s in scores)


@given(firing_data(), st.integers(0, 2**31 - 1))
def test_detection_scores_invariant_to_latent_order(data, seed):
    latents, codes, assignment = data
    permutation = np.random.default_rng(seed).permutation(latents.shape[1])
    a = metrics.detection_scores(metrics.firing_counts(latents, codes, assignment))
    b = metrics.detection_scores(metrics.firing_counts(latents[:, permutation], codes, assignment[permutation]))
    np.testing.assert_allclose(a, b, atol=1e-12)


@given(features_and_decoder(max_f=6, max_m=6), st.integers(0, 2**31 - 1))
def test_bounded_scores_lie_in_unit_interval(pair, seed):
    T, D = pair
    C = metrics.abs_cosine(T, D)
    live = np.random.default_rng(seed).random(len(D)) < 0.5
    for value in (metrics.mmcs(C), metrics.mcc(C), metrics.uniqueness(C), metrics.uniqueness_live(C, live)):
        assert -1e-6 <= value <= 1 + 1e-6


def test_uniqueness_below_one_when_latents_duplicate_a_feature():
    T = np.eye(4, dtype=np.float32)
    D = np.stack([T[0], T[0], 2 * T[0], T[1]])  # three latents on feature 0
    C = metrics.abs_cosine(T, D)
    assert metrics.uniqueness(C) == pytest.approx(2 / 4)  # SAELens: every latent counts, dead or alive
    assert metrics.uniqueness_live(C, np.array([True, True, False, False])) == pytest.approx(1 / 2)
    assert metrics.uniqueness_live(C, np.array([True, False, False, True])) == pytest.approx(2 / 2)
    # after one-to-one matching every latent is distinct, which is why uniqueness uses the raw argmax
    assert metrics.uniqueness(metrics.abs_cosine(T, T)) == 1.0


@given(hnp.arrays(np.float32, (6, 3), elements=finite), hnp.arrays(np.float32, (6, 3), elements=finite))
def test_reconstruction_scores_match_numpy_reference(x, x_hat):
    latents = np.abs(x_hat[:, :2])
    codes = np.abs(x[:, :2])
    sums = metrics.reconstruction_sums(jnp.asarray(x), jnp.asarray(x_hat), latents, codes)
    x64, xh64 = x.astype(np.float64), x_hat.astype(np.float64)
    total = np.sum((x64 - x64.mean(0)) ** 2)
    if total > 1e-3:
        expected = 1 - np.sum((x64 - xh64) ** 2) / total
        assert metrics.explained_variance(sums) == pytest.approx(expected, rel=1e-3, abs=1e-3)
    norms = np.linalg.norm(x64, axis=1)
    nonzero = norms > 1e-12
    if nonzero.any():
        expected_shrinkage = np.mean(np.linalg.norm(xh64, axis=1)[nonzero] / norms[nonzero])
        assert metrics.shrinkage(sums) == pytest.approx(expected_shrinkage, rel=1e-4, abs=1e-5)
    assert float(sums.latent_l0) == np.sum(latents > 0)


def test_streamed_evaluation_equals_single_chunk():
    toy = sp.build(sp.SuperpositionConfig(n_features=12, d=6, mean_l0=2), jax.random.key(0))
    params = jax.tree.map(lambda a: a[None], params_lib.init(jax.random.key(1), 6, 10))
    hps = jax.tree.map(lambda a: a[None], architectures.hparams(k=3))
    key = jax.random.key(2)
    chunked = evaluate.evaluate("topk", params, hps, toy, key=key, n_eval=4000, chunk=1000)
    x = jnp.concatenate([sp.sample(toy, jax.random.fold_in(key, i), 1000)[0] for i in range(4)])
    codes = jnp.concatenate([sp.sample(toy, jax.random.fold_in(key, i), 1000)[1] for i in range(4)])
    p0 = jax.tree.map(lambda a: a[0], params)
    f = architectures.get("topk").encode(p0, x, jax.tree.map(lambda a: a[0], hps), 3)
    C = metrics.abs_cosine(toy.directions, p0.W_dec)
    detection = metrics.detection_scores(metrics.firing_counts(f, codes, metrics.best_feature(C)))
    sums = metrics.reconstruction_sums(x, architectures.decode(p0, f), f, codes)
    assert chunked[0]["f1"] == pytest.approx(detection.f1, abs=1e-9)
    assert chunked[0]["explained_variance"] == pytest.approx(metrics.explained_variance(sums), abs=1e-4)
    assert chunked[0]["l0"] == pytest.approx(float(jnp.mean(jnp.sum(f > 0, axis=-1))), abs=1e-6) and chunked[0]["l0"] <= 3


def test_oracle_dictionary_scores_perfectly_on_planted_data():
    # F ≤ d with orthogonalised directions: the oracle encoder ReLU(x Tᵀ − 1e-3) returns the
    # true codes (the tiny threshold removes float round-off that would count as firing).
    config = sp.SuperpositionConfig(n_features=8, d=16, mean_l0=2, orthogonalize_steps=500)
    toy = sp.build(config, jax.random.key(0))
    oracle = params_lib.from_decoder(toy.directions)
    oracle = jax.tree.map(lambda a: a[None], oracle.replace(b_enc=oracle.b_enc - 1e-3))
    hps = jax.tree.map(lambda a: a[None], architectures.hparams())
    (scores,) = evaluate.evaluate("relu", oracle, hps, toy, key=jax.random.key(1), n_eval=20_000)
    assert scores["mmcs"] == pytest.approx(1.0, abs=1e-5)
    assert scores["mcc"] == pytest.approx(1.0, abs=1e-5)
    assert scores["f1"] >= 0.99
    assert scores["explained_variance"] >= 0.99
    assert scores["uniqueness"] == 1.0 and scores["dead_fraction"] == 0.0


def test_oracle_codes_give_perfect_detection_in_superposition():
    toy = sp.build(sp.SuperpositionConfig(n_features=32, d=8, mean_l0=3), jax.random.key(0))
    _, codes = sp.sample(toy, jax.random.key(1), 5000)
    counts = metrics.firing_counts(codes, codes, jnp.arange(32))
    assert metrics.detection_scores(counts).f1 == pytest.approx(1.0)


def _reference_detection(latents, codes, C):
    """Plain NumPy, latent by latent, of the definitions in sae.metrics (SAELens' convention)."""
    m = C.shape[1]
    best = C.argmax(axis=0)
    precision, recall, f1, live = [], [], [], []
    for j in range(m):
        fires = latents[:, j] > 0
        feature = codes[:, best[j]] > 0
        tp = np.sum(fires & feature)
        p = tp / fires.sum() if fires.sum() else 0.0
        r = tp / feature.sum() if feature.sum() else 0.0
        f = 2 * tp / (fires.sum() + feature.sum()) if fires.sum() + feature.sum() else 0.0
        precision.append(p), recall.append(r), f1.append(f), live.append(fires.any())
    live = np.array(live)
    every = {
        "precision": np.mean(precision),
        "recall": np.mean(recall),
        "f1": np.mean(f1),
        "uniqueness": len(set(best.tolist())) / m,
    }  # every latent's best feature, dead ones too
    on_live = {
        f"{k}_live": (np.mean(np.array(v)[live]) if live.any() else 0.0)
        for k, v in (("precision", precision), ("recall", recall), ("f1", f1))
    }
    on_live["uniqueness_live"] = len(set(best[live].tolist())) / live.sum() if live.any() else 0.0
    return every | on_live


@given(st.integers(0, 10_000), st.integers(2, 7), st.floats(0.0, 0.9))
def test_detection_and_uniqueness_match_a_numpy_reference(seed, m, dead_share):
    rng = np.random.default_rng(seed)
    n, F = 40, 5
    codes = np.where(rng.random((n, F)) < 0.3, rng.random((n, F)), 0.0)
    latents = np.where(rng.random((n, m)) < 0.4, rng.random((n, m)), 0.0)
    latents[:, rng.random(m) < dead_share] = 0.0  # some latents dead
    C = np.abs(rng.normal(size=(F, m)))
    counts = metrics.firing_counts(jnp.asarray(latents), jnp.asarray(codes), metrics.best_feature(jnp.asarray(C)))
    got = metrics.detection_scores(counts)._asdict()
    live = latents.max(axis=0) > 0
    got |= {"uniqueness": metrics.uniqueness(C), "uniqueness_live": metrics.uniqueness_live(C, live)}
    expected = _reference_detection(latents, codes, C)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name
    # the all-latent means are the live means scaled by #live / m
    assert got["f1"] == pytest.approx(got["f1_live"] * live.sum() / m, abs=1e-9)


def test_stored_arrays_score_like_the_toy_that_drew_them():
    toy = sp.build(sp.SuperpositionConfig(n_features=12, d=6, mean_l0=2), jax.random.key(0))
    params = jax.tree.map(lambda a: a[None], params_lib.init(jax.random.key(1), 6, 10))
    hps = jax.tree.map(lambda a: a[None], architectures.hparams(k=3))
    key = jax.random.key(2)
    from_toy = evaluate.evaluate("topk", params, hps, toy, key=key, n_eval=3000, chunk=1000)[0]
    batches = [toy.sample(jax.random.fold_in(key, i), 1000) for i in range(3)]
    x = jnp.concatenate([b.x for b in batches])
    codes = jnp.concatenate([b.codes for b in batches])
    # 3000 rows in chunks of 700: four whole chunks and a tail of 200
    stored = evaluate.evaluate("topk", params, hps, (x, codes), true_features=toy.features, chunk=700)[0]
    for name, value in from_toy.items():
        assert stored[name] == pytest.approx(value, abs=1e-5), name
    without_codes = evaluate.evaluate("topk", params, hps, (x,), chunk=700)[0]
    assert "f1" not in without_codes and without_codes["l0"] == pytest.approx(from_toy["l0"], abs=1e-6)
