"""Modular addition: a small flax MLP trained on a + b mod p, and the circles it builds.

Axes: G models trained together (seeds), p residues, p² = all input pairs, e embedding
width, H hidden units, K = (p − 1)/2 nonzero frequencies.

Model (one shared embedding E [p, e]; `architecture`), logits = h W_out + b_out:
- "concatenated" (the default): h = ReLU(E[a] W_a + E[b] W_b + b_h), the two halves of
  one Linear on the concatenation;
- "additive": h = ReLU((E[a] + E[b]) W + b_h), an MLP on the sum of the two embeddings
  (Zhong et al. 2023's pizza-prone form: it sees only the midpoint of the two points);
- "bilinear": h = (E[a] U) ⊙ (E[b] V), a multiplicative interaction without biases
  (products of the two points' coordinates, which the clock's angle addition needs).
Trained on `task`: "addition" (c = a + b mod p) or "random" (c = a fixed random function of
(a, b), one table per p, `labels`: a task without cyclic structure, the null a circle
reader is calibrated on), full batch on a random `train_fraction` of the p² pairs with AdamW and weight
decay, which drives the network from memorising to a generalising, Fourier-sparse
solution (Nanda et al. 2023: the embedding uses a handful of key frequencies
ω_k = 2πk/p and the logits approximate Σ_k α_k cos(ω_k(a + b − c))).

Which algorithm (Zhong et al. 2023, "The Clock and the Pizza", Definitions 4.1 and 4.2;
clock: s_g ≈ 0.33, q ≈ 0.85; pizza: s_g ≈ 0.99, q ≈ 0.17):
- gradient symmetricity s_g = mean over random triples (a, b, c) of the cosine between
  ∂Q_abc/∂E[a] and ∂Q_abc/∂E[b], Q_abc the logit of c (`gradient_symmetricity`). An
  additive network's pre-activation sees E[a] and E[b] only through their sum, so
  s_g = 1 by construction there;
- distance irrelevance q = mean_d std_s(M[s, d]) / std(M), with M[s, d] the logit of the
  correct answer at a + b ≡ s, a − b ≡ d (`distance_irrelevance`): near 1 when the
  correct logit ignores the distance a − b (clock), near 0 when it is mostly a function of
  it (pizza: the logit scales with |cos(ω(a − b)/2)|).

Truth read from a trained model:
- the Fourier spectrum of the embedding: with Ê = E − mean_a E[a] and
  F_k = Σ_a Ê[a] e^{−2πi k a/p}, frequency k ∈ 1 … K holds the share
  s_k = (‖F_k‖² + ‖F_{p−k}‖²) / Σ_j ‖F_j‖² of the mean-removed embedding variance
  (Parseval: Σ_k s_k = 1);
- the key frequencies: the fewest frequencies, by decreasing share, whose shares sum
  to at least `coverage`;
- the hidden activations over all p² pairs, a toy whose planted structure is the set
  of circles (cos ω_k s, sin ω_k s) at the key frequencies; frequency k's circles span
  the hidden subspace found by regressing the activations on cos/sin ω_k s for
  s ∈ {a, b, a + b, a − b} (`frequency_subspaces`). A unit (neuron, SAE latent,
  random atom) lies on frequency k's circles when at least half of its direction's
  energy lies in that subspace (sae.readers.geometry.on_manifold, as for planted circles).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from toys import network_training, stored
from toys.engine.config import ConfigError, check_fields, setting
from toys.engine.runtime import Runtime
from toys.stored import StoredToy


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % q for q in range(2, int(n**0.5) + 1))


ARCHITECTURES = ("concatenated", "additive", "bilinear")
TASKS = ("addition", "random")


@dataclasses.dataclass(frozen=True)
class ModularConfig:
    """Static settings of the modular-addition network and its training (hashable)."""

    p: int = setting(113, "the (prime) modulus", low=5)
    embed_dim: int = setting(64, "embedding width", low=1)
    hidden: int = setting(128, "hidden units", low=1)
    train_fraction: float = setting(0.5, "share of the p² pairs trained on", low=0, low_open=True, high=1, high_open=True)
    steps: int = setting(20_000, "full-batch AdamW steps", low=1)
    learning_rate: float = setting(3e-3, "AdamW learning rate", low=0, low_open=True)
    weight_decay: float = setting(1.0, "AdamW weight decay (drives grokking)", low=0)
    coverage: float = setting(0.9, "share of embedding variance the key frequencies must hold", low=0, low_open=True, high=1)
    architecture: str = setting(
        "concatenated", '"concatenated", "additive" (E_a + E_b) or "bilinear" (module docstring)', choices=ARCHITECTURES
    )
    task: str = setting("addition", '"addition" (a + b mod p) or "random" (a fixed random table: no cyclic structure)', choices=TASKS)

    def validate(self, prefix: str = "") -> None:
        check_fields(self, prefix)
        q = prefix
        if not is_prime(self.p):
            raise ConfigError(f"{q}p: got {self.p}, allowed values: primes in [5, inf)")


class ModularMLP(nnx.Module):
    def __init__(self, config: ModularConfig, *, rngs: nnx.Rngs):
        self.architecture = config.architecture
        e, h = config.embed_dim, config.hidden
        self.embed = nnx.Embed(config.p, e, rngs=rngs)
        if config.architecture == "concatenated":
            self.hidden = nnx.Linear(2 * e, h, rngs=rngs)
        elif config.architecture == "additive":
            self.hidden = nnx.Linear(e, h, rngs=rngs)
        else:
            self.left = nnx.Linear(e, h, use_bias=False, rngs=rngs)
            self.right = nnx.Linear(e, h, use_bias=False, rngs=rngs)
        self.out = nnx.Linear(h, config.p, rngs=rngs)

    def hidden_from_embeddings(self, ea: jax.Array, eb: jax.Array) -> jax.Array:
        """h [n, H] for the two inputs' embedding vectors ea, eb [n, e] (module docstring)."""
        if self.architecture == "concatenated":
            return jax.nn.relu(self.hidden(jnp.concatenate([ea, eb], axis=-1)))
        if self.architecture == "additive":
            return jax.nn.relu(self.hidden(ea + eb))
        return self.left(ea) * self.right(eb)

    def hidden_activations(self, a: jax.Array, b: jax.Array) -> jax.Array:
        """h [n, H] for residue pairs a, b [n]."""
        return self.hidden_from_embeddings(self.embed(a), self.embed(b))

    def __call__(self, a: jax.Array, b: jax.Array) -> jax.Array:
        return self.out(self.hidden_activations(a, b))


