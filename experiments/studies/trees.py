"""Experiment `trees`: feature splitting, absorption, and the Matryoshka fix on a planted hierarchy.

Toy (toys.trees): 24 roots × branching 3 × depth 3 = 312 features in d = 64, each
child firing only with its parent (probability 0.3), children mutually exclusive,
expected L0 6. Dictionaries at one size (default 256 < 312 features, as in
SynthSAEBench's 4096 < 16,384): BatchTopK and Matryoshka (k = 4 < the true L0, with
AuxK), ReLU+L1, and a random ±1/√d dictionary encoded by TopK (chance). All are scored
alike (`sae.evaluate`, with the absorption metrics of `sae.absorption`).

Hierarchies (`sae.readers.hierarchy`): a ladder of dictionaries of one architecture at
increasing sizes gives the feature-splitting forest; average linkage of one
dictionary's latents (on decoder cosine and on co-firing) gives two more; each is
scored by edge recall / precision and the Robinson–Foulds similarity against the
planted tree, beside a random-dictionary ladder and a shuffled planted tree (chance).

The exact two-feature toy (the study of `experiments.studies.two_feature`, also run alone as
`toylab run two-feature`; theory.absorption): the hand-built absorbed and
non-absorbed dictionaries' expected L1 against the closed forms, and 2-latent SAEs
trained on it — ReLU+L1 and Matryoshka with the same L1 (`matryoshka_l1`) — with the
parent latent's activation on parent + child.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import numpy as np

from experiments import two_feature_absorption as two_feature
from experiments.recovery import (
    Recovery,
    edge_absorption,
    edge_summary_lines,
    edge_summary_rows,
    eval_key,
    headline,
    saebench_lines,
    saebench_rows,
    seed_keys,
    summary_table,
)
from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import absorption, absorption_saebench, architectures, evaluate, pipeline
from sae.readers import hierarchy
from toys import trees
from toys.engine.config import ConfigError, check_fields, check_range, setting
from toys.engine.runtime import Runtime

NAME = "trees"
DESCRIPTION = "planted hierarchy: absorption (BatchTopK, Matryoshka, ReLU, random), splitting and linkage trees"
TRAINED_KINDS = ("batchtopk", "matryoshka", "relu")
SPLITTING_KINDS = ("batchtopk", "matryoshka", "topk", "relu")
TREE_GRADERS = ("sizes", "linkage_cosine", "linkage_cofiring")


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    n_seeds: int = setting(1, low=1)
    toy: trees.TreeConfig = trees.TreeConfig(exclusive_fraction=1.0)
    kinds: tuple[str, ...] = setting(TRAINED_KINDS, choices=TRAINED_KINDS)
    size: int = setting(256, "dictionary size", low=2)
    k: int = setting(4, low=1, high="min(size, *splitting_sizes)")
    l1_coefficient: float = setting(1.0, "ReLU+L1; gives an L0 near k on the default toy", low=0)
    aux_coefficient: float = setting(1 / 32, "AuxK for BatchTopK and Matryoshka", low=0)
    learning_rate: float = setting(3e-3, low=0, low_open=True)
    steps: int = setting(10_000, low=1)
    batch_size: int = setting(1024, low=1)
    n_eval: int = setting(evaluate.MIN_EVAL_SAMPLES, low=1000)
    splitting_kind: str = setting("batchtopk", "architecture of the splitting ladder", choices=SPLITTING_KINDS)
    splitting_sizes: tuple[int, ...] = setting((32, 64, 128, 256), "the ladder's sizes", low=2)
    match_threshold: float = setting(
        hierarchy.MATCH_THRESHOLD, "|cos| above which an inferred latent is matched to a feature", low=0, low_open=True, high=1
    )
    n_tree_samples: int = setting(16_384, "samples whose firing the co-firing linkage and the parent direction use", low=100)
    two_feature_p10: float = setting(0.3, "two-feature toy: P(parent alone)", low=0, low_open=True, high=1)
    two_feature_p11: float = setting(0.2, "two-feature toy: P(parent and child)", low=0, low_open=True, high="1 - two_feature_p10")
    two_feature_l1: float = setting(0.3, "two-feature toy: λ", low=0, low_open=True)
    two_feature_seeds: int = setting(8, "two-feature toy: seeds", low=1)
    two_feature_steps: int = setting(3000, "two-feature toy: training steps", low=1)
    figure_roots: int = setting(3, "trees drawn in trees.png", low=1, high="toy.n_roots")
    saebench_samples: int = setting(
        absorption_saebench.SAMPLES,
        "per split, SAEBench's absorption (0: not read)",
        low=0,
        allowed=f"0, or [{absorption_saebench.MIN_SAMPLES}, inf)",
    )

    @classmethod
    def quick(cls) -> "Config":
        return cls(steps=4000, batch_size=256)

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")
        check_range("toy.depth", self.toy.depth, low=2)  # a hierarchy needs parents
        absorption_saebench.check_samples("saebench_samples", self.saebench_samples)
        if len(self.splitting_sizes) < 2 or list(self.splitting_sizes) != sorted(set(self.splitting_sizes)):
            raise ConfigError(
                f"splitting_sizes: got {','.join(map(str, self.splitting_sizes))}, allowed: two or more strictly increasing sizes"
            )


# --- the hierarchical toy ----------------------------------------------------------------


def _hps(kind: str, config: Config):
    facts = architectures.get(kind)
    l1 = config.l1_coefficient if facts.penalty == "l1" else 0.0
    aux = config.aux_coefficient if facts.auxk else 0.0
    return architectures.hparams(config.learning_rate, l1, config.k, aux)


def _firing(kind: str, params, k: int, x) -> np.ndarray:
    """Whether each latent fires on each sample, [G, n, m] (baselines encode by TopK)."""
    if kind in pipeline.BASELINE_KINDS:
        return np.asarray(pipeline.chance_codes(params, k, x)) > 0
    return np.asarray(pipeline.encode(kind, params, pipeline.baseline_hparams(k, params.W_dec.shape[0]), x)) > 0


def _linkage_scores(planted, directions, decoder, firing, threshold) -> dict:
    inferred = {metric: hierarchy.linkage_parents(decoder, directions, firing, metric, threshold) for metric in ("cosine", "cofiring")}
    return {f"linkage_{metric}": (parents, hierarchy.tree_scores(planted, parents)) for metric, parents in inferred.items()}


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of the largest training call (the main size or the splitting ladder) and the field behind them."""
    return memory.sae_training_bytes(
        runs=config.n_seeds,
        d=config.toy.d,
        m=max(config.size, *config.splitting_sizes),
        batch=config.batch_size,
        n_features=config.toy.n_features,
        fields={
            "n_features": "toy.n_roots × toy.branching × toy.depth",
            "d": "toy.d",
            "m": "size",
            "batch": "batch_size",
            "runs": "n_seeds",
        },
    )


