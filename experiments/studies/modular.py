"""Experiment `modular`: train on a + b mod p, read its Fourier circles, and ask an SAE for them.

An MLP (toys.modular) is trained on a random half of the p² pairs with weight decay;
the truth read from it: test accuracy, the Fourier spectrum of its embedding and the
key frequencies holding `coverage` of the embedding variance. A TopK SAE is then
trained on the hidden activations over all p² pairs, and every live latent, every
neuron and every atom of a random dictionary (encoded by TopK with the same k, chance)
lies on frequency k's circles when at least half of its direction's energy (decoder
row; a neuron's unit vector) lies in the hidden subspace of frequency k
(toys.modular.frequency_subspaces): latents per key-frequency circle.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import numpy as np

from experiments.frequency_units import layer_units, unit_counts
from experiments.kernel import EXPLAINED_VARIANCE, SampleGrader
from experiments.recovery import saved_dictionaries, seed_keys
from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import pipeline
from toys import modular
from toys.engine.config import check_fields, setting
from toys.engine.runtime import Runtime

NAME = "modular"
DESCRIPTION = "MLP on a + b mod p: Fourier key frequencies, then SAE latents per key-frequency circle"


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    n_seeds: int = setting(2, low=1)
    toy: modular.ModularConfig = modular.ModularConfig()
    sae_size: int = setting(512, "latents of the SAE on the hidden layer", low=2)
    k: int = setting(8, low=1, high="sae_size")
    sae_steps: int = setting(5000, "SAE training steps", low=1)
    sae_batch_size: int = setting(256, "SAE batch", low=1)
    sae_learning_rate: float = setting(1e-3, "SAE learning rate", low=0, low_open=True)

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_seeds=1, toy=modular.ModularConfig(p=59, steps=10_000), sae_steps=3000)

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of full-batch training on all p² pairs (activations, logits, their gradients) per seed."""
    net = config.toy
    per_pair = 2 * net.embed_dim + net.hidden + 2 * net.p
    floats = config.n_seeds * net.p**2 * per_pair * 3 + config.sae_batch_size * config.sae_size * 4
    return int(memory.SAFETY * memory.FLOAT * floats), "toy.p"


class RunKeys(NamedTuple):
    """The run's keys, derived once: `run` and `evaluation_source` both read them here."""

    networks: jax.Array
    sae: jax.Array
    random: jax.Array  # the random dictionary (chance)


def run_keys(config: Config) -> RunKeys:
    return RunKeys(*jax.random.split(seeding.root_key(config.seed), 3))


def train_networks(config: Config, keys: RunKeys, runtime=None):
    net = config.toy
    return modular.train(net, seed_keys(keys.networks, net.p, list(range(config.n_seeds))), runtime)


def main_key_frequencies(net: modular.ModularConfig, result) -> list[int]:
    """Network 0's key frequencies (the truth the graders read)."""
    return modular.key_frequencies(modular.fourier_shares(modular.embedding(net, result, 0)), net.coverage)


def unit_grade(arch: str, params, hps, source: dict) -> dict:
    """The SAE's live units and its live units on no key frequency's circles, on network 0's hidden layer
    over every pair (`source`: "x", "subspaces", "key_frequencies"), as the run counts them."""
    codes = np.asarray(pipeline.encode(arch, params, hps, jax.numpy.asarray(source["x"])))[0]
    counts = unit_counts(codes, np.asarray(params.W_dec[0]), source["subspaces"], source["key_frequencies"])
    return {"live_units": counts["live"], "units_on_other_frequencies": counts["other_frequencies"]}


GRADERS = (SampleGrader(("live_units", "units_on_other_frequencies"), unit_grade, reader="frequency units"), EXPLAINED_VARIANCE)


