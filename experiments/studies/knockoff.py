"""Experiment `knockoff`: how much function survives when an explanation rebuilds the space?

The test (the feature-geometry argument): you understand an activation space if, from your
explanation alone, someone can construct a functionally equivalent one. With ground truth
we can measure it. A network whose later computation depends on a representation with
learned geometry:
- `modular`: the modular-addition network (toys.modular, "concatenated"), trained on half
  the (a, b) pairs; the representation is what its hidden layer reads, x(a, b) =
  [E[a], E[b]], whose Fourier circles are the only route to the unseen half.
- `calendar`: a planted days circle (7 values, toys.manifolds) among sparse features in
  R^d; the downstream network reads [x, onehot(k)] and answers day + k mod 7 ("the day
  k days after"), scored on fresh samples (new sparse features) — a lookup the geometry
  need not carry, beside the modular network's generalisation that only geometry can.
  With `calendar_heldout` > 0, that many (day, k) combinations are never trained on and
  the test is on them (rotating on the circle); a one-hot k gives an MLP no way to
  relate shifts, so even the original space fails there (measured: 0.000–0.053, below chance).
A TopK SAE is trained on x over every pair; from its latent activations a(x) six spaces
are built (sae.readers.knockoff): `reconstruction` (a(x) D + b), `random_placement` (superposition
only), `correlation_placement` (the latents' correlations only), `group_coordinates` (the
finder's groups at their exact in-plane coordinates, offset and out-of-plane norms: more
than a description states), `described_geometry` (only what a description states: the
blind ranking's claimed circles, `sae.readers.manifold_ranking`, as equally spaced points in their
cyclic order at their radius about their offset; the rest at random) and `original` (x itself).
On each, a fresh copy of the layers after the
embedding (same width, optimiser, weight decay and steps) is trained on a random share of
the pairs (`train_fractions`; the largest is the original network's own half) and scored
on the pairs it did not see; the original network's own layers are applied where the space
is the original one's (`original`, `reconstruction`). Chance is 1/p.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import numpy as np

from experiments.recovery import seed_keys
from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import architectures, pipeline
from sae.readers import knockoff, manifold_ranking, wall
from toys import manifolds, modular, network_training, stored
from toys.engine.config import check_fields, setting
from toys.engine.runtime import Runtime
from toys.protocol import Batch

NAME = "knockoff"
DESCRIPTION = "rebuild a representation from an SAE explanation (decoder, random, correlations, geometry): does the function survive?"
DAYS = 7
SPACES = ("reconstruction", "random_placement", "correlation_placement", "group_coordinates", "described_geometry", "original")


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    toy: modular.ModularConfig = modular.ModularConfig()
    train_fractions: tuple[float, ...] = setting(
        (0.2, 0.3, 0.4, 0.5), "shares of the pairs a fresh head trains on", low=0, low_open=True, high=1, high_open=True
    )
    sae_size: int = setting(256, "latents of the SAE on the representation", low=2)
    k: int = setting(8, "active latents per pair", low=1, high="sae_size")
    sae_steps: int = setting(5000, "SAE training steps", low=1)
    sae_batch_size: int = setting(256, "SAE batch", low=1)
    sae_learning_rate: float = setting(1e-3, "SAE learning rate", low=0, low_open=True)
    calendar_d: int = setting(32, "dimensions of the calendar's representation", low=3)
    calendar_sparse_features: int = setting(64, "sparse features beside the days circle", low=0)
    calendar_sparse_l0: float = setting(3.0, "their mean L0", low=0, low_open=True, high="max(calendar_sparse_features, 1)")
    calendar_samples: int = setting(4000, "fixed samples of the calendar task (each a day, a shift k, sparse features)", low=DAYS * DAYS)
    calendar_heldout: int = setting(
        0, "(day, k) combinations of the 49 never trained on (0: test on fresh samples)", low=0, high=DAYS * DAYS - 2 * DAYS
    )
    calendar_train_sizes: tuple[int, ...] = setting(
        (49, 98, 196, 392, 784), "training samples of the fresh heads", low=DAYS, high="calendar_samples // 2"
    )
    calendar_hidden: int = setting(64, "hidden units of the calendar's head", low=1)
    calendar_steps: int = setting(3000, "full-batch AdamW steps of the calendar's heads", low=1)
    calendar_sae_size: int = setting(64, "latents of the SAE on the calendar's representation", low=2)
    calendar_k: int = setting(4, "its active latents per sample", low=1, high="calendar_sae_size")

    @classmethod
    def quick(cls) -> "Config":
        return cls(toy=modular.ModularConfig(p=37, steps=8000), sae_steps=3000)

    def calendar_toy(self) -> manifolds.ManifoldConfig:
        """The calendar's representation: one circle of 7 days (always present) among sparse features."""
        return _calendar_toy(self)

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")
        self.calendar_toy().validate()


