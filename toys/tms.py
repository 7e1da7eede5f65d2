"""Toy Models of Superposition (Elhage et al. 2022): the ReLU output model.

Axes: G model instances trained together, n features, m hidden dimensions, b batch.

Model: h = W x, x' = ReLU(Wᵀ h + b), with W [m, n] and b [n].
Data: x_i = U(0, 1) with probability p (the feature probability, 1 − sparsity), else 0.
Loss: L = E_x Σ_i I_i (x_i − x'_i)² with importance I_i (uniform 1, or decaying r^i).

Truth read from a trained model: the columns W_i, their norms, and the feature
dimensionality D_i (theory.superposition). Known answers: 5 features in 2 dimensions
at p = 0.05 with uniform importance form a regular pentagon (D_i = 2/5); dense inputs
(p = 1) with importance 0.9^i keep the 2 most important features orthogonal (D = 1)
and drop the rest (D = 0).

Training: one flax NNX module, split once; G instances (a probability × importance ×
seed grid) are trained by the shared loop of `toys.network_training` (one
`jit`-compiled `lax.scan` over steps, `jax.vmap` over instances, each instance's
probability and importances as per-run data). Each instance's final loss is measured on
one common evaluation sample, so the best instance of a setting is chosen on the same data.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct
from jaxtyping import Float

from theory.superposition import feature_dimensionality
from toys import network_training
from toys.engine.config import check_fields, setting
from toys.engine.runtime import Runtime
from toys.engine.shapes import AnyArray, OneKey
from toys.protocol import Batch


@dataclasses.dataclass(frozen=True)
class TMSTrainConfig:
    """Static training settings shared by every instance of a grid."""

    n_features: int = setting(5, low=1)
    n_hidden: int = setting(2, low=1)
    steps: int = setting(10_000, low=1)
    batch_size: int = setting(1024, low=1)
    learning_rate: float = setting(1e-3, low=0, low_open=True)
    eval_samples: int = setting(65_536, low=1)

    def validate(self, prefix: str = "") -> None:
        check_fields(self, prefix)


class TMSModel(nnx.Module):
    """x' = ReLU(Wᵀ W x + b) for x [..., n]."""

    def __init__(self, n_features: int, n_hidden: int, *, rngs: nnx.Rngs):
        init = nnx.initializers.xavier_normal()
        self.W = nnx.Param(init(rngs.params(), (n_hidden, n_features)))
        self.b = nnx.Param(jnp.zeros((n_features,)))

    def __call__(self, x: jax.Array) -> jax.Array:
        W = self.W[...]
        return jax.nn.relu((x @ W.T) @ W + self.b[...])


def importance(n_features: int, decay: float | None) -> jax.Array:
    """I_i = decay^i, or all ones when decay is None (uniform importance). Shape [n]."""
    if decay is None:
        return jnp.ones((n_features,))
    return decay ** jnp.arange(n_features, dtype=jnp.float32)


def sample_features(key: jax.Array, n: int, n_features: int, probability: jax.Array) -> jax.Array:
    """x [n, n_features]: each entry U(0, 1) with probability p, else 0.

    One uniform u per entry serves both draws: the entry fires when u < p, and then
    u/p ~ U(0, 1) independently of the firing.
    """
    u = jax.random.uniform(key, (n, n_features))
    return jnp.where(u < probability, u / probability, 0.0)


class Task(NamedTuple):
    """What G instances are trained on: the config, each instance's feature probability [G] and
    importances [G, n], and the key of the one evaluation sample (`eval_samples` draws, the same for
    every instance of a probability) on which each instance's final loss is measured, so the best
    instance of a setting is picked on common data, not on each one's own noise."""

    config: TMSTrainConfig
    probabilities: Float[AnyArray, " G"]
    importances: Float[AnyArray, "G n"]
    eval_key: OneKey


class TMSResult(NamedTuple):
    """Per instance: W [G, m, n], b [G, n], final loss on fresh data [G], D_i [G, n]."""

    W: jax.Array
    b: jax.Array
    loss: jax.Array  # [G] on the one common evaluation sample
    dimensionality: jax.Array
    loss_curve: jax.Array  # [steps, G]
    task: Task  # what the instances were trained on