def evaluation_source(config: Config) -> dict:
    """Network 0's hidden layer over every pair, its frequency subspaces and key frequencies, and the
    graders the run applied, rebuilt by retraining the networks with the run's keys (for `toylab evaluate`)."""
    net = config.toy
    result = train_networks(config, run_keys(config))
    hidden = np.asarray(modular.layer(result, "hidden", 0).x)
    subspaces = modular.frequency_subspaces(hidden, net.p, list(range(1, (net.p - 1) // 2 + 1)))
    return {"x": hidden, "subspaces": subspaces, "key_frequencies": main_key_frequencies(net, result), "graders": GRADERS}


def run(config: Config, runtime: Runtime | None = None) -> Result:
    net = config.toy
    keys_of_run = run_keys(config)
    key_sae, key_random = keys_of_run.sae, keys_of_run.random
    result = train_networks(config, keys_of_run, runtime)
    seeds = []
    for g in range(config.n_seeds):
        shares = modular.fourier_shares(modular.embedding(net, result, g))
        keys = modular.key_frequencies(shares, net.coverage)
        seeds.append(
            {
                "index": g,
                "train_accuracy": float(result.train_accuracy[g]),
                "test_accuracy": float(result.test_accuracy[g]),
                "key_frequencies": keys,
                "top_frequencies_variance_share": float(shares[np.asarray(keys) - 1].sum()),
                "shares": shares.tolist(),
            }
        )
    main = seeds[0]

    # The SAE reads model 0's hidden layer over every input pair.
    units = layer_units(config, net, result, key_sae, key_random, main["key_frequencies"], runtime=runtime)
    explained, per_kind = units["explained_variance"], units["per_kind"]
    return Result(
        {
            **facts.write(Facts(net.p, net.coverage, SAEFacts(config.sae_size, config.k, float(explained)))),
            "test_accuracy": main["test_accuracy"],
            "train_accuracy": main["train_accuracy"],
            "key_frequencies": main["key_frequencies"],
            "top_frequencies_variance_share": main["top_frequencies_variance_share"],
            "seeds": seeds,
            "latents_per_key_frequency": per_kind,
        },
        arrays={"loss_curve": np.asarray(result.loss_curve, np.float32)},
        dictionaries=saved_dictionaries(
            "topk",
            units["sae_params"],
            units["sae_hparams"],
            [f"topk-{config.sae_size}-seed{config.seed}"],
            [{"arm": "topk", "size": config.sae_size, "seed": config.seed, "setting": {"network": 0}}],
        ),
        table=results_rows(seeds, per_kind, float(explained), config),
    )


def results_rows(seeds: list[dict], per_kind: dict, explained: float, config: Config) -> list[table.Row]:
    """The results table: each network's accuracies (chance 1/p), key-frequency share and Fourier
    spectrum (each frequency's share of the embedding's variance, key or not); per reader of
    network 0's hidden layer (the SAE, a random dictionary of the same size: chance, the neurons) its
    live units, the live units on each key frequency's circles and on other frequencies (chance: the
    random dictionary's); the key frequencies in the toy's order; the SAE's explained variance."""
    p = config.toy.p
    rows = []
    for entry in seeds:
        for metric in ("train_accuracy", "test_accuracy"):
            rows.append(
                table.Row(
                    "network", metric, entry[metric], 1.0 / p, seed=config.seed, reader="network", setting={"network": entry["index"]}
                )
            )
        rows.append(
            table.Row(
                "network",
                "top_frequencies_variance_share",
                entry["top_frequencies_variance_share"],
                seed=config.seed,
                reader="fourier",
                setting={"network": entry["index"]},
            )
        )
        for rank, frequency in enumerate(entry["key_frequencies"]):  # in the order the toy names them
            where = {"network": entry["index"], "rank": rank}
            rows.append(table.Row("network", "key_frequency", frequency, seed=config.seed, reader="fourier", setting=where))
        key = set(entry["key_frequencies"])
        for frequency, share in enumerate(entry["shares"], start=1):  # the embedding's Fourier spectrum
            where = {"network": entry["index"], "frequency": frequency, "key": int(frequency in key)}
            rows.append(table.Row("network", "variance_share", share, seed=config.seed, reader="fourier", setting=where))
    arm = {"sae": "topk", "random": "random", "neuron": "neurons"}
    chance = per_kind["random"]
    for kind, counts in per_kind.items():
        size = config.sae_size if kind != "neuron" else counts["units"]
        for metric, field in (("live_units", "live"), ("units_on_other_frequencies", "other_frequencies")):
            rows.append(
                table.Row(
                    arm[kind],
                    metric,
                    counts[field],
                    chance[field],
                    size=size,
                    seed=config.seed,
                    reader="frequency units",
                    unit="count",
                    setting={"network": 0},
                )
            )
        for metric, field in (("units_on_circles", "per_key_frequency"), ("units_dominant", "dominant_at_key_frequency")):
            for frequency, n in counts[field].items():
                rows.append(
                    table.Row(
                        arm[kind],
                        metric,
                        n,
                        chance[field][frequency],
                        size=size,
                        seed=config.seed,
                        reader="frequency units",
                        unit="count",
                        setting={"network": 0, "frequency": int(frequency)},
                    )
                )
    rows.append(table.Row("topk", "explained_variance", explained, size=config.sae_size, seed=config.seed, setting={"network": 0}))
    return rows


def headline(results: dict) -> str:
    """One number for `toylab runs`: held-out accuracy and the key frequencies."""
    rows = table.read(results)
    accuracy = table.mean(rows, {"network": 0}, metric="test_accuracy")
    keys = list(dict.fromkeys(row.setting["frequency"] for row in table.select(rows, metric="units_on_circles")))  # by share
    return "—" if accuracy is None else f"test accuracy {accuracy:.3f}, key frequencies {keys}"


class SAEFacts(NamedTuple):
    size: int
    k: int
    explained_variance: float


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json, beside the table)."""

    p: int
    coverage: float  # the share of the embedding's variance its key frequencies must hold
    sae: SAEFacts  # the SAE that reads network 0's hidden layer


def plot(results: dict, arrays: dict, folder) -> list:
    """Network 0's Fourier spectrum, units per key-frequency circle by reader, and training, from the
    results table (training from the run's loss curves)."""
    paths = []
    rows = table.read(results)
    p = facts.read(results, Facts).p
    accuracy = table.mean(rows, {"network": 0}, arm="network", metric="test_accuracy") or 0.0
    first = table.select(rows, {"network": 0}, reader="fourier")
    held = table.mean(first, metric="top_frequencies_variance_share") or 0.0
    keys = len({row.setting["frequency"] for row in first if row.setting.get("key")})
    figure, axes = panels.panels(1, width=9.0, height=3.6)
    title = f"Fourier spectrum of the embedding, p={p}, test accuracy {accuracy:.3f}: {keys} key frequencies (red) hold {held:.1%}"
    panels.spectrum(axes[0], first, "variance_share", "frequency", "key", title)
    paths.append(
        panels.finish(
            figure,
            axes,
            "",
            folder / "fourier_spectrum.png",
            "frequency k (ω = 2πk/p)",
            "share of mean-removed embedding variance",
            legend=False,
        )
    )

    # one bar per reader, random atoms (chance) hatched
    figure, axes = panels.panels(2, width=6.0, height=3.8)
    for ax, (metric, label) in zip(
        axes,
        (
            ("units_on_circles", "live units with ≥ ½ of their energy\nin frequency k's hidden subspace"),
            ("units_dominant", "live units whose largest energy share\nis at frequency k"),
        ),
    ):
        panels.bars_by_setting(ax, rows, metric, "frequency", metric.replace("_", " "), arms=("topk", "neurons", "random"))
        ax.set_ylabel(label)
    live = {row.arm: int(row.value) for row in table.select(rows, metric="live_units") if row.value is not None}
    paths.append(
        panels.finish(
            figure,
            axes,
            "Units per key-frequency circle in the hidden layer: SAE latents, neurons, "
            "random atoms (chance, hatched); live units " + ", ".join(f"{a} {n}" for a, n in live.items()),
            folder / "latents_per_frequency.png",
            xlabel="key frequency k",
        )
    )
    if "loss_curve" in arrays:
        figure, axes = panels.panels(1, width=6.0)
        panels.curves(axes[0], {"training cross-entropy": arrays["loss_curve"]}, "every network of the run")
        paths.append(
            panels.finish(
                figure,
                axes,
                f"Training the modular networks (p = {p}, full batch)",
                folder / "training.png",
                ylabel="cross-entropy",
            )
        )
    return paths


def summary(results: dict) -> str:
    """From the results table (p, the coverage target and the SAE's k from the run's facts)."""
    rows = table.read(results)
    run = facts.read(results, Facts)

    def network(index: int, metric: str) -> float:
        return table.mean(rows, {"network": index}, arm="network", metric=metric) or 0.0

    def keys(index: int) -> list[int]:
        named = sorted((row.setting["rank"], int(row.value or 0)) for row in table.select(rows, {"network": index}, metric="key_frequency"))
        return [frequency for _, frequency in named]

    networks = sorted({row.setting["network"] for row in table.select(rows, metric="test_accuracy")})
    lines = [
        f"p = {run.p}: train accuracy {network(0, 'train_accuracy'):.4f}, test accuracy {network(0, 'test_accuracy'):.4f}",
        f"key frequencies {keys(0)} hold {network(0, 'top_frequencies_variance_share'):.3f} "
        f"of the embedding variance (coverage target {run.coverage})",
    ]
    for index in networks[1:]:
        lines.append(
            f"  seed {index}: test accuracy {network(index, 'test_accuracy'):.4f}, key frequencies {keys(index)} "
            f"({network(index, 'top_frequencies_variance_share'):.3f})"
        )
    sae = table.select(rows, arm="topk", metric="explained_variance")[0]
    lines.append(f"SAE m={sae.size} k={run.sae.k} on the hidden layer: explained variance {sae.value:.3f}")
    frequencies = sorted(keys(0))
    lines.append(f"{'units':<8}{'live':>6}  per key frequency " + "  ".join(f"k={k}" for k in frequencies) + "  other")
    units = table.select(rows, reader="frequency units")
    for kind in dict.fromkeys(row.arm for row in units):
        mine = table.select(units, arm=kind)
        on = {row.setting["frequency"]: int(row.value or 0) for row in table.select(mine, metric="units_on_circles")}
        counts = "  ".join(f"{on[k]:>{len(str(k)) + 2}}" for k in frequencies)
        live, other = (int(table.mean(mine, metric=m) or 0) for m in ("live_units", "units_on_other_frequencies"))
        label = {"topk": "sae", "neurons": "neuron"}.get(kind, kind)  # the units' names in the summary
        lines.append(f"{label:<8}{live:>6}  {'':<18}{counts}  {other:>5}")
    return "\n".join(lines)


STUDY = Study(
    NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate, evaluation_source=evaluation_source
)
