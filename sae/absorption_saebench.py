"""Absorption as SAEBench measures it: the full-absorption rate and the mean absorption fraction.

Read from SAEBench's source (release 0.6.0, `sae_bench/evals/absorption`: `probing.py`,
`k_sparse_probing.py`, `feature_absorption.py`, `feature_absorption_calculator.py`, `main.py`
and the defaults of `eval_config.py`; Chanin et al. 2024, "A is for absorption"). SAEBench asks
it of a language model's first-letter concepts; here a *concept* is a planted parent feature
and its label is "the parent fires" (the truth: this is a grader). Axes: n samples, d input
dims, m latents, P concepts.

Per dictionary, with a train split and a test split of the same distribution:

1. **Probe.** P one-vs-rest logistic probes on x, trained at once (`train_probes`, SAEBench's
   `train_multi_probe`: binary cross-entropy with logits, positives weighted by #neg/#pos,
   Adam at 10⁻² decayed exponentially per epoch to 10⁻⁵, weight decay 10⁻⁴, batch 4,096,
   50 epochs). w_p = the probe's weight row, normalised. A concept whose probe has F1 ≤ 0.6
   on the test split is not scored (`MIN_PROBE_F1`, SAEBench's `min_GT_probe_f1`).
2. **Split set.** An L1 probe on the codes (the same trainer with 0.01·mean_p ‖W_p‖₁ added,
   weight decay 10⁻⁶) ranks the latents; for k = 1…10 its k largest (signed) weights give a
   k-sparse probe (scikit-learn's balanced logistic regression, 500 iterations) whose F1 on
   the test split at score > 0 is read. The split set S_p is the top-k of the last k whose
   F1 beat the best so far by more than 0.03 (`split_set`).
3. **Samples scored:** the probe's true positives, test samples where p fires and the probe's
   logit is > 0.
4. **Full absorption** on a sample (`full_absorption`): every latent of S_p has a_j < 10⁻⁸; the
   latent with the largest probe projection a_j·cos(w_p, D_j) has cos ≥ 0.025; x·w_p ≥ 0; and
   that latent's projection is ≥ 0.4·x·w_p.
5. **Absorption fraction** on a sample (`absorption_fraction`): with M = Σ_{j∈S_p} a_j cos_j,
   A = the sum of the (at most 3) largest positive projections of latents outside S_p with
   cos ≥ 0.1, and X = x·w_p: 0 if M ≥ X or A < 0.4·X; else 1 if M ≤ 0; else
   min(A, X − M) / (min(A, X − M) + M), clipped to [0, 1].
6. Per concept, `full_absorption_rate` = #full absorption / #probe true positives and
   `mean_absorption_fraction` = Σ fraction / #probe true positives; each averaged over the
   scored concepts.

Ours, under our own names (the toy knows when absorption has a reason): the same two rates
over the probe true positives on which a child of p fires (`with_child`) and on which none
does (`baseline`: no child to absorb p, so what the calculator counts there is p missed,
not absorbed), and `excess` = with_child − baseline.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from sae.metrics import codes_on_at

# SAEBench's defaults (eval_config.py, probing.py, k_sparse_probing.py, feature_absorption_calculator.py)
PROBE_EPOCHS = 50
PROBE_LEARNING_RATE = 1e-2
PROBE_END_LEARNING_RATE = 1e-5
PROBE_WEIGHT_DECAY = 1e-4
SPARSE_PROBE_WEIGHT_DECAY = 1e-6
SPARSE_PROBE_L1 = 0.01
PROBE_BATCH = 4096
MAX_K = 10
F1_JUMP = 0.03
MIN_PROBE_F1 = 0.6
SILENT = 1e-8
FULL_ABSORPTION_COSINE = 0.025
FRACTION_COSINE = 0.1
PROJECTION_SHARE = 0.4
MAX_ABSORBERS = 3
MAX_CONCEPTS = 26  # SAEBench scores the 26 first letters; a toy's most frequent parents, at most this many


def train_probes(
    x,
    labels,
    key: jax.Array,
    *,
    weight_decay: float = PROBE_WEIGHT_DECAY,
    l1: float = 0.0,
    epochs: int = PROBE_EPOCHS,
    batch_size: int = PROBE_BATCH,
) -> tuple[np.ndarray, np.ndarray]:
    """(W [P, d], b [P]): P one-vs-rest logistic probes on x [n, d] for labels [n, P] (bool), trained
    at once as SAEBench's `train_multi_probe` trains them (module docstring), l1 · mean_p ‖W_p‖₁ added.

    torch's `nn.Linear` initialisation (uniform ±1/√d), Adam with the weight decay added to the
    gradient (torch's `Adam(weight_decay=…)`), the learning rate stepped once per epoch, the
    samples shuffled each epoch and the last batch kept short (masked)."""
    weights, bias = _train_probes(
        jnp.asarray(x, jnp.float32), jnp.asarray(labels, jnp.float32), key, jnp.float32(weight_decay), jnp.float32(l1), epochs, batch_size
    )
    return np.asarray(weights), np.asarray(bias)


@functools.partial(jax.jit, static_argnums=(5, 6))
def _train_probes(
    x: jax.Array, y: jax.Array, key: jax.Array, weight_decay: jax.Array, l1: jax.Array, epochs: int, batch_size: int
) -> tuple[jax.Array, jax.Array]:
    n, d = x.shape
    n_probes = y.shape[1]
    positives = y.sum(0)
    positive_weight = (n - positives) / jnp.maximum(positives, 1.0)
    batches = math.ceil(n / batch_size)
    decay = math.exp(math.log(PROBE_END_LEARNING_RATE / PROBE_LEARNING_RATE) / epochs)
    schedule = optax.exponential_decay(PROBE_LEARNING_RATE, transition_steps=batches, decay_rate=decay, staircase=True)
    optimiser = optax.chain(optax.add_decayed_weights(weight_decay), optax.scale_by_adam(), optax.scale_by_learning_rate(schedule))
    key_init, key_bias, key_order = jax.random.split(key, 3)
    bound = 1.0 / math.sqrt(d)
    params = (
        jax.random.uniform(key_init, (n_probes, d), minval=-bound, maxval=bound),
        jax.random.uniform(key_bias, (n_probes,), minval=-bound, maxval=bound),
    )

    def loss(params, rows, valid):
        weights, bias = params
        logits = x[rows] @ weights.T + bias
        target = y[rows]
        # BCEWithLogits(pos_weight): −[w·y·log σ(z) + (1 − y)·log σ(−z)], mean over valid samples × probes
        per = -(positive_weight * target * jax.nn.log_sigmoid(logits) + (1 - target) * jax.nn.log_sigmoid(-logits))
        data = jnp.sum(per * valid[:, None]) / (jnp.sum(valid) * n_probes)
        return data + l1 * jnp.mean(jnp.sum(jnp.abs(weights), axis=1))

    def step(carry, batch):
        params, state = carry
        rows, valid = batch
        updates, state = optimiser.update(jax.grad(loss)(params, rows, valid), state, params)
        return (optax.apply_updates(params, updates), state), None

    def epoch(carry, key):
        padding = batches * batch_size - n
        order = jnp.concatenate([jax.random.permutation(key, n), jnp.zeros(padding, jnp.int32)])
        valid = (jnp.arange(batches * batch_size) < n).astype(jnp.float32)
        carry, _ = jax.lax.scan(step, carry, (order.reshape(batches, batch_size), valid.reshape(batches, batch_size)))
        return carry, None

    (params, _), _ = jax.lax.scan(epoch, (params, optimiser.init(params)), jax.random.split(key_order, epochs))
    return params


def f1(predicted: np.ndarray, label: np.ndarray) -> float:
    """F1 of boolean predictions (0 with no true or predicted positive, as scikit-learn reports it)."""
    true_positives = float(np.sum(predicted & label))
    denominator = float(np.sum(predicted) + np.sum(label))
    return 2 * true_positives / denominator if denominator else 0.0


def split_set(f1_by_k: list[float], latents_by_k: list[np.ndarray], jump: float = F1_JUMP) -> np.ndarray:
    """S_p: the latents of the last k whose F1 beat the best so far by more than `jump` (SAEBench's
    `add_feature_splits_to_metrics_df`: k = 1 always qualifies; the first k that does not ends the search)."""
    best, chosen = -100.0, np.zeros(0, int)
    for score, latents in zip(f1_by_k, latents_by_k):
        if score > best + jump:
            best, chosen = score, np.asarray(latents)
        else:
            break
    return chosen


class KSparseProbe(NamedTuple):
    latents: np.ndarray  # [k] latent indices
    weight: np.ndarray  # [k]
    bias: float
    f1: float  # on the test split


def k_sparse_probes(l1_weights: np.ndarray, codes_train, label_train, codes_test, label_test, max_k: int = MAX_K) -> list[KSparseProbe]:
    """For k = 1…max_k: the k latents with the largest L1-probe weights (signed: only latents that predict
    the concept), a balanced logistic regression on them, its F1 on the test split (score > 0)."""
    from sklearn.linear_model import LogisticRegression

    order = np.argsort(-l1_weights, kind="stable")
    probes = []
    for k in range(1, min(max_k, len(order)) + 1):
        latents = order[:k]
        if len(np.unique(label_train)) < 2:
            probes.append(KSparseProbe(latents, np.zeros(k), 0.0, 0.0))
            continue
        fitted = LogisticRegression(max_iter=500, class_weight="balanced").fit(codes_train[:, latents], label_train)
        score = codes_test[:, latents] @ fitted.coef_[0] + fitted.intercept_[0]
        probes.append(KSparseProbe(latents, fitted.coef_[0], float(fitted.intercept_[0]), f1(score > 0, label_test)))
    return probes


def probe_cosines(direction: np.ndarray, decoder: np.ndarray) -> np.ndarray:
    """cos(w, D_j) [m] for a direction [d] and decoder rows [m, d] (torch's cosine_similarity, eps 1e-8)."""
    norms = np.maximum(np.linalg.norm(decoder, axis=1) * np.linalg.norm(direction), 1e-8)
    return decoder @ direction / norms


def full_absorption(codes: np.ndarray, cosines: np.ndarray, projection: np.ndarray, split: np.ndarray) -> np.ndarray:
    """[n] bool: SAEBench's `_is_full_absorption` for codes [n, m], cos(w, D_j) [m], x·w [n] and S_p."""
    latent_projection = codes * cosines[None, :]
    top = np.argmax(latent_projection, axis=1)
    silent = np.all(codes[:, split] < SILENT, axis=1) if len(split) else np.ones(len(codes), bool)
    top_projection = latent_projection[np.arange(len(codes)), top]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = top_projection / projection
    return silent & (cosines[top] >= FULL_ABSORPTION_COSINE) & (projection >= 0) & (share >= PROJECTION_SHARE)


def absorption_fraction(codes: np.ndarray, cosines: np.ndarray, projection: np.ndarray, split: np.ndarray) -> np.ndarray:
    """[n] in [0, 1]: SAEBench's absorption fraction (module docstring, step 5)."""
    latent_projection = codes * cosines[None, :]
    main = latent_projection[:, split].sum(axis=1)
    outside = np.ones(codes.shape[1], bool)
    outside[split] = False
    candidate = outside[None, :] & (cosines >= FRACTION_COSINE)[None, :] & (latent_projection > 0)
    ranked = -np.sort(-np.where(candidate, latent_projection, 0.0), axis=1)[:, :MAX_ABSORBERS]
    absorbers = ranked.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = absorbers / projection
        absorbed = np.minimum(absorbers, projection - main)
        partial = np.clip(absorbed / (absorbed + main), 0.0, 1.0)
    none = (main >= projection) | (share < PROJECTION_SHARE)
    return np.where(none, 0.0, np.where(main <= 0.0, 1.0, partial))


class ConceptAbsorption(NamedTuple):
    """One concept's reading; counts over its probe true positives (all / with a child / without)."""

    concept: int
    probe_f1: float
    split: list[int]
    true_positives: int
    full: int
    fraction_sum: float
    with_child: int
    full_with_child: int
    fraction_with_child: float
    full_without_child: int
    fraction_without_child: float


def concepts(labels: np.ndarray, max_concepts: int = MAX_CONCEPTS) -> np.ndarray:
    """The columns of labels [n, P] scored: the most frequent (ties by index), at most max_concepts, in order."""
    frequency = np.asarray(labels).sum(axis=0)
    return np.sort(np.argsort(-frequency, kind="stable")[:max_concepts])


def hierarchy_labels(codes, parents: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(label [n, P], child [n, P]) for the features `chosen` [P] of a planted hierarchy (parents [F], −1 for
    roots) on true codes [n, F] (dense, or sparse as `sae.metrics.codes_on_at` reads them): whether each
    chosen feature fires, and whether at least one of its children fires."""
    parents = np.asarray(parents)
    children = np.flatnonzero(np.isin(parents, chosen))
    label = np.asarray(codes_on_at(codes, jnp.asarray(chosen)), bool)
    if not len(children):
        return label, np.zeros_like(label)
    on_children = np.asarray(codes_on_at(codes, jnp.asarray(children)), np.float32)
    membership = (parents[children][:, None] == np.asarray(chosen)[None, :]).astype(np.float32)
    return label, (on_children @ membership) > 0  # float: a BLAS product (NumPy multiplies integers in a loop)


class Prepared(NamedTuple):
    """What every dictionary of one toy is read against: the two splits, the labels and the probe."""

    x_train: np.ndarray  # [n, d]
    x_test: np.ndarray  # [n, d]
    label_train: np.ndarray  # [n, P] the concept fires
    label_test: np.ndarray  # [n, P]
    child_test: np.ndarray  # [n, P] a child of the concept fires
    concepts: np.ndarray  # [P] the concepts' feature indices
    probe: tuple[np.ndarray, np.ndarray]  # (W [P, d], b [P])


# Per split. SAEBench's trainer takes 50 epochs of ⌈n / 4,096⌉ steps; with 16,384 samples (200 steps) its
# probe stops short on these toys' activations (norm ≈ 2; trees --quick: F1 0.47–0.64 against 0.82–0.93
# for a converged logistic regression, so 3 of 26 concepts pass F1 > 0.6); at 65,536 (800 steps), 0.75–0.86.
SAMPLES = 65_536
MIN_SAMPLES = 1_000  # fewer leave the probes nothing to learn from


def check_samples(field: str, n: int) -> None:
    """Refuse a sample count that is neither 0 (not read) nor at least MIN_SAMPLES, naming the field."""
    if 0 < n < MIN_SAMPLES:
        from toys.engine.config import ConfigError

        raise ConfigError(f"{field}: got {n}, allowed: 0 (not read), or [{MIN_SAMPLES}, inf)")


def prepare(toy, parents, key: jax.Array, n: int = SAMPLES) -> Prepared | None:
    """Draw a train and a test split from a toy with a planted hierarchy, choose the concepts (its most
    frequent parents on the train split, at most MAX_CONCEPTS) and train their probe on x (None: no parent)."""
    parents = np.asarray(parents)
    if not np.any(parents >= 0):
        return None
    key_train, key_test, key_probe = jax.random.split(key, 3)
    train, test = toy.sample(key_train, n), toy.sample(key_test, n)
    candidates = np.unique(parents[parents >= 0])
    on_train = np.asarray(codes_on_at(train.codes, jnp.asarray(candidates)), bool)
    chosen = candidates[concepts(on_train)]
    label_train = on_train[:, np.searchsorted(candidates, chosen)]
    label_test, child_test = hierarchy_labels(test.codes, parents, chosen)
    x_train, x_test = np.asarray(train.x, np.float32), np.asarray(test.x, np.float32)
    return Prepared(x_train, x_test, label_train, label_test, child_test, chosen, train_probes(x_train, label_train, key_probe))


def read(prepared: Prepared, codes_train, codes_test, decoder, key: jax.Array) -> list[ConceptAbsorption]:
    """SAEBench's absorption per concept for one dictionary: its codes [n, m] on both splits, decoder [m, d]."""
    codes_train, codes_test = np.asarray(codes_train, np.float32), np.asarray(codes_test, np.float32)
    decoder = np.asarray(decoder, np.float32)
    weights, bias = prepared.probe
    label_train, label_test = prepared.label_train, prepared.label_test
    l1_weights, _ = train_probes(codes_train, label_train, key, weight_decay=SPARSE_PROBE_WEIGHT_DECAY, l1=SPARSE_PROBE_L1)
    logits = prepared.x_test @ weights.T + bias
    readings = []
    for p in range(label_train.shape[1]):
        probe_f1 = f1(logits[:, p] > 0, label_test[:, p])
        probes = k_sparse_probes(l1_weights[p], codes_train, label_train[:, p], codes_test, label_test[:, p])
        split = split_set([q.f1 for q in probes], [q.latents for q in probes])
        rows = label_test[:, p] & (logits[:, p] > 0)
        direction = weights[p] / max(float(np.linalg.norm(weights[p])), 1e-12)
        cosines = probe_cosines(direction, decoder)
        codes = codes_test[rows]
        projection = prepared.x_test[rows] @ direction
        full = full_absorption(codes, cosines, projection, split)
        fraction = absorption_fraction(codes, cosines, projection, split)
        child = prepared.child_test[rows, p]
        readings.append(
            ConceptAbsorption(
                int(prepared.concepts[p]),
                probe_f1,
                [int(j) for j in split],
                int(rows.sum()),
                int(full.sum()),
                float(fraction.sum()),
                int(child.sum()),
                int(full[child].sum()),
                float(fraction[child].sum()),
                int(full[~child].sum()),
                float(fraction[~child].sum()),
            )
        )
    return readings


def score(prepared: Prepared, encode, decoders, key: jax.Array) -> list[dict]:
    """`summary` for each of G dictionaries: encode(g, x [n, d]) → dictionary g's codes [n, m]; decoders
    [G, m, d]. One dictionary's codes at a time (at 65,536 samples and m = 4,096 a split is 1 GB)."""
    keys = jax.random.split(key, len(decoders))
    return [
        summary(read(prepared, np.asarray(encode(g, prepared.x_train)), np.asarray(encode(g, prepared.x_test)), decoders[g], keys[g]))
        for g in range(len(decoders))
    ]


def stacked_encoder(encode_grid, params, hps):
    """encode(g, x) for dictionary g of a stacked grid, from encode_grid(params, hps, x) → [G, n, m]."""

    def encode(g: int, x):
        return encode_grid(jax.tree.map(lambda leaf: leaf[g : g + 1], params), jax.tree.map(lambda leaf: leaf[g : g + 1], hps), x)[0]

    return encode


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def summary(readings: list[ConceptAbsorption], min_probe_f1: float = MIN_PROBE_F1) -> dict:
    """Means over the scored concepts (probe F1 > min_probe_f1, at least one true positive):
    SAEBench's two rates, and ours with a child, without (the baseline) and the excess."""
    scored = [r for r in readings if r.probe_f1 > min_probe_f1 and r.true_positives > 0]

    def mean(values):
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    with_child = [_ratio(r.full_with_child, r.with_child) for r in scored]
    without = [_ratio(r.full_without_child, r.true_positives - r.with_child) for r in scored]
    excess = [None if a is None or b is None else a - b for a, b in zip(with_child, without)]
    return {
        "concepts": len(readings),
        "scored_concepts": len(scored),
        "full_absorption_rate": mean([r.full / r.true_positives for r in scored]),
        "mean_absorption_fraction": mean([r.fraction_sum / r.true_positives for r in scored]),
        "mean_split_latents": mean([len(r.split) for r in scored]),
        "full_absorption_with_child": mean(with_child),
        "full_absorption_baseline": mean(without),
        "full_absorption_excess": mean(excess),
        "fraction_with_child": mean([_ratio(r.fraction_with_child, r.with_child) for r in scored]),
        "fraction_baseline": mean([_ratio(r.fraction_without_child, r.true_positives - r.with_child) for r in scored]),
    }