def _build(config: TMSTrainConfig):
    return lambda rngs: TMSModel(config.n_features, config.n_hidden, rngs=rngs)


def _weighted_mse(graph, state, x, weights):
    prediction = network_training.bind(graph, state)(x)
    return jnp.mean(jnp.sum(weights * (x - prediction) ** 2, axis=-1))


@dataclasses.dataclass(frozen=True)
class _Training:
    """AdamW (no weight decay) on the importance-weighted MSE of fresh sparse inputs (a
    `network_training.NetworkTask`); per-run data: (feature probability, importances [n])."""

    config: TMSTrainConfig

    def init(self, key):
        return network_training.parameters(_build(self.config), key)

    def optimizer(self):
        return optax.adamw(self.config.learning_rate, weight_decay=0.0)

    def loss(self, state, key, setting):
        probability, weights = setting
        x = sample_features(key, self.config.batch_size, self.config.n_features, probability)
        return _weighted_mse(network_training.definition(_build(self.config)), state, x, weights)


@functools.partial(jax.jit, static_argnames="config")
def _final_loss(config: TMSTrainConfig, state, probabilities, importances, eval_key):
    graph = network_training.definition(_build(config))

    def evaluate(state, probability, weights):
        # one common sample (per probability) for every instance, so instances are compared on the same data
        return _weighted_mse(graph, state, sample_features(eval_key, config.eval_samples, config.n_features, probability), weights)

    return jax.vmap(evaluate)(state, probabilities, importances), jax.vmap(feature_dimensionality)(state["W"][...])


def train(task: Task, keys: jax.Array, runtime: Runtime | None = None) -> TMSResult:
    """Train the task's G instances together, keys [G] (one PRNG key per instance).

    Raises DivergenceError naming the step if any loss turns NaN/inf.
    """
    config, probabilities, importances, eval_key = task
    settings = (jnp.asarray(probabilities, jnp.float32), jnp.asarray(importances, jnp.float32))
    state, curve = network_training.train_networks(_Training(config), keys, config.steps, data=settings, what="tms", runtime=runtime)
    final_loss, dimensionality = _final_loss(config, state, *settings, eval_key)
    return TMSResult(state["W"][...], state["b"][...], final_loss, dimensionality, jnp.asarray(curve), task)


@struct.dataclass
class HiddenToy:
    """A trained TMS instance's hidden layer as a toy (toys.protocol): h = W x for fresh
    inputs x (each feature U(0, 1) with probability p). Truth: the codes are x itself, and
    feature i's direction in the hidden space is column i of W (`features` = Wᵀ [n, m])."""

    W: jax.Array  # [m, n]
    probability: jax.Array  # scalar

    @property
    def d(self) -> int:
        return self.W.shape[0]

    @property
    def features(self) -> jax.Array:
        return self.W.T

    def sample(self, key: jax.Array, n: int) -> Batch:
        x = sample_features(key, n, self.W.shape[1], self.probability)
        return Batch(x @ self.W.T, x)


def layer_names(config: TMSTrainConfig) -> tuple[str, ...]:
    """The layers `layer` reads: the hidden layer h = W x."""
    return ("hidden",)


def layer(network: TMSResult, name: str = "hidden", index: int = 0) -> HiddenToy:
    """Instance `index`'s hidden layer, fed inputs of the feature probability it was trained at."""
    network_training.check_layer(name, layer_names(network.task.config))
    return HiddenToy(jnp.asarray(network.W[index]), jnp.float32(network.task.probabilities[index]))


def neighbour_angles_deg(W, min_norm: float = 0.5) -> np.ndarray:
    """For 2 hidden dims: angles (degrees) between angularly adjacent columns of norm ≥ min_norm.

    Columns are sorted by polar angle; the k gaps (including the wrap-around) sum to 360.
    A regular pentagon gives five gaps of 72°.
    """
    W = np.asarray(W)
    if W.shape[0] != 2:
        raise ValueError("neighbour angles are defined for 2 hidden dimensions")
    kept = W[:, np.linalg.norm(W, axis=0) >= min_norm]
    if kept.shape[1] < 2:
        return np.array([])
    angles = np.sort(np.degrees(np.arctan2(kept[1], kept[0])) % 360.0)
    return np.diff(np.append(angles, angles[0] + 360.0))
