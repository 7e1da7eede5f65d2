"""Distributions in a semantic space: classes on intertwined manifolds, and a concept that is a region.

Axes: d ambient dimensions, N samples, L hidden layers of width H.

Truth, in a 2-D plane lifted into R^d by a random isometry Q [2, d] (x = p Q, Q Qᵀ = I):
- `spirals`: class c ∈ {0, 1} at p = r(t)(cos φ, sin φ), r = 0.15 + 0.85 t, φ = 2π·turns·t + πc,
  t ~ U[0, 1] (the latent coordinate along the arm);
- `moons`: class 0 on (cos πt, sin πt), class 1 on (1 − cos πt, ½ − sin πt), shifted and
  scaled into [−1, 1]²;
- `shells`: class 0 on the circle of radius ½, class 1 on radius 1, angle 2πt;
plus Gaussian noise of std `noise` in the plane. Optional extras: an **ambiguous** share
drawn midway between the classes (spirals: the arm at φ + π/2; moons and shells: the
mean of the two class points at the same t), target (½, ½), label −1; and a **neither**
background share uniform on [−1.2, 1.2]², a third class (label 2).

A **region concept** (`ball_in_shell`): in a `ball_dims`-dimensional subspace of R^d, the
concept is the ball of radius 1 (label 1), enclosed by a shell of radii [1.5, 2] (label 0),
both uniform in volume. No direction separates them; their radius does.

The classifier is a ReLU MLP (flax NNX; `activation="linear"` drops the folds for
controls) trained with softmax cross-entropy on fresh samples drawn inside one
`lax.scan` (toys.network_training). `layer_activations` returns the input and every
hidden layer, with the pre-activations whose signs are the on/off pattern.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct

from toys import network_training
from toys.engine.config import check_fields, setting
from toys.engine.runtime import Runtime
from toys.network_training import train_networks
from toys.protocol import Batch

MANIFOLDS = ("spirals", "moons", "shells")
ACTIVATIONS = ("relu", "linear")
AMBIGUOUS, NEITHER = -1, 2


@dataclasses.dataclass(frozen=True)
class SemanticConfig:
    manifold: str = setting("spirals", "the two classes' shape in the plane", choices=MANIFOLDS)
    d: int = setting(16, "ambient dimensions", low=2, high=4096)
    noise: float = setting(0.02, "σ of noise around the manifolds", low=0, high=0.5)
    turns: float = setting(1.25, "turns of each spiral", low=0.25, high=5)
    ambiguous_fraction: float = setting(0.0, "share of samples on the ambiguous arm (target ½, ½)", low=0, high=0.5)
    background_fraction: float = setting(0.0, "share of a 'neither' background class (0: none)", low=0, high=0.5)
    hidden: int = setting(64, "units per hidden layer", low=2, high=4096)
    n_layers: int = setting(4, "hidden layers", low=1, high=16)
    activation: str = setting("relu", "relu, or linear (the no-fold control)", choices=ACTIVATIONS)
    steps: int = setting(4000, "classifier training steps", low=1)
    batch_size: int = setting(256, "fresh samples per step", low=2)
    learning_rate: float = setting(3e-3, "Adam learning rate", low=0, low_open=True)

    @property
    def n_classes(self) -> int:
        return 3 if self.background_fraction > 0 else 2

    def validate(self, prefix: str = "") -> None:
        check_fields(self, prefix)


class Sample(NamedTuple):
    x: jax.Array  # [N, d]
    targets: jax.Array  # [N, n_classes], class probabilities
    labels: jax.Array  # [N]: 0, 1, NEITHER (2) or AMBIGUOUS (−1)
    positions: jax.Array  # [N, 2]: the point in the plane before lifting
    latent: jax.Array  # [N]: t, the coordinate along the manifold (NaN for background)


def isometry(key: jax.Array, d: int, dims: int = 2) -> jax.Array:
    """Q [dims, d] with orthonormal rows (QR of a Gaussian matrix)."""
    q, _ = jnp.linalg.qr(jax.random.normal(key, (d, dims)))
    return q.T


def _on_manifold(manifold: str, turns: float, t, c):
    """Noise-free plane points of class c ∈ {0, 1} at coordinate t, [N, 2]."""
    if manifold == "spirals":
        r, phi = 0.15 + 0.85 * t, 2 * jnp.pi * turns * t + jnp.pi * c
        return r[:, None] * jnp.stack([jnp.cos(phi), jnp.sin(phi)], axis=1)
    if manifold == "moons":
        upper = jnp.stack([jnp.cos(jnp.pi * t), jnp.sin(jnp.pi * t)], axis=1)
        lower = jnp.stack([1 - jnp.cos(jnp.pi * t), 0.5 - jnp.sin(jnp.pi * t)], axis=1)
        p = jnp.where((c == 0)[:, None], upper, lower)
        return (p - jnp.array([0.5, 0.25])) / 1.5
    radius = jnp.where(c == 0, 0.5, 1.0)  # shells
    return radius[:, None] * jnp.stack([jnp.cos(2 * jnp.pi * t), jnp.sin(2 * jnp.pi * t)], axis=1)


def _ambiguous(manifold: str, turns: float, t):
    if manifold == "spirals":
        r, phi = 0.15 + 0.85 * t, 2 * jnp.pi * turns * t + jnp.pi / 2
        return r[:, None] * jnp.stack([jnp.cos(phi), jnp.sin(phi)], axis=1)
    zeros, ones = jnp.zeros_like(t, jnp.int32), jnp.ones_like(t, jnp.int32)
    return (_on_manifold(manifold, turns, t, zeros) + _on_manifold(manifold, turns, t, ones)) / 2


def sample(config: SemanticConfig, basis: jax.Array, key: jax.Array, n: int) -> Sample:
    """n samples of the toy (jit-able: fixed n, every kind drawn, then selected)."""
    k_t, k_c, k_kind, k_noise, k_back = jax.random.split(key, 5)
    t = jax.random.uniform(k_t, (n,))
    c = jax.random.bernoulli(k_c, 0.5, (n,)).astype(jnp.int32)
    u = jax.random.uniform(k_kind, (n,))
    background = u < config.background_fraction
    ambiguous = ~background & (u < config.background_fraction + config.ambiguous_fraction)
    plane = _on_manifold(config.manifold, config.turns, t, c)
    plane = jnp.where(ambiguous[:, None], _ambiguous(config.manifold, config.turns, t), plane)
    plane = jnp.where(background[:, None], jax.random.uniform(k_back, (n, 2), minval=-1.2, maxval=1.2), plane)
    plane = plane + config.noise * jax.random.normal(k_noise, (n, 2))
    labels = jnp.where(background, NEITHER, jnp.where(ambiguous, AMBIGUOUS, c))
    onehot = jax.nn.one_hot(jnp.clip(labels, 0, None), config.n_classes)
    two_way = jnp.zeros(config.n_classes).at[:2].set(0.5)
    targets = jnp.where(ambiguous[:, None], two_way, onehot)
    latent = jnp.where(background, jnp.nan, t)
    return Sample(plane @ basis, targets, labels, plane, latent)


def ball_in_shell(
    key: jax.Array, n: int, d: int, ball_dims: int = 3, ball_radius: float = 1.0, shell: tuple[float, float] = (1.5, 2.0)
) -> tuple[jax.Array, jax.Array]:
    """n points (half ball, half shell) in a random `ball_dims`-subspace of R^d; labels 1 = ball, [n, d], [n]."""
    k_basis, k_dir, k_r, k_label = jax.random.split(key, 4)
    labels = jax.random.bernoulli(k_label, 0.5, (n,)).astype(jnp.int32)
    direction = jax.random.normal(k_dir, (n, ball_dims))
    direction = direction / jnp.linalg.norm(direction, axis=1, keepdims=True)
    u = jax.random.uniform(k_r, (n,))
    # uniform in volume: r = (r_lo^k + u (r_hi^k − r_lo^k))^(1/k)
    low = jnp.where(labels == 1, 0.0, shell[0]) ** ball_dims
    high = jnp.where(labels == 1, ball_radius, shell[1]) ** ball_dims
    radius = (low + u * (high - low)) ** (1.0 / ball_dims)
    return (radius[:, None] * direction) @ isometry(k_basis, d, ball_dims), labels


# --- the classifier ---------------------------------------------------------------------


class ClassifierMLP(nnx.Module):
    def __init__(self, config: SemanticConfig, *, rngs: nnx.Rngs):
        widths = [config.d] + [config.hidden] * config.n_layers
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])])
        self.out = nnx.Linear(config.hidden, config.n_classes, rngs=rngs)
        self.fold = config.activation == "relu"

    def layer_activations(self, x: jax.Array) -> tuple[list[jax.Array], list[jax.Array]]:
        """([input, h_1, …, h_L], [z_1, …, z_L]): activations from the input on, and pre-activations."""
        activations, preactivations = [x], []
        for layer in self.layers:
            z = layer(x)
            x = jax.nn.relu(z) if self.fold else z
            preactivations.append(z)
            activations.append(x)
        return activations, preactivations

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(self.layer_activations(x)[0][-1])


def _build(config: SemanticConfig):
    return lambda rngs: ClassifierMLP(config, rngs=rngs)


def graphdef(config: SemanticConfig):
    return network_training.definition(_build(config))


def initial_state(config: SemanticConfig, key) -> nnx.State:
    return network_training.parameters(_build(config), key)


def model(config: SemanticConfig, state: nnx.State) -> ClassifierMLP:
    return network_training.bind(graphdef(config), state)


class Task(NamedTuple):
    """What a classifier is trained on: the config and the semantic plane's isometry [2, d]."""

    config: SemanticConfig
    basis: jax.Array


