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

Training: one flax NNX module, `nnx.split` once; G instances (a probability ×
importance × seed grid) are trained by a single `jit`-compiled `lax.scan` over steps
whose body is `jax.vmap` over instances.
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

from sae import progress
from theory.superposition import feature_dimensionality
from toys.validation import check_range


@dataclasses.dataclass(frozen=True)
class TMSTrainConfig:
    """Static training settings shared by every instance of a grid."""

    n_features: int = 5
    n_hidden: int = 2
    steps: int = 10_000
    batch_size: int = 1024
    learning_rate: float = 1e-3
    eval_samples: int = 65_536

    def validate(self, prefix: str = "") -> None:
        check_range(prefix + "n_features", self.n_features, low=1)
        check_range(prefix + "n_hidden", self.n_hidden, low=1)
        check_range(prefix + "steps", self.steps, low=1)
        check_range(prefix + "batch_size", self.batch_size, low=1)
        check_range(prefix + "learning_rate", self.learning_rate, low=0, low_open=True)
        check_range(prefix + "eval_samples", self.eval_samples, low=1)


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


class TMSResult(NamedTuple):
    """Per instance: W [G, m, n], b [G, n], final loss on fresh data [G], D_i [G, n]."""

    W: jax.Array
    b: jax.Array
    loss: jax.Array
    dimensionality: jax.Array
    loss_curve: jax.Array  # [steps, G]


def _graphdef(config: TMSTrainConfig):
    return nnx.split(nnx.eval_shape(lambda: TMSModel(config.n_features, config.n_hidden, rngs=nnx.Rngs(0))))[0]


def _weighted_mse(graphdef, state, x, weights):
    prediction = nnx.merge(graphdef, state)(x)
    return jnp.mean(jnp.sum(weights * (x - prediction) ** 2, axis=-1))


@functools.partial(jax.jit, static_argnames="config")
def _train(config: TMSTrainConfig, probabilities, importances, keys):
    graphdef = _graphdef(config)
    optimizer = optax.adamw(config.learning_rate, weight_decay=0.0)

    def init(key):
        state = nnx.split(TMSModel(config.n_features, config.n_hidden, rngs=nnx.Rngs(key)))[1]
        return state, optimizer.init(state)

    def step_one(state, opt_state, probability, weights, key):
        x = sample_features(key, config.batch_size, config.n_features, probability)
        loss, grads = jax.value_and_grad(_weighted_mse, argnums=1)(graphdef, state, x, weights)
        updates, opt_state = optimizer.update(grads, opt_state, state)
        return optax.apply_updates(state, updates), opt_state, loss

    init_keys, train_keys, eval_keys = (jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(keys) for i in range(3))
    carry = jax.vmap(init)(init_keys)

    def body(carry, step):
        state, opt_state = carry
        step_keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(train_keys)
        state, opt_state, loss = jax.vmap(step_one)(state, opt_state, probabilities, importances, step_keys)
        progress.report(step, config.steps, loss)
        return (state, opt_state), loss

    (state, _), curve = jax.lax.scan(body, carry, jnp.arange(config.steps))

    def evaluate(state, probability, weights, key):
        x = sample_features(key, config.eval_samples, config.n_features, probability)
        return _weighted_mse(graphdef, state, x, weights)

    final_loss = jax.vmap(evaluate)(state, probabilities, importances, eval_keys)
    W, b = state["W"][...], state["b"][...]
    return TMSResult(W, b, final_loss, jax.vmap(feature_dimensionality)(W), curve)


def train(config: TMSTrainConfig, probabilities, importances, keys) -> TMSResult:
    """Train G instances in one compiled call.

    probabilities [G], importances [G, n], keys [G] (one PRNG key per instance).
    Raises progress.DivergenceError naming the step if any loss turns NaN/inf.
    """
    result = _train(config, jnp.asarray(probabilities, jnp.float32), jnp.asarray(importances, jnp.float32), keys)
    progress.check_finite(result.loss_curve, "tms")
    return result


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