def all_pairs(p: int) -> tuple[np.ndarray, np.ndarray]:
    """a, b [p²] over every pair, a-major (pair index = a·p + b)."""
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    return a.ravel(), b.ravel()


def labels(config: ModularConfig) -> np.ndarray:
    """The answer for every pair (a-major), [p²]: (a + b) mod p, or for the "random" task a table
    drawn once per p (numpy's generator seeded with p), uniform over the p residues."""
    a, b = all_pairs(config.p)
    if config.task == "random":
        return np.random.default_rng(config.p).integers(0, config.p, config.p**2)
    return (a + b) % config.p


class ModularResult(NamedTuple):
    """Per model (leading axis G): the trained state, its split and its accuracies."""

    state: nnx.State
    train_mask: jax.Array  # [G, p²] bool: the pairs it was trained on
    train_accuracy: jax.Array  # [G]
    test_accuracy: jax.Array  # [G]
    loss_curve: jax.Array  # [steps, G] training cross-entropy
    task: ModularConfig  # what the networks were trained on


def _build(config: ModularConfig):
    return lambda rngs: ModularMLP(config, rngs=rngs)


@dataclasses.dataclass(frozen=True)
class _Training:
    """Full-batch AdamW (b2 = 0.98) on cross-entropy over the training pairs (a
    `network_training.NetworkTask`); per-run data: the training mask [p²]."""

    config: ModularConfig

    def init(self, key):
        return network_training.parameters(_build(self.config), key)

    def optimizer(self):
        return optax.adamw(self.config.learning_rate, b1=0.9, b2=0.98, weight_decay=self.config.weight_decay)

    def loss(self, state, key, mask):  # full batch: the step's key is not used
        a, b = all_pairs(self.config.p)
        logits = network_training.bind(network_training.definition(_build(self.config)), state)(a, b)
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels(self.config))
        return jnp.sum(jnp.where(mask, losses, 0.0)) / _train_pairs(self.config)


def _train_pairs(config: ModularConfig) -> int:
    return int(round(config.train_fraction * config.p**2))


