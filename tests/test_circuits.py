"""toys.circuits and sae.readers.detectors: the evaluator against plain Python, generator guarantees,
AUROC and probes against references and negative controls, and the `circuits` run contract."""

import itertools
import json

import jax
import numpy as np
import pytest
from cli_args import sets
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from experiments.runner import cli
from sae.readers import detectors
from toys import circuits
from toys.engine.config import ConfigError


def python_value(circuit: circuits.Circuit, row: tuple[bool, ...], node: int) -> bool:
    """A node's value on one input row, by recursion with Python's own boolean operators."""
    if node < circuit.n_inputs:
        return row[node]
    gate = circuit.gates[node - circuit.n_inputs]
    values = [python_value(circuit, row, i) for i in gate.inputs]
    return {"AND": lambda a, b: a and b, "OR": lambda a, b: a or b, "XOR": lambda a, b: a != b, "NOT": lambda a: not a}[gate.op](*values)


circuit_shapes = st.tuples(st.integers(3, 6), st.integers(2, 3), st.integers(1, 4), st.integers(0, 10_000))


def draw(shape):
    n, depth, width, seed = shape
    try:
        return circuits.generate(circuits.CircuitConfig(n_inputs=n, depth=depth, width=width, not_probability=0.2), jax.random.key(seed))
    except ConfigError:
        assume(False)


@given(circuit_shapes)
def test_the_vectorised_evaluator_matches_plain_python(shape):
    circuit = draw(shape)
    inputs = circuits.all_inputs(circuit.n_inputs)
    values = circuits.evaluate(circuit, inputs)
    for r in range(0, len(inputs), 3):
        row = tuple(bool(v) for v in inputs[r])
        expected = [python_value(circuit, row, circuit.n_inputs + g) for g in range(len(circuit.gates))]
        assert values[r].tolist() == expected


@given(circuit_shapes)
def test_generated_gates_are_new_non_constant_variables_and_every_internal_gate_is_read(shape):
    circuit = draw(shape)
    inputs = circuits.all_inputs(circuit.n_inputs)
    columns = np.concatenate([inputs, circuits.evaluate(circuit, inputs)], axis=1).T
    seen = set()
    for column in columns:
        assert column.any() and not column.all() or len(seen) < circuit.n_inputs
        assert column.tobytes() not in seen and (~column).tobytes() not in seen
        seen.add(column.tobytes())
    layers = circuit.layers
    read = {i for gate in circuit.gates for i in gate.inputs}
    for g in circuit.internal:
        assert circuit.n_inputs + g in read
    for gate in circuit.gates:  # layered: a gate reads only the layer below
        for i in gate.inputs:
            below = 0 if i < circuit.n_inputs else layers[i - circuit.n_inputs]
            assert below == gate.layer - 1
    assert circuits.Circuit.from_dict(json.loads(json.dumps(circuit.to_dict()))) == circuit


def test_all_inputs_enumerates_every_row_once():
    rows = circuits.all_inputs(4)
    assert rows.shape == (16, 4)
    assert {tuple(r) for r in rows.tolist()} == set(itertools.product([False, True], repeat=4))


def test_impossible_circuits_are_refused_with_the_field_named():
    with pytest.raises(ConfigError, match="n_inputs"):
        circuits.CircuitConfig(n_inputs=20).validate()
    with pytest.raises(ConfigError, match="width"):  # 2 inputs admit few distinct gates
        circuits.generate(circuits.CircuitConfig(n_inputs=2, width=12), jax.random.key(0))


@given(st.integers(0, 1000), st.integers(20, 60))
def test_auroc_matches_scikit_learn_with_ties(seed, n):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, (n, 3)).astype(float)  # many ties
    labels = rng.random((n, 2)) < 0.4
    assume(labels.any(axis=0).all() and (~labels).any(axis=0).all())
    table = detectors.auroc(scores, labels)
    for j, g in itertools.product(range(3), range(2)):
        assert table[j, g] == pytest.approx(roc_auc_score(labels[:, g], scores[:, j]))


