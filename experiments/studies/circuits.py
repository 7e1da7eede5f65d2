"""Experiment `circuits`: which readers find a known circuit's gates inside a network that emulates it?

A random layered boolean circuit (toys.circuits) is drawn; an MLP is trained on all
2ⁿ input rows to emulate its outputs. Every internal gate is a ground-truth binary
variable; on every hidden layer it is read by
- `probe`: a logistic-regression probe on the layer's activations, held-out balanced
  accuracy (train/test split of the 2ⁿ rows; chance 0.5 whatever the gate's balance)
  — the linear read-out ceiling;
- `sae`: the best single latent of TopK SAEs trained on that layer, one per size in
  `sae_sizes` (AUROC either way; the best size per gate and layer — a large SAE on 2ⁿ
  distinct rows splits a gate into many rarely firing latents, a small one may not);
- `neuron`: the best single neuron (AUROC);
- `random`: the best atom of random ±1/√H dictionaries of the same sizes encoded by
  TopK with the same k (AUROC) — chance for a single unit given as many tries.
(sae.readers.detectors.) A gate counts as recovered by a reader when it reads it at ≥
`threshold` (balanced accuracy for the probe, AUROC for single units) in some hidden layer;
`gate_recovery` is the share of internal gates recovered. The first such layer is
recorded per gate and reader.

Baselines for the probe: the same probe on the raw ±1 inputs (gates that are linear in
the inputs, such as AND/OR of two inputs, need no network) and on the hidden layers of
the untrained network (random ReLU features).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import numpy as np

from experiments.kernel import EXPLAINED_VARIANCE
from experiments.recovery import saved_dictionaries, seed_keys
from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import architectures, pipeline
from sae.readers import detectors
from toys import circuits, network_training, stored
from toys.engine.config import ConfigError, check_fields, setting
from toys.engine.runtime import Runtime

NAME = "circuits"
DESCRIPTION = "MLP emulating a random boolean circuit: are its gates read by probes, SAE latents, neurons, random atoms?"
READERS = ("probe", "sae", "neuron", "random")


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    toy: circuits.CircuitConfig = circuits.CircuitConfig(n_inputs=12, width=10, steps=6000)
    sae_sizes: tuple[int, ...] = setting((16, 64, 256), "SAE sizes per hidden layer", low=2)
    k: int = setting(4, low=1, high="min(sae_sizes)")
    sae_steps: int = setting(5000, "SAE training steps", low=1)
    sae_batch_size: int = setting(256, "SAE batch", low=1)
    sae_learning_rate: float = setting(1e-3, "SAE learning rate", low=0, low_open=True)
    probe_train_fraction: float = setting(0.5, "share of rows the probes train on", low=0, low_open=True, high=1, high_open=True)
    probe_c: float = setting(1.0, "inverse L2 strength of the logistic probes", low=0, low_open=True)
    threshold: float = setting(0.95, "score at which a gate counts as read", low=0.5, high=1)

    @classmethod
    def quick(cls) -> "Config":
        return cls(toy=circuits.CircuitConfig(), sae_steps=3000)

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")
        try:  # a shape with too few distinct gates fails here, before anything is written
            draw_circuit(self)
        except ConfigError as error:  # named by the study's key for the toy's settings
            raise ConfigError(f"toy: {str(error).removeprefix('circuit: ')}") from None


def draw_circuit(config: Config) -> circuits.Circuit:
    """The run's circuit: a function of the seed alone."""
    return circuits.task(config.toy, seeding.stream(seeding.root_key(config.seed), "circuit")).circuit


def train_layer_saes(config: Config, activations: np.ndarray, size: int, key, runtime=None) -> tuple:
    """One TopK SAE of `size` latents per hidden layer (activations [L, N, H]), all in one vmapped trainer call."""
    n_layers = activations.shape[0]
    hps = pipeline.stack([architectures.hparams(config.sae_learning_rate, 0.0, config.k)] * n_layers)
    layers = stored.StoredToy(jax.numpy.asarray(activations))  # run g streams rows of layer g
    result = pipeline.fit(
        "topk",
        layers,
        hps,
        seed_keys(key, size, list(range(n_layers))),
        n_latents=size,
        steps=config.sae_steps,
        batch_size=config.sae_batch_size,
        per_run_data=True,
        label=f"topk m={size} on each of {n_layers} hidden layers",
        runtime=runtime,
    )
    return result.params, hps