@functools.partial(jax.jit, static_argnames="config")
def _masks(config: ModularConfig, keys):
    """Each run's training pairs: the first n_train pairs of a permutation (a fixed size keeps shapes static)."""

    def split(key):
        return jnp.zeros(config.p**2, bool).at[jax.random.permutation(key, config.p**2)[: _train_pairs(config)]].set(True)

    return jax.vmap(split)(keys)


@functools.partial(jax.jit, static_argnames="config")
def _accuracies(config: ModularConfig, state, mask):
    a, b = all_pairs(config.p)

    def accuracies(state, mask):
        correct = jnp.argmax(network_training.bind(network_training.definition(_build(config)), state)(a, b), axis=-1) == labels(config)
        return jnp.sum(correct & mask) / jnp.sum(mask), jnp.sum(correct & ~mask) / jnp.sum(~mask)

    return jax.vmap(accuracies)(state, mask)


def train(task: ModularConfig, keys: jax.Array, runtime: Runtime | None = None) -> ModularResult:
    """Train one model per key [G] together (full-batch AdamW, `steps` steps); the task is the config
    (nothing is drawn for it beyond each network's split).

    Raises DivergenceError naming the step if a loss turns NaN/inf.
    """
    config = task
    key_model, key_split = jax.vmap(jax.random.split, out_axes=1)(keys)
    mask = _masks(config, key_split)
    state, curve = network_training.train_networks(
        _Training(config), keys, config.steps, data=mask, init_keys=key_model, what=f"modular p={config.p}", runtime=runtime
    )
    train_accuracy, test_accuracy = _accuracies(config, state, mask)
    return ModularResult(state, mask, train_accuracy, test_accuracy, jnp.asarray(curve), config)


def model(config: ModularConfig, result: ModularResult, index: int = 0) -> ModularMLP:
    """The index-th trained model as an nnx module."""
    return network_training.bind(network_training.definition(_build(config)), network_training.select(result.state, index))


def embedding(config: ModularConfig, result: ModularResult, index: int = 0) -> np.ndarray:
    """E [p, e] of the index-th model."""
    return np.asarray(model(config, result, index).embed.embedding[...])


def hidden_activations(config: ModularConfig, result: ModularResult, index: int = 0) -> np.ndarray:
    """h over all p² pairs (a-major), [p², H]: the toy's activations."""
    a, b = all_pairs(config.p)
    return np.asarray(model(config, result, index).hidden_activations(jnp.asarray(a), jnp.asarray(b)))


def layer_names(config: ModularConfig) -> tuple[str, ...]:
    """The layers `layer` reads: the hidden layer."""
    return ("hidden",)


def layer(network: ModularResult, name: str = "hidden", index: int = 0) -> StoredToy:
    """Network `index`'s hidden layer over all p² pairs as a toy (toys.protocol): training
    streams draw pairs uniformly; the truth (the Fourier circles) is read by
    `frequency_subspaces`."""
    network_training.check_layer(name, layer_names(network.task))
    return stored.from_arrays(hidden_activations(network.task, network, index))


