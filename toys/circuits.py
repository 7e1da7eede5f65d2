"""Boolean circuits with known computation, and an MLP trained to emulate one.

Axes: n circuit inputs, N input rows (all 2ⁿ), G gates, L hidden layers of width H,
S networks trained together (seeds).

Circuit: a layered DAG. Nodes 0 … n−1 are the inputs x₀ … x_{n−1}; node n + g is
gate g. Gate layer 1 reads the inputs, gate layer l > 1 reads gate layer l − 1. Each
gate is AND, OR or XOR of two distinct nodes of the layer below, or NOT of one. The
gates of the last layer are the circuit's outputs; the others are its internal gates,
each read by at least one gate of the next layer (so every internal gate matters to
some output). Generation rejects a gate whose truth table over all 2ⁿ inputs is
constant or equals (or complements) that of an earlier node, so every gate is a new
variable. The description is plain data (`to_dict` / `from_dict`, JSON-safe) and
reads as lines like `g7 = XOR(g2, g4)` (`describe`).

Truth: `evaluate(circuit, inputs)` gives every gate's value on each input row; over
all 2ⁿ rows (`all_inputs`) the gates are the toy's ground-truth binary variables.

Emulator: an MLP from ±1 inputs through L ReLU layers of width H to one logit per
output, trained with sigmoid cross-entropy on minibatches of rows of the full truth
table drawn inside one `lax.scan` (Adam), S seeds under `jax.vmap`. Its hidden
activations per layer ([L, N, H], `hidden_activations`) are the toy's activations.
Accuracy is measured on all 2ⁿ rows — the network is trained on all of them: this is
emulation of a known function, not generalisation.
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
from toys.network_training import train_networks

OPS = ("AND", "OR", "XOR", "NOT")
MAX_INPUTS = 16  # the truth table has 2ⁿ rows
_MAX_TRIES = 200  # draws per gate before generation gives up


@dataclasses.dataclass(frozen=True)
class CircuitConfig:
    """The circuit's shape and the emulator network (hashable; a jit static)."""

    n_inputs: int = setting(10, "n: input bits (2ⁿ rows)", low=2, high=MAX_INPUTS)
    depth: int = setting(3, "gate layers; the last one holds the outputs", low=2)
    width: int = setting(8, "gates per layer", low=1)
    not_probability: float = setting(0.1, "the rest split evenly between AND, OR and XOR", low=0, high=1, high_open=True)
    hidden: int = setting(64, "hidden units per layer of the emulator", low=1)
    n_layers: int = setting(3, "hidden layers of the emulator", low=1)
    steps: int = setting(4000, "emulator training steps", low=1)
    batch_size: int = setting(256, "rows per training step", low=1)
    learning_rate: float = setting(3e-3, "Adam learning rate", low=0, low_open=True)

    def validate(self, prefix: str = "") -> None:
        check_fields(self, prefix)


@dataclasses.dataclass(frozen=True)
class Gate:
    op: str
    inputs: tuple[int, ...]  # node indices (inputs are 0 … n−1, gate g is n + g)
    layer: int  # 1-based gate layer


@dataclasses.dataclass(frozen=True)
class Circuit:
    n_inputs: int
    gates: tuple[Gate, ...]

    @property
    def depth(self) -> int:
        return max(gate.layer for gate in self.gates)

    @property
    def layers(self) -> np.ndarray:
        """The gate layer of each gate, [G]."""
        return np.asarray([gate.layer for gate in self.gates])

    @property
    def outputs(self) -> np.ndarray:
        """Indices of the output gates (the last layer)."""
        return np.flatnonzero(self.layers == self.depth)

    @property
    def internal(self) -> np.ndarray:
        """Indices of the internal gates (every layer but the last)."""
        return np.flatnonzero(self.layers < self.depth)

    def node_name(self, node: int) -> str:
        return f"x{node}" if node < self.n_inputs else f"g{node - self.n_inputs}"

    def describe(self) -> list[str]:
        """One line per gate, e.g. 'g7 = XOR(g2, g4)   [layer 2]'."""
        return [
            f"g{g} = {gate.op}({', '.join(self.node_name(i) for i in gate.inputs)})   [layer {gate.layer}]"
            for g, gate in enumerate(self.gates)
        ]

    def to_dict(self) -> dict:
        return {
            "n_inputs": self.n_inputs,
            "gates": [{"op": gate.op, "inputs": list(gate.inputs), "layer": gate.layer} for gate in self.gates],
        }

    @classmethod
    def from_dict(cls, payload: dict) -> "Circuit":
        gates = tuple(Gate(g["op"], tuple(int(i) for i in g["inputs"]), int(g["layer"])) for g in payload["gates"])
        return cls(int(payload["n_inputs"]), gates)


