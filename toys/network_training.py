"""The one training loop of the toy networks, and the NNX split/merge they share.

Axes: S networks trained together.

`train_networks` trains S networks (one per key) together: `jax.vmap` over networks
inside one `lax.scan` over steps. Each step's batch is drawn inside the loss from a key
folded from the network's key and the step (a full-batch loss ignores it), so nothing
is materialised; per-run data (a pytree with leading axis [S]: a TMS instance's feature
probability and importances, a modular network's training mask) reaches network s's
loss as its third argument. Call it inside a jit-compiled function. It serves tms,
modular, quanta, semantic and circuits.

NNX, the fast way (split once, train the pure state with jit/vmap/scan + optax, merge
inside the loss): `definition(build)` is the graph of the module `build(rngs)` makes
(traced abstractly), `parameters(build, key)` a fresh initialisation's state, and
`bind(definition, state)` the module to call.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from sae import progress


def definition(build: Callable[[nnx.Rngs], nnx.Module]) -> nnx.GraphDef:
    """The graph definition of the module `build(rngs)` (no parameters are created)."""
    return nnx.split(nnx.eval_shape(lambda: build(nnx.Rngs(0))))[0]


def parameters(build: Callable[[nnx.Rngs], nnx.Module], key: jax.Array) -> nnx.State:
    """The parameters of a fresh `build(nnx.Rngs(key))` (for instance an untrained control)."""
    return nnx.split(build(nnx.Rngs(key)))[1]


def bind(graph: nnx.GraphDef, state: nnx.State) -> nnx.Module:
    """The module with these parameters (nnx.merge)."""
    return nnx.merge(graph, state)


def train_networks(init_state, loss, optimizer: optax.GradientTransformation, keys: jax.Array, steps: int,
                   data=None, init_keys: jax.Array | None = None):
    """Train one network per key [S]; returns (states with leaves [S, ...], loss curve [steps, S]).

    init_state(key) -> parameters of one network (a pytree, e.g. an nnx.State), from
    init_keys [S] (default: fold_in(key, 0) of each key);
    loss(state, key) -> scalar, or loss(state, key, data_s) when per-run `data` (leading
    axis [S]) is given: draws its own batch from `key` (fold_in(fold_in(key, 1), step))
    and scores the network.
    """
    if init_keys is None:
        init_keys = jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys)
    evaluate = loss if data is not None else (lambda state, key, _: loss(state, key))

    def init(key):
        state = init_state(key)
        return state, optimizer.init(state)

    def step_one(state, opt_state, key, data_s):
        value, grads = jax.value_and_grad(evaluate)(state, key, data_s)
        updates, opt_state = optimizer.update(grads, opt_state, state)
        return optax.apply_updates(state, updates), opt_state, value

    state, opt_state = jax.vmap(init)(init_keys)
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    data_axis = None if data is None else 0

    def body(carry, step):
        state, opt_state = carry
        step_keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(data_keys)
        state, opt_state, value = jax.vmap(step_one, in_axes=(0, 0, 0, data_axis))(state, opt_state, step_keys, data)
        progress.report(step, steps, value)
        return (state, opt_state), value

    (state, _), curve = jax.lax.scan(body, (state, opt_state), jnp.arange(steps))
    return state, curve


def select(state, index: int):
    """Network `index` of a stacked state (leaves [S, ...] → [...])."""
    return jax.tree.map(lambda leaf: leaf[index], state)


class Head(nnx.Module):
    """A fresh head: logits = ReLU(x W + b) W_out + b_out on inputs x [N, D] (hidden H)."""

    def __init__(self, inputs: int, hidden: int, classes: int, *, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(inputs, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(jax.nn.relu(self.hidden(x)))


@functools.partial(jax.jit, static_argnames=("hidden", "classes", "steps"))
def _train_heads(inputs, labels, masks, keys, learning_rate, weight_decay, hidden: int, classes: int, steps: int):
    build = lambda rngs: Head(inputs.shape[-1], hidden, classes, rngs=rngs)  # noqa: E731
    graph = definition(build)
    optimizer = optax.adamw(learning_rate, b1=0.9, b2=0.98, weight_decay=weight_decay)

    def loss(state, key, data):
        x, mask = data
        losses = optax.softmax_cross_entropy_with_integer_labels(bind(graph, state)(x), labels)
        return jnp.sum(jnp.where(mask, losses, 0.0)) / jnp.maximum(jnp.sum(mask), 1)

    state, curve = train_networks(lambda key: parameters(build, key), loss, optimizer, keys, steps, data=(inputs, masks))

    def accuracies(state, x, mask):
        correct = jnp.argmax(bind(graph, state)(x), axis=-1) == labels
        return jnp.sum(correct & mask) / jnp.maximum(jnp.sum(mask), 1), jnp.sum(correct & ~mask) / jnp.maximum(jnp.sum(~mask), 1)

    train_accuracy, test_accuracy = jax.vmap(accuracies)(state, inputs, masks)
    return state, train_accuracy, test_accuracy, curve


class Heads(NamedTuple):
    """G trained heads: their accuracies on the rows they trained on and on the others, [G] each,
    and `logits(g, x)`: head g applied to other inputs x [N, D]."""

    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    state: nnx.State  # leaves [G, ...]
    graph: nnx.GraphDef

    def logits(self, index: int, x) -> np.ndarray:
        return np.asarray(bind(self.graph, select(self.state, index))(jnp.asarray(x, jnp.float32)))


def train_heads(inputs, labels, masks, keys, *, hidden: int, learning_rate: float, weight_decay: float,
                steps: int) -> Heads:
    """Fresh `Head`s trained full batch (AdamW, b2 = 0.98, the given weight decay), one per input
    space and mask — inputs [G, N, D], labels [N], masks [G, N] (True: trained on), keys [G] — all
    G in one compiled call. Raises progress.DivergenceError naming the step if a loss turns NaN/inf."""
    labels = jnp.asarray(labels, jnp.int32)
    classes = int(labels.max()) + 1
    state, train_accuracy, test_accuracy, curve = _train_heads(
        jnp.asarray(inputs, jnp.float32), labels, jnp.asarray(masks), keys, learning_rate, weight_decay,
        hidden, classes, steps)
    progress.check_finite(curve, f"heads on {inputs.shape[0]} representations")
    graph = definition(lambda rngs: Head(inputs.shape[-1], hidden, classes, rngs=rngs))
    return Heads(np.asarray(train_accuracy), np.asarray(test_accuracy), state, graph)