def fourier_shares(embedding) -> np.ndarray:
    """s_k for k = 1 … (p−1)/2 (definition in the module docstring), [K]; sums to 1."""
    E = np.asarray(embedding, np.float64)
    p = E.shape[0]
    power = np.sum(np.abs(np.fft.fft(E - E.mean(axis=0), axis=0)) ** 2, axis=1)
    ks = np.arange(1, (p - 1) // 2 + 1)
    shares = power[ks] + power[p - ks]
    return shares / max(shares.sum(), 1e-30)


def key_frequencies(shares, coverage: float) -> list[int]:
    """The fewest frequencies (1-based, sorted by decreasing share) whose shares sum to ≥ coverage."""
    shares = np.asarray(shares)
    order = np.argsort(-shares, kind="stable")
    count = int(np.searchsorted(np.cumsum(shares[order]), coverage - 1e-12) + 1)
    return [int(k) + 1 for k in order[: min(count, len(order))]]


def frequency_subspaces(hidden, p: int, frequencies, relative_tolerance: float = 1e-2) -> dict[int, np.ndarray]:
    """The hidden-layer subspace of each frequency's circles, {k: orthonormal rows [r_k, H]}.

    hidden [p², H] over all pairs (a-major). The mean-removed activations are regressed
    on the 8 circle coordinates cos/sin ω_k s for s ∈ {a, b, a + b, a − b}; the row
    space of the coefficients (directions whose singular value is at least
    relative_tolerance × the RMS norm of the centred activations, i.e. circles of
    non-negligible amplitude) is where frequency k's circles live in the hidden layer.
    """
    a, b = all_pairs(p)
    centred = np.asarray(hidden, np.float64) - np.mean(hidden, axis=0)
    scale = np.sqrt(np.mean(np.sum(centred**2, axis=1)))
    out = {}
    for k in frequencies:
        angles = 2.0 * np.pi * k * np.stack([a, b, a + b, a - b], axis=1) / p
        design = np.concatenate([np.cos(angles), np.sin(angles)], axis=1)
        coefficients = np.linalg.lstsq(design, centred, rcond=None)[0]  # [8, H]
        _, singular, rows = np.linalg.svd(coefficients, full_matrices=False)
        out[int(k)] = rows[singular >= relative_tolerance * max(scale, 1e-30)]
    return out


def gradient_symmetricity(config: ModularConfig, result: ModularResult, key: jax.Array, n_triples: int = 100, index: int = 0) -> float:
    """s_g (module docstring; Zhong et al. Definition 4.1) over `n_triples` random (a, b, c)."""
    net = model(config, result, index)
    a, b, c = (np.asarray(v) for v in jax.random.randint(key, (3, n_triples), 0, config.p))

    def logit(ea, eb, c):
        return net.out(net.hidden_from_embeddings(ea[None], eb[None]))[0, c]

    embedding_table = net.embed.embedding[...]
    ga, gb = jax.vmap(jax.grad(logit, argnums=(0, 1)))(embedding_table[a], embedding_table[b], jnp.asarray(c))
    cosine = jnp.sum(ga * gb, axis=1) / jnp.maximum(jnp.linalg.norm(ga, axis=1) * jnp.linalg.norm(gb, axis=1), 1e-30)
    return float(jnp.mean(cosine))


def correct_logits(config: ModularConfig, result: ModularResult, index: int = 0) -> np.ndarray:
    """M [p, p]: M[s, d] = the logit of the correct answer s at a + b ≡ s, a − b ≡ d (mod p)."""
    p = config.p
    a, b = all_pairs(p)
    logits = np.asarray(model(config, result, index)(jnp.asarray(a), jnp.asarray(b)))
    matrix = np.zeros((p, p))
    matrix[(a + b) % p, (a - b) % p] = logits[np.arange(p * p), (a + b) % p]
    return matrix


def distance_irrelevance(correct: np.ndarray) -> float:
    """q = mean_d std_s M[s, d] / std M (module docstring; Zhong et al. Definition 4.2), for the
    correct-logit matrix M [p, p] of `correct_logits` (population standard deviations)."""
    correct = np.asarray(correct, np.float64)
    return float(correct.std(axis=0).mean() / max(correct.std(), 1e-30))


# --- the network after its embedding: a head on any representation of the pairs ----------------


def pair_embeddings(config: ModularConfig, result: ModularResult, index: int = 0) -> np.ndarray:
    """x(a, b) = [E[a], E[b]] over every pair (a-major), [p², 2e]: the representation the
    hidden layer reads (its circles are the embedding's Fourier circles)."""
    a, b = all_pairs(config.p)
    table = embedding(config, result, index)
    return np.concatenate([table[a], table[b]], axis=1)


def original_head(config: ModularConfig, result: ModularResult, inputs, index: int = 0) -> np.ndarray:
    """The trained network's layers after the embedding applied to inputs [N, 2e] read as
    [E_a, E_b] (`pair_embeddings`' layout), logits [N, p]."""
    net = model(config, result, index)
    x = jnp.asarray(inputs, jnp.float32)
    return np.asarray(net.out(net.hidden_from_embeddings(x[:, : config.embed_dim], x[:, config.embed_dim :])))


def train_heads(config: ModularConfig, inputs, labels, masks, keys, runtime: Runtime | None = None) -> network_training.Heads:
    """Fresh copies of the layers after the embedding (`network_training.train_heads` with the
    network's hidden width, AdamW settings and steps), one per input space and mask."""
    return network_training.train_heads(
        inputs,
        labels,
        masks,
        keys,
        hidden=config.hidden,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        steps=config.steps,
        runtime=runtime,
    )