def apply_op(op: str, a, b=None):
    """One gate on boolean arrays."""
    if op == "AND":
        return a & b
    if op == "OR":
        return a | b
    if op == "XOR":
        return a ^ b
    if op == "NOT":
        return ~a
    raise ValueError(f"unknown gate {op!r}; allowed {', '.join(OPS)}")


def all_inputs(n: int) -> np.ndarray:
    """Every input row, [2ⁿ, n] bool; row r holds the binary digits of r (x₀ least significant)."""
    rows = np.arange(2**n)[:, None]
    return ((rows >> np.arange(n)[None]) & 1).astype(bool)


def evaluate(circuit: Circuit, inputs) -> np.ndarray:
    """Every gate's value on each input row: inputs [N, n] bool → gates [N, G] bool."""
    inputs = np.asarray(inputs, bool)
    if inputs.shape[1] != circuit.n_inputs:
        raise ValueError(f"inputs: got {inputs.shape[1]} columns, the circuit has {circuit.n_inputs} inputs")
    nodes = list(inputs.T)
    for gate in circuit.gates:
        nodes.append(apply_op(gate.op, *(nodes[i] for i in gate.inputs)))
    return np.stack(nodes[circuit.n_inputs :], axis=1)


def generate(config: CircuitConfig, key: jax.Array) -> Circuit:
    """A random layered circuit (see the module docstring); the draw is a function of `key`."""
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    n = config.n_inputs
    table = list(all_inputs(n).T)  # truth table of every node so far, each [2ⁿ]
    seen = {column.tobytes() for column in table} | {(~column).tobytes() for column in table}
    previous = list(range(n))
    gates: list[Gate] = []
    op_probabilities = [(1 - config.not_probability) / 3] * 3 + [config.not_probability]
    for layer in range(1, config.depth + 1):
        unused = list(rng.permutation(previous)) if layer > 1 else []  # internal gates must be read
        current = []
        for _ in range(config.width):
            for _attempt in range(_MAX_TRIES):
                op = str(rng.choice(OPS, p=op_probabilities)) if len(previous) > 1 else "NOT"
                arity = 1 if op == "NOT" else 2
                first = unused[0] if unused else int(rng.choice(previous))
                others = [i for i in previous if i != first]
                operands = (first,) if arity == 1 else (first, int(rng.choice(others)))
                column = apply_op(op, *(table[i] for i in operands))
                constant = column.all() or not column.any()
                if constant or column.tobytes() in seen:
                    continue
                break
            else:
                raise ConfigError(
                    f"circuit: could not draw {config.width} distinct non-constant gates for layer {layer} "
                    f"from {len(previous)} nodes; lower width or raise n_inputs"
                )
            for i in operands:
                if i in unused:
                    unused.remove(i)
            seen |= {column.tobytes(), (~column).tobytes()}
            table.append(column)
            current.append(len(table) - 1)
            gates.append(Gate(op, tuple(int(i) for i in operands), layer))
        if unused:
            # more gates below than slots above: fail loudly rather than leave unread gates
            raise ConfigError(f"circuit: layer {layer} could not read every gate of layer {layer - 1}; raise width (got {config.width})")
        previous = current
    return Circuit(n, tuple(gates))


# --- the emulator network --------------------------------------------------------------


class EmulatorMLP(nnx.Module):
    def __init__(self, config: CircuitConfig, n_outputs: int, *, rngs: nnx.Rngs):
        widths = [config.n_inputs] + [config.hidden] * config.n_layers
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])])
        self.out = nnx.Linear(config.hidden, n_outputs, rngs=rngs)

    def hidden_activations(self, x: jax.Array) -> jax.Array:
        """Post-ReLU activations of every hidden layer, [L, N, H]."""
        layers = []
        for layer in self.layers:
            x = jax.nn.relu(layer(x))
            layers.append(x)
        return jnp.stack(layers)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(self.hidden_activations(x)[-1])


def signed(inputs) -> jax.Array:
    """Boolean inputs as the network sees them: ±1 floats."""
    return jnp.where(jnp.asarray(inputs), 1.0, -1.0)


def _build(config: CircuitConfig, n_outputs: int):
    return lambda rngs: EmulatorMLP(config, n_outputs, rngs=rngs)