def _calendar_toy(config: "Config") -> manifolds.ManifoldConfig:
    return manifolds.ManifoldConfig(
        d=config.calendar_d,
        manifolds=(manifolds.ManifoldSpec(name="days", values=DAYS, probability=1.0),),
        n_sparse_features=config.calendar_sparse_features,
        sparse_mean_l0=config.calendar_sparse_l0,
    )


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of the heads' full-batch training: every space × fraction on all p² pairs."""
    net = config.toy
    heads = len(SPACES) * len(config.train_fractions)
    floats = heads * net.p**2 * (2 * net.embed_dim + 2 * net.hidden + 2 * net.p) * 3
    return int(memory.SAFETY * memory.FLOAT * floats), "toy.p"


def circle_null(k: int, config: "Config", samples: int) -> tuple[np.ndarray, dict]:
    """The null the blind circle claims are tested against: no null twins are drawn here, so the
    stored stratum nearest this SAE's budget and sample count at its k
    (`manifold_ranking.nearest_null`); returns (tops, a record of which stratum decided)."""
    tops, used = manifold_ranking.nearest_null(k, manifold_ranking.Stratum(config.sae_steps, config.sae_batch_size, samples))
    return tops, {
        "k": k,
        "stratum": used._asdict() if used else None,
        "null_size": len(tops),
        "matches_settings": bool(used and used == (config.sae_steps, config.sae_batch_size, samples)),
    }


def spaces(
    observation: wall.Observation, config: "Config", bias, rng: np.random.Generator, null_top, null_source: str
) -> tuple[dict[str, np.ndarray], dict]:
    """The six spaces of one representation (module docstring), and facts about their building. The
    methods that find structure (coordinate groups, claimed circles) take the wall's one road."""
    codes, decoder, x, bias = observation.codes, observation.decoder, observation.x, np.asarray(bias)
    groups, planes = wall.apply(knockoff.coordinate_groups, observation, ("codes", "decoder"))
    given = wall.settings(config, seed="seed").with_calibration("null_top", null_top, null_source)
    claimed = wall.apply(knockoff.claimed_circle_groups, observation, ("x", "codes", "decoder"), given)
    circles = [knockoff.describe_circle(decoder, g) for g in claimed]
    correlation = knockoff.correlation_placement(rng, codes, decoder)
    built = {
        "reconstruction": knockoff.reconstruction(codes, decoder, bias),
        "random_placement": knockoff.place(codes, knockoff.random_placement(rng, decoder)),
        "correlation_placement": knockoff.place(codes, correlation.placement),
        "group_coordinates": knockoff.place(codes, knockoff.group_coordinates_placement(rng, decoder, groups, planes)),
        "described_geometry": knockoff.place(codes, knockoff.described_placement(rng, decoder, circles)),
        "original": np.asarray(x, np.float64),
    }
    building = {
        "correlation_feasible": correlation.feasible,
        "correlation_relative_error": correlation.relative_error,
        "coordinate_groups": [len(g) for g in groups],
        "described_circles": [len(c.latents) for c in circles],
    }
    return built, building