def dictionary_codes(config: Config, acts: np.ndarray, size: int, key_sae, key_random, runtime=None) -> dict:
    """Per layer, the codes [L, N, size] of a trained TopK SAE and of a random dictionary (TopK, same k)."""
    params, hps = train_layer_saes(config, acts, size, key_sae, runtime)
    sae_codes = np.asarray(pipeline.encode("topk", params, hps, acts))
    keys = jax.random.split(jax.random.fold_in(key_random, size), len(acts))
    random_params = pipeline.chance_dictionaries(keys, acts.shape[2], size)
    layers = range(len(acts))
    return {
        "sae": sae_codes,
        "random": np.asarray(pipeline.chance_codes(random_params, config.k, acts)),
        "explained_variance": pipeline.explained_variance("topk", params, hps, acts),
        "live_latents": [int(np.sum(np.any(c > 0, axis=0))) for c in sae_codes],
        "saved": saved_dictionaries(
            "topk",
            params,
            hps,
            [f"topk-layer{layer + 1}-{size}-seed{config.seed}" for layer in layers],
            [{"arm": "sae", "size": size, "seed": config.seed, "setting": {"layer": layer + 1}} for layer in layers],
        ),
    }


class RunKeys(NamedTuple):
    """The run's keys, derived once: `run` and `evaluation_source` both read them here."""

    network: jax.Array
    sae: jax.Array
    random: jax.Array  # the random dictionaries (chance)
    split: jax.Array  # the probes' training rows
    untrained: jax.Array  # the untrained network (a baseline)


def run_keys(config: Config) -> RunKeys:
    return RunKeys(*jax.random.split(seeding.root_key(config.seed), 5))


def trained_layers(config: Config, keys: RunKeys, runtime=None):
    """The run's circuit, its trained emulator and every hidden layer on all rows ([L, N, H])."""
    circuit = draw_circuit(config)
    result = circuits.train(circuits.Task(config.toy, circuit), keys.network[None], runtime)
    return circuit, result, circuits.hidden_activations(config.toy, circuit, network_training.select(result.state, 0))


def evaluation_source(config: Config) -> dict:
    """Each layer SAE's samples (its layer's activations on every row, by the layer the saved dictionary
    records) and the grader the run applied, rebuilt from the run's config by retraining the emulator
    with the run's keys (for `toylab evaluate`)."""
    _, _, acts = trained_layers(config, run_keys(config))

    def layer_of(where: dict | None) -> np.ndarray:
        layer = (where or {}).get("setting", {}).get("layer")
        if not isinstance(layer, int) or not 1 <= layer <= len(acts):
            raise ConfigError(f"a dictionary records no hidden layer in 1..{len(acts)} (toylab.table.setting.layer: got {layer!r})")
        return acts[layer - 1]

    return {"x_of": layer_of, "d": int(acts.shape[2]), "graders": (EXPLAINED_VARIANCE,)}


