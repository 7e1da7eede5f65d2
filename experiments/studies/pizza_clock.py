"""Experiment `pizza-clock`: which algorithm does a modular-addition network learn, and what
does an SAE find in it?

Networks (toys.modular, each trained on a random half of the p² pairs, tested on the
other half): `additive` — an MLP on E[a] + E[b] (pizza-prone, Zhong et al. 2023);
`bilinear` — (E[a] U) ⊙ (E[b] V), a multiplicative interaction (clock-prone);
`concatenated` — the `modular` experiment's network, E[a] W_a + E[b] W_b;
`additive_narrow` — the additive network with a narrow embedding (`narrow_embed_dim`, 8):
with 64 embedding dimensions the additive network compensates the pizza's distance
dependence (q ≈ 0.74), with 8 it cannot (q ≈ 0.3–0.45 over seeds), so the lab has a pizza
to read.
For each: test accuracy, gradient symmetricity s_g and distance irrelevance q
(definitions in toys.modular; clock ≈ 0.33 / 0.85, pizza ≈ 0.99 / 0.17 in Zhong et al.),
the algorithm read from q (Zhong et al.: pizza q ∈ [0, 0.4], clock q ∈ [0.4, 1]; s_g is 1 by
construction in the additive network, so it cannot tell there), and the key frequencies.

Then a TopK SAE reads the hidden layer over every pair, beside a random dictionary encoded
by TopK with the same k (chance) and the neurons themselves (experiments.frequency_units.layer_units):
per kind of unit, how many live units lie on each key frequency's circles (≥ ½ of the
direction's energy in that frequency's hidden subspace), and where each unit fires on the
(a, b) grid (sae.readers.grid_latents: slices and bands of a + b or a − b, boxes, other), with how
the slices of a + b tile its circle.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import numpy as np

from experiments.frequency_units import layer_units
from experiments.recovery import seed_keys
from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from sae.readers import grid_latents, wall
from toys import modular
from toys.engine.config import check_fields, setting
from toys.engine.runtime import Runtime

NAME = "pizza-clock"
DESCRIPTION = "modular addition, additive vs multiplicative networks: clock or pizza, and what SAE latents are"
# how each network combines its two inputs' embeddings before the MLP: the sum E[a] + E[b], the
# product (E[a] U) ⊙ (E[b] V), or the concatenation [E[a], E[b]] (which the first layer may read apart)
KINDS = {"additive": "additive", "bilinear": "multiplicative", "concatenated": "concatenated", "additive_narrow": "additive"}
NETWORKS = (*modular.ARCHITECTURES, "additive_narrow")  # the index of each folds its key in
PIZZA_BELOW = 0.4  # distance irrelevance under which the correct logit follows a − b (Zhong et al.)


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    toy: modular.ModularConfig = modular.ModularConfig()
    architectures: tuple[str, ...] = setting(
        ("additive", "additive_narrow", "bilinear", "concatenated"),
        "networks (toy.architecture is ignored)",
        choices=NETWORKS,
        distinct=True,
    )
    narrow_embed_dim: int = setting(8, "embedding width of the additive_narrow network", low=1)
    n_triples: int = setting(100, "random (a, b, c) of the gradient symmetricity", low=1)
    sae_size: int = setting(512, "latents of the SAE on each hidden layer", low=2)
    k: int = setting(8, "active latents per pair (the random atoms are read with it too)", low=1, high="sae_size")
    sae_steps: int = setting(5000, "SAE training steps", low=1)
    sae_batch_size: int = setting(256, "SAE batch", low=1)
    sae_learning_rate: float = setting(1e-3, "SAE learning rate", low=0, low_open=True)

    @classmethod
    def quick(cls) -> "Config":
        return cls(toy=modular.ModularConfig(p=59, steps=20_000), sae_steps=3000)

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of one network's full-batch training on all p² pairs (as experiments.studies.modular)."""
    net = config.toy
    per_pair = 2 * net.embed_dim + 2 * net.hidden + 2 * net.p
    floats = net.p**2 * per_pair * 3 + config.sae_batch_size * config.sae_size * 4
    return int(memory.SAFETY * memory.FLOAT * floats), "toy.p"