def random_mask(n: int, pool: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """[n] bool: `size` rows drawn without replacement from `pool` (all of it if smaller)."""
    mask = np.zeros(n, bool)
    mask[rng.permutation(pool)[:size]] = True
    return mask


def fraction_masks(train_mask: np.ndarray, fractions, rng: np.random.Generator) -> np.ndarray:
    """One training mask per fraction [F, p²]: the original network's own split for the largest
    fraction when it equals its train_fraction, otherwise a random subset of that size."""
    n = train_mask.shape[0]
    masks = []
    for f in fractions:
        size = int(round(f * n))
        if size == int(train_mask.sum()):
            masks.append(train_mask.copy())
            continue
        masks.append(random_mask(n, np.arange(n), size, rng))
    return np.stack(masks)


def modular_network(config: Config, key: jax.Array, runtime=None) -> tuple[dict, dict]:
    net = config.toy
    key_net, key_sae, key_heads, key_numpy = jax.random.split(key, 4)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key_numpy)).tolist())
    result = modular.train(net, seed_keys(key_net, net.p, [0]), runtime)
    x = modular.pair_embeddings(net, result)
    hps = pipeline.stack([architectures.hparams(config.sae_learning_rate, 0.0, config.k)])
    sae = pipeline.fit(
        "topk",
        stored.from_arrays(x),
        hps,
        seed_keys(key_sae, config.sae_size, [0]),
        n_latents=config.sae_size,
        steps=config.sae_steps,
        batch_size=config.sae_batch_size,
        label=f"topk m={config.sae_size} on [E_a, E_b]",
        runtime=runtime,
    )
    observation = wall.observe(Batch(x), "topk", sae.params, hps)  # every pair's embedding, nothing else
    null_top, null_used = circle_null(config.k, config, len(x))
    built, building = spaces(observation, config, sae.params.b_dec[0], rng, null_top, f"stored null, k={config.k}")
    building["circle_null"] = null_used
    a, b = modular.all_pairs(net.p)
    labels = (a + b) % net.p
    train_mask = np.asarray(result.train_mask[0])
    masks = fraction_masks(train_mask, config.train_fractions, rng)
    inputs = np.stack([built[s] for s in SPACES for _ in config.train_fractions])
    grid_masks = np.concatenate([masks] * len(SPACES))
    keys = jax.random.split(key_heads, len(inputs))
    heldout = modular.train_heads(net, inputs, labels, grid_masks, keys, runtime).test_accuracy
    heldout = heldout.reshape(len(SPACES), len(config.train_fractions))
    main = int(np.argmax(config.train_fractions))
    entries = []
    for i, space in enumerate(SPACES):
        original_head = None
        if space in ("original", "reconstruction"):
            predicted = np.argmax(modular.original_head(net, result, built[space]), axis=1)
            original_head = float(np.mean(predicted[~train_mask] == labels[~train_mask]))
        entries.append(
            {
                "space": space,
                "heldout_accuracy": float(heldout[i, main]),
                "accuracy_by_train_size": [
                    {"train_fraction": f, "train_samples": int(m.sum()), "accuracy": float(acc)}
                    for f, m, acc in zip(config.train_fractions, masks, heldout[i])
                ],
                "original_head_accuracy": original_head,
            }
        )
    explained = float(pipeline.explained_variance("topk", sae.params, hps, x)[0])
    network = {
        "name": "modular",
        "p": net.p,
        "test_accuracy": float(result.test_accuracy[0]),
        "chance": 1.0 / net.p,
        "sae_explained_variance": explained,
        **building,
        "spaces": entries,
    }
    return network, {}