def first_layer(scores_by_layer: np.ndarray, threshold: float) -> list:
    """Per gate the first hidden layer (1-based) whose score reaches the threshold, else None; scores [L, G]."""
    hit = scores_by_layer >= threshold
    return [int(np.argmax(hit[:, g])) + 1 if hit[:, g].any() else None for g in range(hit.shape[1])]


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of the layers' activations on all 2ⁿ inputs and the largest SAEs' codes on them."""
    rows, layers = 2**config.toy.n_inputs, config.toy.n_layers
    floats = rows * layers * (config.toy.hidden + 2 * max(config.sae_sizes))
    return int(memory.SAFETY * memory.FLOAT * floats), "sae_sizes"


def run(config: Config, runtime: Runtime | None = None) -> Result:
    keys = run_keys(config)
    key_sae, key_random, key_split, key_untrained = keys.sae, keys.random, keys.split, keys.untrained
    # every hidden layer on all rows in one pass ([L, N, H]); `circuits.layer` gives one of them as a toy
    circuit, result, acts = trained_layers(config, keys, runtime)
    inputs = circuits.all_inputs(circuit.n_inputs)
    gates = circuits.evaluate(circuit, inputs)  # [N, G]
    n_rows = len(inputs)
    train_rows = np.zeros(n_rows, bool)
    train_rows[np.asarray(jax.random.permutation(key_split, n_rows))[: int(round(config.probe_train_fraction * n_rows))]] = True

    n_layers, n_gates = len(acts), len(circuit.gates)
    scores = {reader: np.zeros((n_layers, n_gates)) for reader in READERS}
    by_size, saved = {}, []
    for size in config.sae_sizes:  # one compiled trainer per size (shapes differ), vmapped over layers
        codes = dictionary_codes(config, acts, size, key_sae, key_random, runtime)
        saved += codes["saved"]
        unit_scores = {reader: np.stack([detectors.best_unit_auroc(c, gates)[0] for c in codes[reader]]) for reader in ("sae", "random")}
        for reader in ("sae", "random"):  # the best dictionary size per gate and layer
            scores[reader] = np.maximum(scores[reader], unit_scores[reader])
        by_size[str(size)] = {
            "explained_variance": codes["explained_variance"],
            "live_latents": codes["live_latents"],
            **{
                f"{reader}_recovery": float(np.mean(unit_scores[reader][:, circuit.internal].max(axis=0) >= config.threshold))
                for reader in ("sae", "random")
            },
        }
    for layer in range(n_layers):  # a handful of layers; each reader is vectorised over gates and units
        scores["probe"][layer] = detectors.probe_accuracy(acts[layer], gates, train_rows, config.probe_c)
        scores["neuron"][layer] = detectors.best_unit_auroc(acts[layer], gates)[0]
    untrained = circuits.hidden_activations(config.toy, circuit, circuits.initial_state(config.toy, len(circuit.outputs), key_untrained))
    probe_inputs = detectors.probe_accuracy(circuits.signed(inputs), gates, train_rows, config.probe_c)
    probe_untrained = np.stack([detectors.probe_accuracy(layer, gates, train_rows, config.probe_c) for layer in untrained])

    internal = circuit.internal
    baselines = {
        "probe_inputs": float(np.mean(probe_inputs[internal] >= config.threshold)),
        "probe_untrained": float(np.mean(probe_untrained[:, internal].max(axis=0) >= config.threshold)),
    }
    recovered = {reader: float(np.mean(scores[reader][:, internal].max(axis=0) >= config.threshold)) for reader in READERS}
    per_gate = []
    descriptions = circuit.describe()
    firsts = {reader: first_layer(scores[reader], config.threshold) for reader in READERS}
    for g, gate in enumerate(circuit.gates):
        per_gate.append(
            {
                "gate": g,
                "description": descriptions[g].split("   ")[0],
                "op": gate.op,
                "layer": gate.layer,
                "internal": bool(g in set(internal.tolist())),
                "balance": float(gates[:, g].mean()),
                **{reader: [round(float(v), 4) for v in scores[reader][:, g]] for reader in READERS},
                "probe_inputs": round(float(probe_inputs[g]), 4),
                "probe_untrained": [round(float(v), 4) for v in probe_untrained[:, g]],
                "first_layer": {reader: firsts[reader][g] for reader in READERS},
            }
        )
    return Result(
        {
            "circuit": circuit.to_dict(),
            "description": descriptions,
            "n_rows": n_rows,
            "mlp_accuracy": float(result.bit_accuracy[0]),
            "mlp_exact_accuracy": float(result.exact_accuracy[0]),
            "final_loss": float(result.loss_curve[-1, 0]),
            "n_internal_gates": int(len(internal)),
            "gate_recovery": recovered,
            "gate_recovery_baselines": baselines,
            **facts.write(Facts(config.threshold, SAEFacts(tuple(config.sae_sizes), config.k, by_size))),
            "gates": per_gate,
        },
        arrays={
            "loss_curve": np.asarray(result.loss_curve[:, 0], np.float32),
            **{f"scores_{reader}": scores[reader] for reader in READERS},
        },
        dictionaries=saved,
        table=gate_rows(
            per_gate,
            recovered,
            by_size,
            baselines,
            {
                "bit_accuracy": float(result.bit_accuracy[0]),
                "exact_accuracy": float(result.exact_accuracy[0]),
                "gates": len(circuit.gates),
                "internal_gates": int(len(internal)),
                "inputs": circuit.n_inputs,
                "rows": n_rows,
            },
            config,
        ),
    )


def gate_rows(per_gate: list[dict], recovered: dict, by_size: dict, baselines: dict, network: dict, config: Config) -> list[table.Row]:
    """The results table: each reader's share of internal gates recovered (chance: the random
    dictionaries'), each SAE size's recovery beside its random dictionaries', and per internal gate and
    layer each reader's score (chance: the random dictionaries' score of that gate and layer)."""
    rows = [
        table.Row(reader, "internal_gates_recovered", share, recovered["random"], seed=config.seed, reader="gate readers")
        for reader, share in recovered.items()
    ]
    for size, entry in by_size.items():
        rows.append(
            table.Row(
                "sae",
                "internal_gates_recovered",
                entry["sae_recovery"],
                entry["random_recovery"],
                size=int(size),
                seed=config.seed,
                reader="gate readers by size",
            )
        )
        for layer, explained in enumerate(entry["explained_variance"], start=1):
            rows.append(
                table.Row(
                    "sae", "explained_variance", explained, size=int(size), seed=config.seed, reader="metrics", setting={"layer": layer}
                )
            )
    for arm, share in baselines.items():  # the probe where no network computes: on the raw inputs, on an untrained network
        rows.append(table.Row(arm, "internal_gates_recovered", share, seed=config.seed, reader="probe baselines"))
    for metric, value in network.items():
        rows.append(table.Row("network", metric, value, seed=config.seed, reader="emulator"))
    for gate in per_gate:  # every gate, internal or an output, at every hidden layer (and the probe on the inputs, layer 0)
        name = gate["description"] + ("" if gate["internal"] else "  (output)")
        where = {"gate": gate["gate"], "name": name, "internal": int(gate["internal"])}
        rows.append(
            table.Row(
                "probe", "gate_score", gate["probe_inputs"], None, seed=config.seed, reader="gate readers", setting={**where, "layer": 0}
            )
        )
        for layer in range(len(gate["probe"])):
            for reader in READERS:
                rows.append(
                    table.Row(
                        reader,
                        "gate_score",
                        gate[reader][layer],
                        gate["random"][layer],
                        seed=config.seed,
                        reader="gate readers",
                        setting={**where, "layer": layer + 1},
                    )
                )
    return rows


def headline(results: dict) -> str:
    """One number for `toylab runs`: internal gates read by the best SAE latent vs a random atom."""
    rows = table.select(table.read(results), reader="gate readers", metric="internal_gates_recovered")
    read = {arm: table.mean(rows, arm=arm) for arm in ("sae", "random", "probe")}
    if any(value is None for value in read.values()):
        return "—"
    return f"gates read: SAE {read['sae']:.2f}, random {read['random']:.2f}, probe {read['probe']:.2f}"


class SAEFacts(NamedTuple):
    sizes: tuple[int, ...]
    k: int
    by_size: dict  # {size: each reader's share of internal gates read}


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json, beside the table)."""

    threshold: float  # a gate is read when its score reaches it
    sae: SAEFacts