class Keys(NamedTuple):
    toy: jax.Array
    dictionaries: jax.Array  # training, chance and evaluation (`Recovery`)
    tree_sample: jax.Array  # the samples the trees are inferred on
    two_feature: jax.Array
    shuffle: jax.Array  # the shuffled-tree chance level


def run_keys(config: Config) -> Keys:
    """The run's keys, derived once: `run` and `evaluation_source` both read them here."""
    return Keys(*jax.random.split(seeding.root_key(config.seed), 5))


def evaluation_source(config: Config) -> dict:
    """The run's toy and eval samples, rebuilt from its config (for `toylab evaluate`)."""
    drawn = run_keys(config)
    toy = trees.build(config.toy, drawn.toy)
    return {"toy": toy, "key": eval_key(drawn.dictionaries), "n_eval": config.n_eval, "parents": toy.parents}


def run(config: Config, runtime: Runtime | None = None) -> Result:
    key_toy, key_dictionaries, key_tree_sample, key_two_feature, key_shuffle = run_keys(config)
    toy = trees.build(config.toy, key_toy)
    planted = np.asarray(toy.parents)
    directions = np.asarray(toy.directions)
    x_tree = toy.sample(key_tree_sample, config.n_tree_samples).x
    seeds = seeding.replica_seeds(config.seed, config.n_seeds)
    recovery = Recovery(
        toy,
        seeds,
        key_dictionaries,
        config.n_eval,
        config.k,
        parents=toy.parents,
        runtime=runtime,
        saebench_samples=config.saebench_samples,
    )
    arrays = {"planted_parents": planted, "depths": np.asarray(toy.depths)}

    trained = {}
    for kind in config.kinds:
        trained[kind] = recovery.train(kind, config.size, _hps(kind, config), config.steps, config.batch_size)
    trained["random"] = recovery.baseline("random", config.size)
    # per dictionary: the linkage trees of its latents (first seed's in the figure)
    for entry in recovery.entries:
        params = trained[entry["kind"]]
        g = seeds.index(entry["seed"])
        firing = _firing(entry["kind"], jax.tree.map(lambda leaf, g=g: leaf[g : g + 1], params), config.k, x_tree)[0]
        scores = _linkage_scores(planted, directions, np.asarray(params.W_dec[g]), firing, config.match_threshold)
        for method, (parents, tree_scores) in scores.items():
            entry["metrics"][f"edge_recall_{method}"] = tree_scores["edge_recall"]
            entry["metrics"][f"tree_similarity_{method}"] = tree_scores["tree_similarity"]
            if g == 0 and entry["kind"] == config.splitting_kind:
                arrays[f"inferred_{method}"] = parents

    splitting = _splitting(config, recovery, trained, planted, directions, x_tree, key_dictionaries, arrays)
    shuffled = np.asarray(jax.random.permutation(key_shuffle, config.toy.n_features))
    shuffled_tree = np.where(planted >= 0, shuffled[np.maximum(planted, 0)], -1)[np.argsort(shuffled)]
    splitting["chance"]["shuffled_tree"] = hierarchy.tree_scores(planted, shuffled_tree)

    edges, edge_summary = edge_absorption(recovery.entries)
    two = two_feature.study(
        config.two_feature_p10,
        config.two_feature_p11,
        config.two_feature_l1,
        config.two_feature_seeds,
        config.two_feature_steps,
        config.learning_rate,
        key_two_feature,
        runtime,
    )
    return Result(
        {
            "dictionaries": recovery.entries,
            "edge_absorption": edges,
            "edge_absorption_summary": edge_summary,
            "splitting": splitting,
            "two_feature": two,
            "toy": {
                "n_features": config.toy.n_features,
                "d": config.toy.d,
                "n_roots": config.toy.n_roots,
                "branching": config.toy.branching,
                "depth": config.toy.depth,
                "n_parents": config.toy.n_parents,
                "exclusive_fraction": config.toy.exclusive_fraction,
                "expected_true_l0": float(np.sum(trees.firing_probabilities(config.toy))),
            },
            "k": config.k,
            "size": config.size,
            "figure_roots": config.figure_roots,
        },
        arrays=arrays,
        dictionaries=recovery.saved,
        table=[
            *recovery.rows(),
            *tree_rows(recovery.entries, edges, splitting, config.seed),
            *edge_summary_rows(edge_summary, config.seed),
            *saebench_rows(recovery.entries),
            *two_feature.rows(two, config.seed, TWO_FEATURE),
        ],
    )