def calendar_network(config: Config, key: jax.Array, runtime=None) -> dict:
    key_toy, key_sample, key_shift, key_sae, key_heads, key_numpy = jax.random.split(key, 6)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key_numpy)).tolist())
    toy = manifolds.build(config.calendar_toy(), key_toy)
    n = config.calendar_samples
    sample = manifolds.sample(toy, key_sample, n)
    x = np.asarray(sample.x)
    day = np.round(np.asarray(sample.phases[:, 0, 0]) * DAYS / (2 * np.pi)).astype(int) % DAYS
    shift = np.asarray(jax.random.randint(key_shift, (n,), 0, DAYS))
    labels = (day + shift) % DAYS
    if config.calendar_heldout:
        # held-out (day, k) combinations: every day and every shift keeps some trained combinations
        while True:
            heldout = np.zeros((DAYS, DAYS), bool)
            heldout.flat[rng.permutation(DAYS * DAYS)[: config.calendar_heldout]] = True
            if not heldout.all(axis=0).any() and not heldout.all(axis=1).any():
                break
        test = heldout[day, shift]
    else:  # fresh samples: the last quarter, never trained on
        test = np.arange(n) >= n - n // 4
    pool = np.flatnonzero(~test)
    masks = np.stack([random_mask(n, pool, size, rng) for size in config.calendar_train_sizes])
    hps = pipeline.stack([architectures.hparams(config.sae_learning_rate, 0.0, config.calendar_k)])
    sae = pipeline.fit(
        "topk",
        toy,
        hps,
        seed_keys(key_sae, config.calendar_sae_size, [0]),
        n_latents=config.calendar_sae_size,
        steps=config.sae_steps,
        batch_size=config.sae_batch_size,
        label=f"topk m={config.calendar_sae_size} on the calendar representation",
        runtime=runtime,
    )
    observation = wall.observe(sample, "topk", sae.params, hps)
    null_top, null_used = circle_null(config.calendar_k, config, len(x))
    built, building = spaces(observation, config, sae.params.b_dec[0], rng, null_top, f"stored null, k={config.calendar_k}")
    building["circle_null"] = null_used
    shifts = np.eye(DAYS)[shift]
    inputs = np.stack([np.concatenate([built[s], shifts], axis=1) for s in SPACES for _ in masks])
    keys = jax.random.split(key_heads, len(inputs))
    heads = network_training.train_heads(
        inputs,
        labels,
        np.concatenate([masks] * len(SPACES)),
        keys,
        hidden=config.calendar_hidden,
        learning_rate=3e-3,
        weight_decay=1e-2,
        steps=config.calendar_steps,
        runtime=runtime,
    )
    accuracy = np.array([np.mean(np.argmax(heads.logits(g, inputs[g][test]), axis=1) == labels[test]) for g in range(len(inputs))]).reshape(
        len(SPACES), len(masks)
    )
    # the head trained on the original space (largest size) applied to the spaces that share it
    reference = SPACES.index("original") * len(masks) + len(masks) - 1
    entries = []
    for i, space in enumerate(SPACES):
        original_head = None
        if space in ("original", "reconstruction"):
            same = np.concatenate([built[space], shifts], axis=1)[test]
            original_head = float(np.mean(np.argmax(heads.logits(reference, same), axis=1) == labels[test]))
        entries.append(
            {
                "space": space,
                "heldout_accuracy": float(accuracy[i, -1]),
                "accuracy_by_train_size": [{"train_samples": int(m.sum()), "accuracy": float(acc)} for m, acc in zip(masks, accuracy[i])],
                "original_head_accuracy": original_head,
            }
        )
    explained = float(pipeline.explained_variance("topk", sae.params, hps, x)[0])
    return {
        "name": "calendar",
        "heldout_combinations": int(config.calendar_heldout),
        "test_samples": int(test.sum()),
        "chance": 1.0 / DAYS,
        "sae_explained_variance": explained,
        **building,
        "spaces": entries,
    }


def run(config: Config, runtime: Runtime | None = None) -> Result:
    root = seeding.root_key(config.seed)
    network, arrays = modular_network(config, seeding.stream(root, "networks"), runtime)
    calendar = calendar_network(config, seeding.stream(root, "second network"), runtime)
    return Result(
        {"networks": [network, calendar], "train_fractions": list(config.train_fractions)},
        arrays=arrays,
        table=[
            table.Row(
                space["space"],
                metric,
                space[metric],
                entry["chance"],
                seed=config.seed,
                reader="fresh head",
                setting={"network": entry["name"]},
            )
            for entry in (network, calendar)
            for space in entry["spaces"]
            for metric in ("heldout_accuracy", "original_head_accuracy")
        ]
        + [
            table.Row(
                space["space"],
                "heldout_accuracy",
                point["accuracy"],
                entry["chance"],
                seed=config.seed,
                reader="fresh head by training samples",
                setting={"network": entry["name"], "training samples": point["train_samples"]},
            )
            for entry in (network, calendar)
            for space in entry["spaces"]
            for point in space["accuracy_by_train_size"]
        ]
        + [
            table.Row("network", metric, entry[metric], None, seed=config.seed, reader="network", setting={"network": entry["name"]})
            for entry in (network, calendar)
            for metric in ("test_accuracy", "sae_explained_variance", "correlation_relative_error")
            if metric in entry
        ],
    )


class NetworkFacts(NamedTuple):
    """A network as the run declared and described it (results.json's networks, beside the table)."""

    name: str
    chance: float
    coordinate_groups: tuple[int, ...]  # the sizes of the finder's groups
    described_circles: tuple[int, ...]  # the sizes of the claimed circles the described geometry uses
    correlation_feasible: bool  # the correlation placement is exact (rank ≤ d)
    p: int | None = None  # modular only
    heldout_combinations: int | None = None  # calendar only
    test_samples: int | None = None  # calendar only