def _graphdef(config: CircuitConfig, n_outputs: int):
    return network_training.definition(_build(config, n_outputs))


def initial_state(config: CircuitConfig, n_outputs: int, key) -> nnx.State:
    """The parameters of a freshly initialised emulator (the untrained control)."""
    return network_training.parameters(_build(config, n_outputs), key)


class Task(NamedTuple):
    """What an emulator is trained on: the config and the circuit whose outputs it learns."""

    config: CircuitConfig
    circuit: Circuit


def task(config: CircuitConfig, key: jax.Array) -> Task:
    """The config with a circuit drawn from `key` (`generate`)."""
    return Task(config, generate(config, key))


class EmulatorResult(NamedTuple):
    state: nnx.State  # leaves [S, ...]
    loss_curve: jax.Array  # [steps, S]
    bit_accuracy: jax.Array  # [S]: share of (row, output) bits right over all 2ⁿ rows
    exact_accuracy: jax.Array  # [S]: share of rows with every output right
    task: Task  # what the emulators were trained on


@dataclasses.dataclass(frozen=True)
class _Training:
    """Adam on sigmoid cross-entropy over batches of truth-table rows (a `network_training.NetworkTask`);
    per-run data: (inputs ±1 [2ⁿ, n], targets [2ⁿ, outputs])."""

    config: CircuitConfig
    n_outputs: int

    def init(self, key):
        return initial_state(self.config, self.n_outputs, key)

    def optimizer(self):
        return optax.adam(self.config.learning_rate)

    def loss(self, state, key, data):
        x, targets = data
        rows = jax.random.randint(key, (self.config.batch_size,), 0, x.shape[0])
        logits = network_training.bind(_graphdef(self.config, self.n_outputs), state)(x[rows])
        return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, targets[rows]))


@functools.partial(jax.jit, static_argnames=("config", "n_outputs"))
def _accuracies(config: CircuitConfig, n_outputs: int, state, x, targets):
    def accuracies(state):
        correct = (network_training.bind(_graphdef(config, n_outputs), state)(x) > 0) == (targets > 0.5)
        return jnp.mean(correct), jnp.mean(jnp.all(correct, axis=1))

    return jax.vmap(accuracies)(state)


def train(task: Task, keys: jax.Array, runtime: Runtime | None = None) -> EmulatorResult:
    """Train one emulator per key [S] on the task's circuit's outputs, together; raises DivergenceError
    naming the step."""
    config, circuit = task
    inputs = all_inputs(circuit.n_inputs)
    targets = jnp.asarray(evaluate(circuit, inputs)[:, circuit.outputs].astype(np.float32))
    x, n_outputs = signed(inputs), int(targets.shape[1])
    per_run = jax.tree.map(lambda a: jnp.broadcast_to(a, (keys.shape[0], *a.shape)), (x, targets))
    state, curve = train_networks(
        _Training(config, n_outputs),
        keys,
        config.steps,
        data=per_run,
        runtime=runtime,
        what=f"circuit emulator (n={circuit.n_inputs}, {len(circuit.gates)} gates)",
    )
    bit, exact = _accuracies(config, n_outputs, state, x, targets)
    return EmulatorResult(state, jnp.asarray(curve), bit, exact, task)


def hidden_activations(config: CircuitConfig, circuit: Circuit, state: nnx.State) -> np.ndarray:
    """The hidden activations of the network with parameters `state` (trained or not) on all 2ⁿ rows,
    [L, N, H] (float32)."""
    model = network_training.bind(_graphdef(config, len(circuit.outputs)), state)
    return np.asarray(model.hidden_activations(signed(all_inputs(circuit.n_inputs))))


def layer_names(config: CircuitConfig) -> tuple[str, ...]:
    """The layers `layer` reads: hidden1 … hidden{n_layers}."""
    return tuple(f"hidden{i}" for i in range(1, config.n_layers + 1))


def layer(network: EmulatorResult, name: str, index: int = 0) -> stored.StoredToy:
    """Emulator `index`'s hidden layer `name` on all 2ⁿ rows of the truth table as a toy (training
    streams draw rows uniformly; the truth, the gates' values per row, is `evaluate`)."""
    config, circuit = network.task
    names = layer_names(config)
    network_training.check_layer(name, names)
    activations = hidden_activations(config, circuit, network_training.select(network.state, index))
    return stored.from_arrays(activations[names.index(name)])