def study(config: Config, architecture: str, key: jax.Array, runtime=None) -> tuple[dict, dict]:
    """One network: its algorithm diagnostics and what its units are; (results entry, arrays)."""
    if architecture == "additive_narrow":
        net = dataclasses.replace(config.toy, architecture="additive", embed_dim=config.narrow_embed_dim)
    else:
        net = dataclasses.replace(config.toy, architecture=architecture)
    key_net, key_triples, key_sae, key_random = jax.random.split(key, 4)
    result = modular.train(net, seed_keys(key_net, net.p, [0]), runtime)
    keys = modular.key_frequencies(modular.fourier_shares(modular.embedding(net, result)), net.coverage)
    correct = modular.correct_logits(net, result)
    symmetricity = modular.gradient_symmetricity(net, result, key_triples, config.n_triples)
    irrelevance = modular.distance_irrelevance(correct)
    units = layer_units(config, net, result, key_sae, key_random, keys, runtime=runtime)
    by_kind, categories = {}, {}
    for kind, codes in units["codes"].items():
        categories[kind] = wall.apply(grid_latents.categorise, units["observations"][kind], ("codes",), wall.settings(config, p="toy.p"))
        by_kind[kind] = {
            **grid_latents.counts(categories[kind]),
            "tiling": grid_latents.tiling(codes, categories[kind], net.p),
            "slice_widths": grid_latents.slice_widths(codes, categories[kind], net.p),
            "circles": units["per_kind"][kind],
        }
    entry = {
        "name": architecture,
        "kind": KINDS[architecture],
        "embed_dim": net.embed_dim,
        "test_accuracy": float(result.test_accuracy[0]),
        "train_accuracy": float(result.train_accuracy[0]),
        "gradient_symmetricity": symmetricity,
        "distance_irrelevance": irrelevance,
        "algorithm": "pizza" if irrelevance < PIZZA_BELOW else "clock",
        "key_frequencies": keys,
        "sae_explained_variance": units["explained_variance"],
        "sae_latents": by_kind["sae"],
        "random_atoms": by_kind["random"],
        "neurons": by_kind["neuron"],
    }
    top = units["subspaces"][keys[0]]
    plane = top[:2] if len(top) >= 2 else np.eye(2, units["hidden"].shape[1])
    slices = categories["sae"] == "sum_slice"
    arrays = {
        f"{architecture}_correct_logits": correct.astype(np.float32),
        f"{architecture}_hidden_plane": (units["hidden"] - units["hidden"].mean(0)) @ plane.T,
        f"{architecture}_slice_directions": units["directions"]["sae"][slices] @ plane.T,
    }
    return entry, arrays


def run(config: Config, runtime: Runtime | None = None) -> Result:
    root = seeding.root_key(config.seed)
    networks, arrays = [], {}
    for architecture in config.architectures:
        entry, more = study(config, architecture, jax.random.fold_in(root, NETWORKS.index(architecture)), runtime)
        networks.append(entry)
        arrays.update(more)
    rows = []
    for entry in networks:
        where = {"network": entry["name"]}
        for metric, chance in (
            ("test_accuracy", 1.0 / config.toy.p),
            ("train_accuracy", 1.0 / config.toy.p),
            ("gradient_symmetricity", None),
            ("distance_irrelevance", None),
        ):
            rows.append(table.Row("network", metric, entry[metric], chance, seed=config.seed, reader="algorithm", setting=where))
        for arm, counts in (("topk", entry["sae_latents"]), ("random", entry["random_atoms"]), ("neurons", entry["neurons"])):
            for category in (*grid_latents.CATEGORIES, "dead"):
                if category in counts:
                    rows.append(
                        table.Row(
                            arm,
                            category,
                            counts[category],
                            entry["random_atoms"].get(category),
                            seed=config.seed,
                            reader="unit categories",
                            unit="count",
                            setting=where,
                        )
                    )
            # live units on a key frequency's circles, and the sum slices' tiling of a + b
            on_circles = sum(counts["circles"]["per_key_frequency"].values())
            for metric, value, unit in (("on_circles", on_circles, "count"), ("tiling", counts["tiling"]["coverage"], "")):
                rows.append(table.Row(arm, metric, value, None, seed=config.seed, reader="unit circles", unit=unit, setting=where))
    return Result({"p": config.toy.p, "networks": networks, "pizza_below": PIZZA_BELOW}, arrays=arrays, table=rows)


class NetworkFacts(NamedTuple):
    """One network as the run declared and read it (results.json's networks, beside the table)."""

    name: str
    kind: str
    embed_dim: int
    key_frequencies: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Facts:
    p: int
    pizza_below: float  # q below it reads as pizza
    networks: tuple[NetworkFacts, ...]


def _network(rows: list[table.Row], name: str) -> dict:
    """A network's algorithm readings from the results table: {metric: value}."""
    return {row.metric: row.value for row in table.select(rows, {"network": name}, reader="algorithm")}


def headline(results: dict) -> str:
    rows = table.select(table.read(results), metric="distance_irrelevance")
    return ", ".join(
        f"{row.setting['network']}: {'pizza' if (row.value or 0.0) < PIZZA_BELOW else 'clock'} (q {row.value:.2f})" for row in rows
    )


