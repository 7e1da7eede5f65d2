"""Training the toy networks on the lab's one loop, and the NNX split/merge they share.

Axes: S networks trained together.

`train_networks(task, keys, steps)` trains S networks (one per key) together: `jax.vmap`
over networks inside the segmented scan of `toys.engine.loop` (so network toys get a
progress bar, the divergence stop at a step and step-exact Ctrl-C, as SAEs do). A toy
describes its training as a `NetworkTask` — a frozen dataclass with `init`, `loss` and
`optimizer` — so equal tasks reuse one compiled program. Each step's batch is drawn inside
the loss from a key folded from the network's key and the step (a full-batch loss ignores
it), so nothing is materialised; per-run data (a pytree with leading axis [S]: a TMS
instance's feature probability and importances, a modular network's training mask)
reaches network s's loss as its third argument. It serves tms, modular, quanta, semantic,
circuits and the fresh heads.

NNX, the fast way (split once, train the pure state with jit/vmap/scan + optax, merge
inside the loss): `definition(build)` is the graph of the module `build(rngs)` makes
(traced abstractly), `parameters(build, key)` a fresh initialisation's state, and
`bind(definition, state)` the module to call.

Every network toy has one shape (tms, modular, quanta, semantic, circuits): `train(task, keys,
runtime) → network`, where `task` is the toy's config with whatever was drawn for it (a TMS
sweep's feature probabilities, a circuit, the quanta's parity subsets, the semantic plane), and
the network carries its task; `layer(network, name, index=0) → Toy` is network `index`'s layer
`name` (one of the module's `layer_names(task)`) as a toy of `toys.protocol`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from toys.engine import loop
from toys.engine.runtime import Runtime


def check_layer(name: str, names: tuple[str, ...]) -> None:
    """One line naming the layer and the allowed names, for a network toy's `layer(network, name)`."""
    if name not in names:
        raise ValueError(f"layer: got {name!r}, allowed {', '.join(map(repr, names))}")


def definition(build: Callable[[nnx.Rngs], nnx.Module]) -> nnx.GraphDef:
    """The graph definition of the module `build(rngs)` (no parameters are created)."""
    return nnx.split(nnx.eval_shape(lambda: build(nnx.Rngs(0))))[0]


def parameters(build: Callable[[nnx.Rngs], nnx.Module], key: jax.Array) -> nnx.State:
    """The parameters of a fresh `build(nnx.Rngs(key))` (for instance an untrained control)."""
    return nnx.split(build(nnx.Rngs(key)))[1]


def bind(graph: nnx.GraphDef, state: nnx.State) -> nnx.Module:
    """The module with these parameters (nnx.merge)."""
    return nnx.merge(graph, state)


class NetworkTask(Protocol):
    """What one toy network's training is: a frozen, hashable dataclass (it keys the compiled
    program, so equal tasks reuse it) with
    - init(key) -> the parameters of one network (a pytree, e.g. an nnx.State);
    - loss(state, key, data) -> scalar: draws its own batch from `key` (a full-batch loss
      ignores it) and scores the network; `data` is the run's slice of the per-run data (or None);
    - optimizer() -> the optax transformation."""

    def init(self, key: jax.Array): ...

    def loss(self, state, key: jax.Array, data) -> jax.Array: ...

    def optimizer(self) -> optax.GradientTransformation: ...


@functools.partial(jax.jit, static_argnames="task")
def _initial_carry(task: NetworkTask, init_keys: jax.Array):
    def init(key):
        state = task.init(key)
        return state, task.optimizer().init(state)

    return jax.vmap(init)(init_keys)


def _network_step(task: NetworkTask, carry, inputs, step):
    """One step of every network (toys.engine.loop's step); returns (carry, loss [S])."""
    state, opt_state = carry
    data_keys, data = inputs

    def step_one(state, opt_state, key, data_s):
        value, grads = jax.value_and_grad(task.loss)(state, key, data_s)
        updates, opt_state = task.optimizer().update(grads, opt_state, state)
        return optax.apply_updates(state, updates), opt_state, value

    step_keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(data_keys)
    state, opt_state, value = jax.vmap(step_one)(state, opt_state, step_keys, data)
    return (state, opt_state), value