@dataclasses.dataclass(frozen=True)
class Facts:
    networks: tuple[NetworkFacts, ...]


def _network(rows: list[table.Row], name: str) -> dict:
    return {row.metric: row.value for row in table.select(rows, {"network": name}, reader="network")}


def headline(results: dict) -> str:
    first = facts.read(results, Facts).networks[0].name
    rows = table.select(table.read(results), {"network": first}, reader="fresh head")
    acc = {
        space: table.mean(rows, arm=space, metric="heldout_accuracy") for space in ("random_placement", "described_geometry", "original")
    }
    shown = lambda value: "—" if value is None else f"{value:.2f}"  # noqa: E731
    return (
        f"{first}: random placement {shown(acc['random_placement'])}, described "
        f"{shown(acc['described_geometry'])}, original {shown(acc['original'])}"
    )


def plot(results: dict, arrays: dict, folder) -> list:
    rows = table.select(table.read(results), reader="fresh head by training samples")
    networks = facts.read(results, Facts).networks
    figure, axes = panels.panels(len(networks), width=6.5, height=4.2)
    for ax, n in zip(axes, networks):
        held = (
            f"the unseen pairs, p = {n.p}"
            if n.name == "modular"
            else f"{n.heldout_combinations} unseen (day, k) combinations"
            if n.heldout_combinations
            else "fresh samples"
        )
        panels.metric_by_setting(
            ax,
            table.select(rows, {"network": n.name}),
            "heldout_accuracy",
            "training samples",
            f"{n.name}: {held}; dashed: chance {n.chance:.3f}",
        )
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
    return [
        panels.finish(
            figure,
            axes,
            "Which knockoffs keep the function: a fresh head's held-out accuracy against its training samples",
            folder / "knockoff_accuracy.png",
            xlabel="training samples of the fresh head",
            ylabel="accuracy on held-out inputs",
            legend=False,
        )
    ]


def summary(results: dict) -> str:
    """From the results table (each network as the run declared it, from its facts)."""
    rows = table.read(results)
    lines = []
    for n in facts.read(results, Facts).networks:
        read = _network(rows, n.name)
        if n.name == "modular":
            lines.append(
                f"modular (p = {n.p}; the network's own test accuracy {read['test_accuracy']:.3f}; chance "
                f"{n.chance:.3f}; SAE explained variance {read['sae_explained_variance']:.3f})"
            )
            heldout = "the pairs outside its training share"
        else:
            held = f"{n.heldout_combinations} of 49 (day, k) combinations held out" if n.heldout_combinations else "fresh samples"
            lines.append(
                f"calendar (tested on {held}, {n.test_samples} test samples; chance {n.chance:.3f}; "
                f"SAE explained variance {read['sae_explained_variance']:.3f})"
            )
            heldout = "the held-out combinations" if n.heldout_combinations else "fresh samples"
        curves = table.select(rows, {"network": n.name}, reader="fresh head by training samples")
        sizes = list(dict.fromkeys(row.setting["training samples"] for row in curves))
        lines.append(f"{'space':<24}" + "".join(f"{'n=' + str(s):>9}" for s in sizes) + f"{'original head':>15}")
        for space in dict.fromkeys(row.arm for row in curves):
            original = table.select(rows, {"network": n.name}, arm=space, reader="fresh head", metric="original_head_accuracy")[0].value
            head = "—" if original is None else f"{original:.3f}"
            accuracy = "".join(f"{row.value:>9.3f}" for row in table.select(curves, arm=space))
            lines.append(f"{space:<24}{accuracy}{head:>15}")
        lines.append(
            f"(accuracy of a fresh head trained on n samples, on {heldout}; correlation placement "
            f"{'exact' if n.correlation_feasible else 'not exact'}, relative Gram error "
            f"{read['correlation_relative_error']:.3f}; group coordinates from {len(n.coordinate_groups)} "
            f"group(s) of sizes {list(n.coordinate_groups)}; described geometry from "
            f"{len(n.described_circles)} claimed circle(s) of sizes {list(n.described_circles)})"
        )
        lines.append("")
    return "\n".join(lines).rstrip()


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate)