def task(config: SemanticConfig, key: jax.Array) -> Task:
    """The config with a semantic plane drawn from `key` (`isometry`)."""
    return Task(config, isometry(key, config.d))


class ClassifierResult(NamedTuple):
    state: nnx.State  # leaves [S, ...]
    loss_curve: jax.Array  # [steps, S]
    task: Task  # what the classifiers were trained on


@dataclasses.dataclass(frozen=True)
class _Training:
    """Adam on soft cross-entropy over fresh semantic samples (a `network_training.NetworkTask`);
    per-run data: the semantic basis."""

    config: SemanticConfig

    def init(self, key):
        return initial_state(self.config, key)

    def optimizer(self):
        return optax.adam(self.config.learning_rate)

    def loss(self, state, key, basis):
        batch = sample(self.config, basis, key, self.config.batch_size)
        logits = network_training.bind(graphdef(self.config), state)(batch.x)
        return jnp.mean(optax.softmax_cross_entropy(logits, batch.targets))


def train(task: Task, keys: jax.Array, runtime: Runtime | None = None) -> ClassifierResult:
    """Train one classifier per key [S] on fresh samples of the task, together; raises DivergenceError
    naming the step."""
    config, basis = task
    per_run = jnp.broadcast_to(jnp.asarray(basis), (keys.shape[0], *np.shape(basis)))
    state, curve = train_networks(
        _Training(config), keys, config.steps, data=per_run, runtime=runtime, what=f"{config.manifold} classifier"
    )
    return ClassifierResult(state, jnp.asarray(curve), task)