def plot(results: dict, arrays: dict, folder) -> list:
    """Per reader, its score of every gate at every hidden layer (the probe's also on the inputs), from the
    results table; cells at the recovery threshold ticked; the title gives the share of internal gates read."""
    rows = table.read(results)
    threshold = facts.read(results, Facts).threshold
    net = {row.metric: row.value for row in table.select(rows, reader="emulator")}
    scores = table.select(rows, metric="gate_score")
    recovered = {row.arm: row.value for row in table.select(rows, metric="internal_gates_recovered", size=None)}
    n_layers = max(row.setting["layer"] for row in scores)
    n_gates = len({row.setting["gate"] for row in scores})
    titles = {
        "probe": "linear probe\n(held-out balanced accuracy)",
        "sae": "best SAE latent\n(AUROC)",
        "neuron": "best neuron\n(AUROC)",
        "random": "best random atom\n(AUROC)",
    }
    figure, axes = panels.panels(len(titles), width=1.6 * (n_layers + 1) / 2 + 0.75, height=0.28 * n_gates + 2, sharey=True)
    images = {}
    for ax, (reader, title) in zip(axes, titles.items()):
        images[reader] = panels.heatmap_by_setting(
            ax,
            table.select(scores, arm=reader),
            "gate_score",
            "gate",
            "layer",
            f"{title}\n{recovered[reader]:.0%} of internal gates",
            row_label="name",
            column_names={0: "in", **{i: f"L{i}" for i in range(1, n_layers + 1)}},
            vmin=0.5,
            cmap="cividis" if reader == "probe" else "viridis",  # two measures, two colour scales
            mark_at=threshold,
        )
        ax.set_xlabel("hidden layer")
    mark = f"(✓: ≥ {threshold})"
    figure.colorbar(images["probe"], ax=axes[0], location="bottom", shrink=0.9, pad=0.16, label=f"balanced accuracy {mark}")
    figure.colorbar(images["random"], ax=axes[1:], location="bottom", shrink=0.5, pad=0.16, label=f"AUROC {mark}")
    title = f"Reading a circuit's gates in its emulator (MLP accuracy {net['bit_accuracy']:.3f} on all {net['rows']:.0f} inputs)"
    return [panels.finish(figure, axes, title, folder / "gate_recovery.png", legend=False, tight=False)]