def plot(results: dict, arrays: dict, folder) -> list:
    """Per network: its correct logit over (a + b, a − b); its units by category from the results table
    (SAE latents beside random atoms and neurons); its hidden layer on its top key frequency's plane."""
    rows = table.read(results)
    run = facts.read(results, Facts)
    networks = run.networks
    paths = []
    figure, axes = panels.panels(len(networks), width=4.2, height=4.0)
    for ax, n in zip(axes, networks):
        read = _network(rows, n.name)
        title = (
            f"{n.name} ({n.kind}): {_algorithm(read, run)}\nq = {read['distance_irrelevance']:.2f}, "
            f"s_g = {read['gradient_symmetricity']:.2f}, test acc {read['test_accuracy']:.2f}"
        )
        panels.matrix(ax, arrays[f"{n.name}_correct_logits"], title, "(a − b) mod p", "(a + b) mod p", None, None, "", 9)
        ax.invert_yaxis()  # (a + b) = 0 at the bottom
    title = "Correct logit by a + b and a − b: stripes along a − b = pizza (q → 0), flat = clock (q → 1)"
    paths.append(panels.finish(figure, axes, title, folder / "correct_logits.png", legend=False))

    figure, axes = panels.panels(len(networks), width=4.6, height=3.8, sharey=True)
    for ax, n in zip(axes, networks):
        panels.shares_by_metric(
            ax,
            table.select(rows, {"network": n.name}, reader="unit categories"),
            (*grid_latents.CATEGORIES, "dead"),
            {"topk": "C0", "random": "0.6", "neurons": "C2"},
            f"{n.name} ({_algorithm(_network(rows, n.name), run)})",
        )
    axes[0].legend(fontsize=8)
    title = "Where units fire on the (a, b) grid: SAE latents beside random atoms (chance) and neurons"
    paths.append(panels.finish(figure, axes, title, folder / "latent_categories.png", ylabel="share of units", legend=False))

    figure, axes = panels.panels(len(networks), width=4.6, height=4.4)
    a, b = np.divmod(np.arange(run.p**2), run.p)
    for ax, n in zip(axes, networks):
        points, k = arrays[f"{n.name}_hidden_plane"], n.key_frequencies[0]
        slices = int(table.mean(rows, {"network": n.name}, arm="topk", reader="unit categories", metric="sum_slice") or 0)
        title = (
            f"{n.name} ({_algorithm(_network(rows, n.name), run)}): frequency {k}'s plane\n"
            f"colour {k}·(a + b) mod p; lines: {slices} SAE slice latents"
        )
        panels.scatter_in_plane(ax, points, (k * (a + b)) % run.p, title, sizes=3, axes_shown=False)
        panels.rays(ax, arrays[f"{n.name}_slice_directions"], float(np.abs(points).max()))
    title = "The hidden layer on its top key frequency's plane, and the SAE latents that slice a + b"
    paths.append(panels.finish(figure, axes, title, folder / "hidden_geometry.png", legend=False))
    return paths


def _algorithm(read: dict, run: Facts) -> str:
    return "pizza" if read["distance_irrelevance"] < run.pizza_below else "clock"


def summary(results: dict) -> str:
    """From the results table (each network as the run declared it, from its facts)."""
    rows = table.read(results)
    run = facts.read(results, Facts)
    lines = [
        f"modular addition mod {run.p}, trained on half the pairs; algorithm read from the distance "
        f"irrelevance q (pizza below {run.pizza_below})",
        f"{'network':<16}{'kind':<16}{'embed':>6}{'test acc':>9}{'s_g':>7}{'q':>7}  algorithm  key frequencies",
    ]
    for n in run.networks:
        read = _network(rows, n.name)
        lines.append(
            f"{n.name:<16}{n.kind:<16}{n.embed_dim:>6}{read['test_accuracy']:>9.3f}"
            f"{read['gradient_symmetricity']:>7.3f}{read['distance_irrelevance']:>7.3f}  {_algorithm(read, run):<9}  "
            f"{list(n.key_frequencies)}"
        )
    lines.append(
        "(Zhong et al. 2023: clock s_g ≈ 0.33, q ≈ 0.85; pizza s_g ≈ 0.99, q ≈ 0.17; an additive network has s_g = 1 by construction)"
    )
    categories = [*grid_latents.CATEGORIES, "dead"]
    lines += [
        "",
        "units by where they fire (sae.readers.grid_latents), and live units on a key frequency's circles:",
        f"{'network':<16}{'units':<14}" + "".join(f"{c[:12]:>13}" for c in categories) + f"{'on circles':>12}" + f"{'tiling':>9}",
    ]
    for n in run.networks:
        for kind, arm in (("sae_latents", "topk"), ("random_atoms", "random"), ("neurons", "neurons")):
            mine = table.select(rows, {"network": n.name}, arm=arm)
            count = {row.metric: int(row.value or 0) for row in table.select(mine, unit="count")}
            tiling = table.mean(mine, reader="unit circles", metric="tiling") or 0.0
            columns = "".join(f"{count[c]:>13}" for c in categories)
            lines.append(f"{n.name:<16}{kind:<14}{columns}{count['on_circles']:>12}{tiling:>9.2f}")
    lines.append(
        "(tiling: share of the residues of a + b on which some sum-slice unit fires for most pairs; "
        "random atoms are encoded by TopK with the SAE's k and read as chance)"
    )
    return "\n".join(lines)


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate)