@struct.dataclass
class LayerToy:
    """A trained classifier's layer as a toy (toys.protocol): fresh semantic samples carried
    to layer `layer` (0 = the input, l = hidden layer l). Truth per sample: the class label,
    the plane position and the coordinate along the manifold."""

    basis: jax.Array  # [2, d] the isometry of the semantic plane
    state: nnx.State  # one network's parameters
    config: SemanticConfig = struct.field(pytree_node=False)
    layer: int = struct.field(pytree_node=False, default=1)

    @property
    def d(self) -> int:
        return self.config.d if self.layer == 0 else self.config.hidden

    def sample(self, key: jax.Array, n: int) -> Batch:
        data = sample(self.config, self.basis, key, n)
        activations = model(self.config, self.state).layer_activations(data.x)[0]
        return Batch(activations[self.layer], None, {"labels": data.labels, "positions": data.positions, "latent": data.latent})


def layer_names(config: SemanticConfig) -> tuple[str, ...]:
    """The layers `layer` reads: the input, then hidden1 … hidden{n_layers}."""
    return ("input", *(f"hidden{i}" for i in range(1, config.n_layers + 1)))


def layer(network: ClassifierResult, name: str, index: int = 0) -> LayerToy:
    """Classifier `index`'s layer `name` (`layer_names`) as a toy: fresh samples of its task carried there."""
    config, basis = network.task
    names = layer_names(config)
    network_training.check_layer(name, names)
    return LayerToy(jnp.asarray(basis), network_training.select(network.state, index), config, names.index(name))


def dense_layers(config: SemanticConfig, state: nnx.State) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The hidden layers' weights [in, out] and biases (float64), for the exact line analysis."""
    network = model(config, state)
    weights = [np.asarray(layer.kernel[...], np.float64) for layer in network.layers]
    biases = [np.asarray(layer.bias[...], np.float64) for layer in network.layers]
    return weights, biases


def logit_gradients(config: SemanticConfig, state: nnx.State, x) -> np.ndarray:
    """∇_x (z_1 − z_0): the input gradient of the class-1-versus-class-0 logit at each row, [N, d]."""
    network = model(config, state)

    def margin(row):
        logits = network(row[None])[0]
        return logits[1] - logits[0]

    return np.asarray(jax.vmap(jax.grad(margin))(jnp.asarray(x)))