def tree_rows(entries: list[dict], edges: list[dict], splitting: dict, seed: int) -> list[table.Row]:
    """Rows beyond the streamed metrics: each parent's absorption score a(p) per dictionary (where
    scored); each planted edge's symptom gap and absorbed rate per dictionary (edges with enough
    samples both ways, `sae.absorption.MIN_SAMPLES`); each tree grader's edge recall, precision and
    tree similarity on the splitting ladder (chance: the same grader on random dictionaries)."""
    rows = []
    for entry in entries:
        for parent, score in enumerate(entry["metrics"].get("absorption_scores", [])):
            if score is not None:
                rows.append(
                    table.Row(
                        entry["kind"],
                        "absorption_score",
                        score,
                        size=entry["size"],
                        seed=entry["seed"],
                        reader="absorption",
                        setting={"parent": parent},
                    )
                )
    for edge in edges:
        if edge["n_alone"] >= absorption.MIN_SAMPLES and edge["n_with_child"] >= absorption.MIN_SAMPLES:
            where = {"parent": edge["parent"], "child": edge["child"]}
            for metric in ("symptom_gap", "absorbed_rate"):
                rows.append(table.Row(edge["arch"], metric, edge[metric], seed=edge["seed"], reader="edge absorption", setting=where))
    chance = splitting["chance"]["random_dictionaries"]
    for grader in TREE_GRADERS:
        for metric in ("edge_recall", "edge_precision", "tree_similarity"):
            rows.append(table.Row(grader, metric, splitting[metric][grader], chance[grader][metric], seed=seed, reader="splitting ladder"))
    for metric in ("edge_recall", "tree_similarity"):  # the planted tree with its features shuffled: a chance level
        rows.append(table.Row("shuffled tree", metric, splitting["chance"]["shuffled_tree"][metric], seed=seed, reader="splitting ladder"))
    return rows


TWO_FEATURE = {"study": "two-feature"}  # the embedded two-feature study's rows carry it


class TreeToyFacts(NamedTuple):
    n_features: int
    d: int


