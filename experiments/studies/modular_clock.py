"""Experiment `modular-clock`: the modular network's Fourier circles, found blind as rings in projections.

`seeds` modular-addition networks (toys.modular, "concatenated") and `null_networks` copies
trained on a task without cyclic structure (the same architecture, split and budget, answers
from a fixed random table: `task="random"`) are trained; a TopK SAE is trained on each one's
representation x(a, b) = [E[a], E[b]] over every pair (one vmapped call). Each embedding
superposes several key frequencies on the same latents, so a frequency's circle is a 2-D
projection of a latent group, not a group of its own.

The method (blind: codes and decoder only): the finder's candidate groups
(`sae.readers.manifold_finder.candidate_groups`), and in each group its ring planes
(`sae.readers.projection_circles.ring_planes`), every plane scored by its evidence. A
dictionary's top is its best plane's evidence. A plane is claimed when its p-value against the
null networks' tops (`manifold_ranking.p_value`) is ≤ α; a null network's own top is tested
against the other nulls (leave one out), so its claims are false claims at the level the
addition networks' claims are made.

The grader (truth: the key frequencies of each network's embedding and the subspace of each
one's circles in x, `toys.modular.frequency_subspaces`): a plane is frequency f's when every
principal angle to f's subspace is below `manifold_grading.PLANE_MATCH_DEGREES`. Per key
frequency: found (some plane is its), claimed (a claimed plane is its), the rank of its best
plane among the dictionary's planes, and that plane's p; per network, the frequency (any of
1 … (p − 1)/2, key or not) of each claimed plane, or none.

Then the knockoff (`sae.readers.knockoff`): fresh heads (the network's layers after the
embedding, its width, optimiser and steps) trained on the network's own training pairs read
four spaces built from the same codes — random placement, the placement the claimed rings
describe (`projection_placement`: each ring's latents equally spaced in its cyclic order at its
radius), the finder groups' exact coordinates, and x itself — and are scored on the unseen pairs.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import numpy as np

from experiments.recovery import seed_keys
from experiments.runner import facts, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import architectures, pipeline
from sae.readers import knockoff, manifold_grading, manifold_ranking, projection_circles, wall
from toys import modular, stored
from toys.engine.config import ConfigError, check_fields, setting
from toys.engine.runtime import Runtime, or_default
from toys.protocol import Batch

NAME = "modular-clock"
DESCRIPTION = "the modular network's key-frequency circles found blind as rings in projections, against random-task networks"
SPACES = ("random_placement", "described_rings", "group_coordinates", "original")


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    seeds: int = setting(3, "modular-addition networks", low=1)
    null_networks: int = setting(39, "random-task networks (the null; a claim at α needs ≥ 1/α − 1)", low=1)
    toy: modular.ModularConfig = modular.ModularConfig(p=37, steps=8000)
    sae_size: int = setting(256, "latents of the SAE on [E_a, E_b]", low=2)
    k: int = setting(8, "active latents per pair", low=1, high="sae_size")
    sae_steps: int = setting(3000, "SAE training steps", low=1)
    sae_batch_size: int = setting(256, low=1)
    sae_learning_rate: float = setting(1e-3, low=0, low_open=True)

    @classmethod
    def quick(cls) -> "Config":
        return cls(null_networks=29)  # leave one out, 28 others: a null's own top can reach p ≤ 0.05

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")
        if self.toy.task != "addition":
            raise ConfigError(f"toy.task: got {self.toy.task!r}, allowed only 'addition' (the random-task networks are the study's null)")


def train(config: Config, key: jax.Array, runtime=None):
    """The addition networks, the null networks and one SAE on each one's [E_a, E_b] (one vmapped call).
    Returns (addition result, null result, one `wall.Observation` per dictionary: x [p², 2e], codes
    [p², m], decoder [m, 2e]; the addition networks' first)."""
    key_add, key_null, key_sae = jax.random.split(key, 3)
    net = config.toy
    null_net = dataclasses.replace(net, task="random")
    addition = modular.train(net, seed_keys(key_add, net.p, list(range(config.seeds))), runtime)
    null = modular.train(null_net, seed_keys(key_null, net.p, list(range(config.null_networks))), runtime)
    xs = [modular.pair_embeddings(net, addition, i) for i in range(config.seeds)] + [
        modular.pair_embeddings(null_net, null, i) for i in range(config.null_networks)
    ]
    hps = pipeline.stack([architectures.hparams(config.sae_learning_rate, 0.0, config.k)] * len(xs))
    toys = pipeline.stack([stored.from_arrays(x) for x in xs])
    sae = pipeline.fit(
        "topk",
        toys,
        hps,
        jax.random.split(key_sae, len(xs)),
        n_latents=config.sae_size,
        steps=config.sae_steps,
        batch_size=config.sae_batch_size,
        per_run_data=True,
        label=f"topk m={config.sae_size} on [E_a, E_b] × {len(xs)}",
        runtime=runtime,
    )
    # each dictionary's observation: its own network's pair embeddings, encoded; nothing else
    observations = wall.observe_grid([Batch(x) for x in xs], "topk", sae.params, hps)
    return addition, null, observations


def _top(planes: list[dict]) -> float:
    return planes[0]["evidence"] if planes else 0.0


def grade(planes: list[dict], null_top, subspaces: dict, keys: list[int]) -> list[dict]:
    """Per key frequency: found, claimed, the rank (1-based) and p of its best plane (None when no
    plane is its). Planes are claimed at p ≤ α against `null_top`."""
    owners = [manifold_grading.frequency_of_plane(plane["basis"], subspaces) for plane in planes]
    graded = []
    for frequency in keys:
        ranks = [i for i, owner in enumerate(owners) if owner == frequency]
        best = ranks[0] if ranks else None
        p = manifold_ranking.p_value(planes[best]["evidence"], null_top) if best is not None else None
        graded.append(
            {
                "frequency": int(frequency),
                "found": best is not None,
                "rank": None if best is None else best + 1,
                "evidence": None if best is None else planes[best]["evidence"],
                "p_value": p,
                "claimed": bool(p is not None and p <= manifold_ranking.CLAIM_ALPHA),
            }
        )
    return graded


def knockoff_spaces(observation: wall.Observation, groups, planes, null_top, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The four spaces the fresh heads read (module docstring), from one dictionary's observation and the
    method's answer (groups, planes) on it."""
    codes, decoder, x = observation.codes, observation.decoder, observation.x
    claimed = [plane for plane in planes if manifold_ranking.p_value(plane["evidence"], null_top) <= manifold_ranking.CLAIM_ALPHA]
    ring_groups = sorted({plane["group"] for plane in claimed})
    rings = [
        [knockoff.describe_ring(decoder, plane["order"], plane["basis"]) for plane in claimed if plane["group"] == g] for g in ring_groups
    ]
    exact_groups, exact_planes = wall.apply(knockoff.coordinate_groups, observation, ("codes", "decoder"))
    return {
        "random_placement": knockoff.place(codes, knockoff.random_placement(rng, decoder)),
        "described_rings": knockoff.place(codes, knockoff.projection_placement(rng, decoder, [groups[g] for g in ring_groups], rings)),
        "group_coordinates": knockoff.place(codes, knockoff.group_coordinates_placement(rng, decoder, exact_groups, exact_planes)),
        "original": np.asarray(x, np.float64),
    }


def run(config: Config, runtime: Runtime | None = None) -> Result:
    root = seeding.root_key(config.seed)
    net = config.toy
    addition, null, observations = train(config, seeding.stream(root, "networks"), runtime)
    progress = or_default(runtime).progress
    read = []
    for index, observation in enumerate(observations):
        progress.note(f"reading dictionary {index + 1}/{len(observations)} ({'addition' if index < config.seeds else 'null'})")
        read.append(wall.apply(projection_circles.blind_planes, observation, ("codes", "decoder"), wall.settings(config, seed="seed")))
    x = [observation.x for observation in observations]
    tops = np.asarray([_top(planes) for _, planes in read])
    null_tops = tops[config.seeds :]
    null_claims = [
        manifold_ranking.p_value(tops[config.seeds + j], np.delete(null_tops, j)) <= manifold_ranking.CLAIM_ALPHA
        for j in range(config.null_networks)
    ]
    rng = np.random.default_rng(np.asarray(jax.random.key_data(seeding.stream(root, "knockoff placement"))).tolist())
    a, b = modular.all_pairs(net.p)
    labels = modular.labels(net)
    networks, inputs, masks = [], [], []
    for i in range(config.seeds):
        groups, planes = read[i]
        keys = modular.key_frequencies(modular.fourier_shares(modular.embedding(net, addition, i)), net.coverage)
        subspaces = modular.frequency_subspaces(x[i], net.p, keys)
        graded = grade(planes, null_tops, subspaces, keys)
        claimed = [p for p in planes if manifold_ranking.p_value(p["evidence"], null_tops) <= manifold_ranking.CLAIM_ALPHA]
        every_frequency = modular.frequency_subspaces(x[i], net.p, range(1, (net.p - 1) // 2 + 1))
        owners = [manifold_grading.frequency_of_plane(p["basis"], every_frequency) for p in claimed]
        built = knockoff_spaces(observations[i], groups, planes, null_tops, rng)
        inputs += [built[s] for s in SPACES]
        masks += [np.asarray(addition.train_mask[i])] * len(SPACES)
        networks.append(
            {
                "seed": i,
                "test_accuracy": float(addition.test_accuracy[i]),
                "key_frequencies": keys,
                "top_evidence": float(tops[i]),
                "planes": len(planes),
                "claimed_planes": len(claimed),
                "claimed_plane_frequencies": [None if o is None else int(o) for o in owners],
                "frequencies": graded,
            }
        )
    heads = modular.train_heads(
        net, np.stack(inputs), labels, np.stack(masks), jax.random.split(seeding.stream(root, "knockoff heads"), len(inputs)), runtime
    )
    heldout = np.asarray(heads.test_accuracy).reshape(config.seeds, len(SPACES))
    for i, network in enumerate(networks):
        network["knockoff_heldout_accuracy"] = {s: float(heldout[i, j]) for j, s in enumerate(SPACES)}
    every = [f for n in networks for f in n["frequencies"]]
    rows = [
        table.Row(
            "topk",
            metric,
            f[metric],
            None,
            size=config.sae_size,
            seed=config.seed,
            reader="projection circles",
            setting={"network": n["seed"], "frequency": f["frequency"]},
        )
        for n in networks
        for f in n["frequencies"]
        for metric in ("found", "claimed", "rank", "p_value", "evidence")
    ]
    rows += [
        table.Row(space, "heldout_accuracy", accuracy, 1.0 / net.p, seed=config.seed, reader="fresh head", setting={"network": n["seed"]})
        for n in networks
        for space, accuracy in n["knockoff_heldout_accuracy"].items()
    ]
    rows += [
        table.Row("addition network", metric, value, chance, seed=config.seed, reader="network", setting={"network": n["seed"]})
        for n in networks
        for metric, value, chance in (("test_accuracy", n["test_accuracy"], 1.0 / net.p), ("top_evidence", n["top_evidence"], None))
    ]
    # each null network's top, and its own claim (its top against the other nulls): any claim there is false
    rows += [
        table.Row(
            "null network", metric, value, None, size=config.sae_size, seed=config.seed, reader="projection circles", setting={"network": j}
        )
        for metric, values in (("top_evidence", [float(top) for top in null_tops]), ("claimed", null_claims))
        for j, value in enumerate(values)
    ]
    return Result(
        {
            "networks": networks,
            "null": {
                "networks": config.null_networks,
                "top_evidence": null_tops.tolist(),
                "test_accuracy": np.asarray(null.test_accuracy).tolist(),
                "false_claims": manifold_grading.rate(null_claims),
                # the smallest p a claim can have: 1/(N + 1) for an addition network, 1/N for a null's own
                # top left out; under α the control cannot fail, whatever the method does
                "smallest_p": {"addition": 1 / (config.null_networks + 1), "null_left_out": 1 / config.null_networks},
                "claim_threshold": manifold_ranking.claim_threshold(null_tops),
            },
            "key_frequencies_claimed": manifold_grading.rate([f["claimed"] for f in every]),
            "key_frequencies_found": manifold_grading.rate([f["found"] for f in every]),
            "alpha": manifold_ranking.CLAIM_ALPHA,
            "chance": 1.0 / net.p,
        },
        table=rows,
    )


def _rate(entry: dict) -> str:
    low, high = entry["interval"] if entry["interval"] else (float("nan"), float("nan"))
    return f"{entry['count']}/{entry['of']} [{low:.2f}, {high:.2f}]"


def headline(results: dict) -> str:
    claims = table.select(table.read(results), metric="claimed", reader="projection circles")
    claimed = manifold_grading.rate([row.value for row in claims if row.arm == "topk"])
    false = manifold_grading.rate([row.value for row in claims if row.arm == "null network"])
    return f"key frequencies claimed blind {_rate(claimed)}; false claims on random-task networks {_rate(false)}"


class SmallestP(NamedTuple):
    addition: float  # 1/(N + 1): the smallest p an addition network's plane can have
    null_left_out: float  # 1/N: the smallest p of a null's own top, left out


class NullFacts(NamedTuple):
    networks: int
    claim_threshold: float | None
    smallest_p: SmallestP


class NetworkFacts(NamedTuple):
    """An addition network as the blind method read it (its planes; their frequencies are the grader's)."""

    seed: int
    planes: int
    claimed_planes: int
    claimed_plane_frequencies: tuple[int | None, ...]


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json, beside the table)."""

    alpha: float
    chance: float  # 1/p
    null: NullFacts
    networks: tuple[NetworkFacts, ...]


def summary(results: dict) -> str:
    """From the results table (the null's size and threshold, and each network's planes, from the run's facts)."""
    run = facts.read(results, Facts)
    rows = table.read(results)
    read = table.select(rows, reader="projection circles")
    null, threshold = run.null, run.null.claim_threshold
    null_claims = manifold_grading.rate([row.value for row in table.select(read, arm="null network", metric="claimed")])
    lines = [
        f"null: {null.networks} random-task networks, top plane evidence claimed above "
        f"{'—' if threshold is None else f'{threshold:.3f}'} (α = {run.alpha}); their own tops claimed "
        f"(leave one out) {_rate(null_claims)}"
    ]
    if null.smallest_p.null_left_out > run.alpha:
        lines.append(
            f"  (with {null.networks} nulls a null left out has p ≥ {null.smallest_p.null_left_out:.3f} > α: "
            "this control cannot fail; run more null_networks)"
        )
    lines.append("")
    for n in run.networks:
        owners = ", ".join("none" if o is None else str(o) for o in n.claimed_plane_frequencies) or "—"
        network = {row.metric: row.value for row in table.select(rows, {"network": n.seed}, arm="addition network")}
        lines.append(
            f"network {n.seed} (test accuracy {network['test_accuracy']:.3f}; top evidence {network['top_evidence']:.3f}; "
            f"{n.claimed_planes} of {n.planes} planes claimed, of frequencies: {owners})"
        )
        lines.append(f"  {'frequency':>9} {'found':>6} {'rank':>5} {'evidence':>9} {'p':>7} {'claimed':>8}")
        mine = table.select(read, {"network": n.seed}, arm="topk")
        for frequency in dict.fromkeys(row.setting["frequency"] for row in mine):
            f = {row.metric: row.value for row in table.select(mine, {"frequency": frequency})}
            evidence = "—" if f["evidence"] is None else f"{f['evidence']:.3f}"
            p = "—" if f["p_value"] is None else f"{f['p_value']:.3f}"
            rank = "—" if not f["rank"] else str(int(f["rank"]))
            lines.append(f"  {frequency:>9} {str(bool(f['found'])):>6} {rank:>5} {evidence:>9} {p:>7} {str(bool(f['claimed'])):>8}")
        accuracy = {row.arm: row.value for row in table.select(rows, {"network": n.seed}, reader="fresh head")}
        lines.append(
            "  knockoff, held-out accuracy: "
            + ", ".join(f"{s.replace('_', ' ')} {v:.3f}" for s, v in accuracy.items())
            + f" (chance {run.chance:.3f})"
        )
    key = table.select(read, arm="topk")
    found = manifold_grading.rate([row.value for row in key if row.metric == "found"])
    claimed = manifold_grading.rate([row.value for row in key if row.metric == "claimed"])
    lines += ["", f"key frequencies found by the search {_rate(found)}; claimed {_rate(claimed)}"]
    return "\n".join(lines)


def plot(results: dict, arrays: dict, folder) -> list:
    """The null networks' top plane evidence beside each key frequency's best plane (green: claimed; a null
    network claimed against the others would show in green too), the claim threshold dotted."""
    rows = table.read(results)
    figure, axes = panels.panels(1, width=6.4, height=3.4)
    panels.strip_by_arm(
        axes[0],
        table.select(rows, reader="projection circles"),
        ("top_evidence", "evidence"),
        "claimed",
        "",
        flagged_colour="#4c9a5a",
        colour={"null network": "#777777", "topk": "#b5533c"},
        arms=("null network", "topk"),
    )
    axes[0].set_xticks([0, 1], ["null (random task):\ntop plane per network", "key frequencies' best plane\n(green: claimed)"])
    run = facts.read(results, Facts)
    threshold = run.null.claim_threshold
    if threshold is not None:
        axes[0].axhline(threshold, color="0.3", ls=":", label=f"claimed above (α = {run.alpha})")
    axes[0].set_ylim(-0.02, 1.02)
    return [
        panels.finish(
            figure,
            axes,
            "Modular clock: key-frequency rings found blind vs the random-task null",
            folder / "ring_evidence.png",
            ylabel="ring-plane evidence",
        )
    ]


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline)