def train_networks(
    task: NetworkTask,
    keys: jax.Array,
    steps: int,
    *,
    what: str,
    data=None,
    init_keys: jax.Array | None = None,
    runtime: Runtime | None = None,
):
    """Train one network per key [S] through the lab's segmented loop (`toys.engine.loop`: a
    progress bar, a NaN/inf loss stops the run naming its step, Ctrl-C lands between segments);
    returns (states with leaves [S, ...], loss curve [steps, S]).

    Network s starts from task.init(init_keys[s]) (default: fold_in(keys[s], 0)) and at step t
    draws with fold_in(fold_in(keys[s], 1), t); per-run `data` has a leading axis [S].
    what: names the training in progress lines and errors.
    """
    if init_keys is None:
        init_keys = jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys)
    carry = _initial_carry(task, init_keys)
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    (state, _), curve = loop.run(_network_step, task, carry, (data_keys, data), steps, what=what, runtime=runtime)
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


@dataclasses.dataclass(frozen=True)
class _HeadTraining:
    """Full-batch AdamW (b2 = 0.98) on cross-entropy over the masked rows (a `NetworkTask`);
    per-run data: (inputs [N, D], mask [N], labels [N])."""

    inputs: int
    hidden: int
    classes: int
    learning_rate: float
    weight_decay: float

    def build(self, rngs):
        return Head(self.inputs, self.hidden, self.classes, rngs=rngs)

    def init(self, key):
        return parameters(self.build, key)

    def optimizer(self):
        return optax.adamw(self.learning_rate, b1=0.9, b2=0.98, weight_decay=self.weight_decay)

    def loss(self, state, key, data):
        x, mask, labels = data
        losses = optax.softmax_cross_entropy_with_integer_labels(bind(definition(self.build), state)(x), labels)
        return jnp.sum(jnp.where(mask, losses, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


@functools.partial(jax.jit, static_argnames="task")
def _head_accuracies(task: _HeadTraining, state, inputs, masks, labels):
    def accuracies(state, x, mask):
        correct = jnp.argmax(bind(definition(task.build), state)(x), axis=-1) == labels
        return jnp.sum(correct & mask) / jnp.maximum(jnp.sum(mask), 1), jnp.sum(correct & ~mask) / jnp.maximum(jnp.sum(~mask), 1)

    return jax.vmap(accuracies)(state, inputs, masks)


class Heads(NamedTuple):
    """G trained heads: their accuracies on the rows they trained on and on the others, [G] each,
    and `logits(g, x)`: head g applied to other inputs x [N, D]."""

    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    state: nnx.State  # leaves [G, ...]
    graph: nnx.GraphDef

    def logits(self, index: int, x) -> np.ndarray:
        return np.asarray(bind(self.graph, select(self.state, index))(jnp.asarray(x, jnp.float32)))


def train_heads(
    inputs, labels, masks, keys, *, hidden: int, learning_rate: float, weight_decay: float, steps: int, runtime: Runtime | None = None
) -> Heads:
    """Fresh `Head`s trained full batch (AdamW, b2 = 0.98, the given weight decay), one per input
    space and mask — inputs [G, N, D], labels [N], masks [G, N] (True: trained on), keys [G] — all
    G together. Raises DivergenceError naming the step if a loss turns NaN/inf."""
    labels = jnp.asarray(labels, jnp.int32)
    inputs, masks = jnp.asarray(inputs, jnp.float32), jnp.asarray(masks)
    task = _HeadTraining(inputs.shape[-1], hidden, int(labels.max()) + 1, float(learning_rate), float(weight_decay))
    state, _ = train_networks(
        task,
        keys,
        steps,
        data=(inputs, masks, jnp.broadcast_to(labels, masks.shape)),
        what=f"heads on {inputs.shape[0]} representations",
        runtime=runtime,
    )
    train_accuracy, test_accuracy = _head_accuracies(task, state, inputs, masks, labels)
    return Heads(np.asarray(train_accuracy), np.asarray(test_accuracy), state, definition(task.build))