class SplittingFacts(NamedTuple):
    kind: str  # the ladder's architecture
    sizes: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json, beside the table)."""

    toy: TreeToyFacts
    k: int
    size: int
    figure_roots: int
    splitting: SplittingFacts
    two_feature: two_feature.Facts  # the embedded two-feature study's settings


def _ladder_scores(decoders, firing_top, planted, directions, threshold) -> tuple[dict, dict]:
    """Scores of the splitting forest of a ladder and of the linkage trees of its top dictionary."""
    inferred = {"sizes": hierarchy.splitting_parents(decoders, directions, threshold)}
    scores = {"sizes": hierarchy.tree_scores(planted, inferred["sizes"])}
    for method, (parents, tree_scores) in _linkage_scores(planted, directions, decoders[-1], firing_top, threshold).items():
        inferred[method], scores[method] = parents, tree_scores
    return inferred, scores


def _splitting(config, recovery, trained, planted, directions, x_tree, key, arrays) -> dict:
    """Ladders of the splitting kind and of random dictionaries (chance), first seed."""
    kind, d = config.splitting_kind, config.toy.d
    decoders, random_decoders = [], []
    key_ladder, key_random = jax.random.split(seeding.stream(key, "splitting ladder"))
    for size in config.splitting_sizes:
        if size == config.size and kind in trained:
            params = jax.tree.map(lambda leaf: leaf[:1], trained[kind])
        else:
            params = pipeline.fit(
                kind,
                recovery.toy,
                pipeline.stack([_hps(kind, config)]),
                seed_keys(key_ladder, size, [0]),
                n_latents=size,
                steps=config.steps,
                batch_size=config.batch_size,
                k_max=config.k,
                label=f"splitting ladder: {kind} m={size}",
                runtime=recovery.runtime,
            ).params
        decoders.append(np.asarray(params.W_dec[0]))
        random_decoders.append(np.asarray(pipeline.baseline("random", seed_keys(key_random, size, [0]), d, size).W_dec[0]))
    firing = _firing(kind, params, config.k, x_tree)[0]
    inferred, scores = _ladder_scores(decoders, firing, planted, directions, config.match_threshold)
    arrays["inferred_sizes"] = inferred["sizes"]
    random_params = pipeline.baseline("random", seed_keys(key_random, config.splitting_sizes[-1], [0]), d, config.splitting_sizes[-1])
    _, random_scores = _ladder_scores(
        random_decoders, _firing("random", random_params, config.k, x_tree)[0], planted, directions, config.match_threshold
    )
    return {
        "kind": kind,
        "sizes": list(config.splitting_sizes),
        "edge_recall": {method: scores[method]["edge_recall"] for method in TREE_GRADERS},
        "edge_precision": {method: scores[method]["edge_precision"] for method in TREE_GRADERS},
        "tree_similarity": {method: scores[method]["tree_similarity"] for method in TREE_GRADERS},
        "chance": {"random_dictionaries": random_scores},
    }


# --- figures and summary -------------------------------------------------------------------


def plot(results: dict, arrays: dict, folder) -> list:
    """The planted tree beside the trees the graders infer (edge recall and precision from the results
    table); F1 and absorption per architecture; per planted edge, the symptom and the absorbed rate."""
    rows = table.read(results)
    run = facts.read(results, Facts)
    paths = []
    planted, depths = np.asarray(arrays["planted_parents"]), np.asarray(arrays["depths"])
    trees_drawn = [("planted", planted)] + [(m, np.asarray(arrays[f"inferred_{m}"])) for m in TREE_GRADERS if f"inferred_{m}" in arrays]
    figure, axes = panels.panels(len(trees_drawn), width=5.2, height=3.9, columns=2)
    for ax, (name, parents) in zip(axes, trees_drawn):
        if name == "planted":
            title = f"planted ({run.figure_roots} roots of {len(planted)} features)"
        else:
            recall, precision = (
                table.mean(rows, arm=name, metric=m, reader="splitting ladder") or 0.0 for m in ("edge_recall", "edge_precision")
            )
            title = f"{name}: edge recall {recall:.2f}, precision {precision:.2f}\n(all {len(planted)} features)"
        panels.forest(ax, parents, planted, depths, run.figure_roots, title)
    splitting = run.splitting
    title = (
        f"Planted tree beside trees inferred from {splitting.kind} dictionaries\n"
        f"(sizes {splitting.sizes[0]}…{splitting.sizes[-1]}; "
        f"linkage on m={splitting.sizes[-1]}); green = planted edge, red = wrong parent"
    )
    paths.append(panels.finish(figure, axes, title, folder / "trees.png", legend=False))

    streamed = table.select(rows, reader=table.STREAMED)
    kinds = list(dict.fromkeys(row.arm for row in streamed))
    colours = {kind: "0.6" if kind == "random" else f"C{i}" for i, kind in enumerate(kinds)}
    figure, axes = panels.panels(2, width=4.5, height=3.6)
    panels.bars_by_arm(axes[0], streamed, "f1", {kind: kind for kind in kinds}, "F1 (per-latent detection, mean)", tuple(colours.values()))
    axes[0].set_ylim(0, 1)
    panels.bars_by_arm(axes[1], streamed, "absorption_rate", {kind: kind for kind in kinds}, "", tuple(colours.values()), False, 0.5)
    scores = [dataclasses.replace(row, value=max(row.value or 0.0, 0.0)) for row in table.select(rows, reader="absorption")]
    title = "absorption: rate (bar), max(a(p), 0) per parent (dots)"
    panels.strip_by_arm(axes[1], scores, "absorption_score", None, title, colour=colours, arms=tuple(kinds))
    axes[1].set_xticks(range(len(kinds)), kinds)
    axes[1].set_ylim(-0.02, 1.02)
    title = f"{run.toy.n_features}-feature hierarchy in {run.toy.d} dims, m={run.size}, k={run.k} (grey: random dictionary, chance)"
    paths.append(panels.finish(figure, axes, title, folder / "absorption_by_architecture.png", legend=False))

    edges = table.select(rows, reader="edge absorption")
    figure, axes = panels.panels(1, width=7.0, height=3.8)
    chance = [row.value for row in edges if row.arm == "random" and row.metric == "symptom_gap"]
    if chance:
        axes[0].axhspan(
            np.percentile(chance, 5), np.percentile(chance, 95), color="0.85", zorder=0, label="random dictionary's symptom, 5–95%"
        )
    panels.paired_strips(axes[0], edges, ("symptom_gap", "absorbed_rate"), kinds, colours)
    axes[0].set_xticks(range(len(kinds)), [f"{kind}\nsymptom | absorbed" for kind in kinds], fontsize=8)
    axes[0].axhline(0, color="k", lw=0.6)
    axes[0].set_ylim(-1.05, 1.05)
    title = (
        "Per planted parent→child edge and seed: the symptom (left: recall alone − with child) and\n"
        "absorbed rate, toylab's (right: the child's latent fires carrying the parent's direction); black: mean"
    )
    paths.append(panels.finish(figure, axes, title, folder / "edge_absorption.png", ylabel="per edge"))
    return paths


def summary(results: dict) -> str:
    columns = (
        "f1",
        "mcc",
        "absorption_rate",
        "absorbed_share",
        "edge_recall_linkage_cosine",
        "edge_recall_linkage_cofiring",
        "explained_variance",
        "l0",
        "dead_fraction",
    )
    lines = [summary_table(results, columns), ""]
    splitting = facts.read(results, Facts).splitting
    ladder = table.select(table.read(results), reader="splitting ladder")
    lines.append(f"hierarchy inferred from {splitting.kind} dictionaries, sizes {list(splitting.sizes)}:")
    lines.append("(graders, not blind methods: each reads the tree after matching latents to the planted directions)")
    lines.append(f"{'grader':<18}{'edge recall':>12}{'precision':>11}{'tree sim.':>11}{'random':>9}")
    for grader in TREE_GRADERS:
        read = {row.metric: row for row in table.select(ladder, arm=grader)}
        lines.append(
            f"{grader:<18}{read['edge_recall'].value:>12.3f}{read['edge_precision'].value:>11.3f}"
            f"{read['tree_similarity'].value:>11.3f}{read['edge_recall'].chance:>9.3f}"
        )
    shuffled = {row.metric: row.value for row in table.select(ladder, arm="shuffled tree")}
    lines.append(
        f"(random: edge recall of a random-dictionary ladder; a shuffled planted tree scores edge recall "
        f"{shuffled['edge_recall']:.3f}, tree similarity {shuffled['tree_similarity']:.3f})"
    )
    rows = table.read(results)
    lines += ["", *edge_summary_lines(rows)]
    lines += ["", *saebench_lines(rows)]
    lines += ["", two_feature.summary_text(rows, facts.read(results, Facts).two_feature, TWO_FEATURE)]
    return "\n".join(lines)


STUDY = Study(
    NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate, evaluation_source=evaluation_source
)