def test_best_unit_reads_either_way_and_random_units_stay_near_chance():
    rng = np.random.default_rng(0)
    labels = rng.random((400, 1)) < 0.5
    scores = np.concatenate([rng.random((400, 5)), (~labels).astype(float)], axis=1)  # unit 5 = NOT the variable
    best, unit = detectors.best_unit_auroc(scores, labels)
    assert best[0] == 1.0 and unit[0] == 5
    best_random, _ = detectors.best_unit_auroc(scores[:, :5], labels)
    assert best_random[0] < 0.6


def test_probe_reads_linear_gates_from_the_inputs_but_not_xor():
    inputs = circuits.all_inputs(6)
    x = np.where(inputs, 1.0, -1.0)
    labels = np.stack([inputs[:, 0] & inputs[:, 1], inputs[:, 2] ^ inputs[:, 3]], axis=1)
    train_rows = np.random.default_rng(0).permutation(64) < 32
    accuracy = detectors.probe_accuracy(x, labels, train_rows)
    assert accuracy[0] == 1.0
    assert accuracy[1] <= 0.7  # negative control: XOR is not linear in its inputs
    constant = detectors.probe_accuracy(x, np.ones((64, 1), bool), train_rows)
    assert constant[0] == 0.5


TINY_CIRCUITS = sets(
    "toy.n_inputs=6",
    "toy.width=4",
    "toy.depth=2",
    "toy.hidden=32",
    "toy.n_layers=2",
    "toy.steps=1500",
    "toy.batch_size=64",
    "sae_sizes=16",
    "k=2",
    "sae_steps=300",
    "sae_batch_size=64",
)


def test_circuits_results_contract(tmp_path, capsys):
    assert cli.main(["run", "circuits", "--quick", "--out", str(tmp_path), *TINY_CIRCUITS]) == 0
    folder = next((tmp_path / "circuits").iterdir())
    results = json.loads((folder / "results.json").read_text())
    assert results["mlp_accuracy"] >= 0.99
    assert set(results["gate_recovery"]) == {"probe", "sae", "random", "neuron"}
    assert all(0.0 <= v <= 1.0 for v in results["gate_recovery"].values())
    # the probe reads at least what a single neuron, latent or random atom reads
    assert results["gate_recovery"]["probe"] >= results["gate_recovery"]["random"]
    internal = [g for g in results["gates"] if g["internal"]]
    assert len(internal) == results["n_internal_gates"] == 4
    assert all(len(g["probe"]) == 2 for g in internal)
    assert circuits.Circuit.from_dict(results["circuit"]).describe() == results["description"]
    assert {p.name for p in (folder / "figures").iterdir()} == {"gate_recovery.png"}
    # toylab evaluate retrains the emulator from the config with the run's keys and reads each layer SAE
    # on its own layer, through the run's grader: every explained variance the table holds, equal
    assert cli.main(["evaluate", str(folder)]) == 0
    agreement = json.loads((folder / "dictionaries" / "results.json").read_text())["agreement_with_run"]
    n_saved = len(list((folder / "dictionaries").glob("*/cfg.json")))  # a layer SAE per size and hidden layer
    assert n_saved == 2 * len(json.loads((folder / "config.json").read_text())["config"]["sae_sizes"]), n_saved
    assert agreement["compared"] == n_saved and agreement["equal"] == n_saved, agreement
    # a dictionary whose recorded layer the network lacks: one line naming its cfg.json, exit 2, nothing written
    (folder / "dictionaries" / "results.json").unlink()
    cfg = next((folder / "dictionaries").glob("*/cfg.json"))
    edited = json.loads(cfg.read_text())
    edited["toylab"]["table"]["setting"]["layer"] = 9
    cfg.write_text(json.dumps(edited))
    assert cli.main(["evaluate", str(folder)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cfg.json" in error and "layer" in error and "got 9" in error, error
    assert not (folder / "dictionaries" / "results.json").exists()