def summary(results: dict) -> str:
    """From the results table (the SAEs' k and the threshold from the run's facts)."""
    rows = table.read(results)
    run = facts.read(results, Facts)
    net = {row.metric: row.value for row in table.select(rows, reader="emulator")}
    lines = [
        f"circuit: {net['gates']:.0f} gates ({net['internal_gates']:.0f} internal) over "
        f"{net['inputs']:.0f} inputs; emulator accuracy {net['bit_accuracy']:.4f} per output bit, "
        f"{net['exact_accuracy']:.4f} all outputs right (all {net['rows']:.0f} rows)",
        f"TopK SAEs (k={run.sae.k}) and random dictionaries per layer, by size "
        "(explained variance per layer; share of internal gates read by the best latent / atom):",
    ]
    for row in table.select(rows, reader="gate readers by size"):
        explained = sorted((r.setting["layer"], r.value) for r in table.select(rows, metric="explained_variance", size=row.size))
        lines.append(
            f"  m={row.size!s:<5} EV " + ", ".join(f"{v:.3f}" for _, v in explained) + f"   sae {row.value:.3f}   random {row.chance:.3f}"
        )
    threshold = run.threshold
    lines.append(f"share of internal gates read at ≥ {threshold} in some hidden layer (sae and random: best over sizes):")
    for reader in READERS:
        lines.append(f"  {reader:<8}{table.mean(rows, arm=reader, reader='gate readers', metric='internal_gates_recovered'):>7.3f}")
    baselines = {row.arm: row.value for row in table.select(rows, reader="probe baselines")}
    lines.append(
        f"  probe on the raw inputs {baselines['probe_inputs']:.3f}; probe on the untrained network's layers "
        f"{baselines['probe_untrained']:.3f}"
    )
    lines.append("per internal gate: first hidden layer reaching the threshold (probe / sae / neuron / random)")
    scores = [row for row in table.select(rows, {"internal": 1}, metric="gate_score") if row.setting["layer"] > 0]
    for gate in sorted({row.setting["gate"] for row in scores}):
        mine = [row for row in scores if row.setting["gate"] == gate]
        first = {
            r: min((row.setting["layer"] for row in mine if row.arm == r and (row.value or 0) >= threshold), default=None) for r in READERS
        }
        cells = " / ".join("-" if first[r] is None else str(first[r]) for r in READERS)
        lines.append(f"  {mine[0].setting['name']:<22} {cells}")
    return "\n".join(lines)


STUDY = Study(
    NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate, evaluation_source=evaluation_source
)
