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

import jax
import numpy as np

from experiments import two_feature_absorption as two_feature
from experiments.recovery import (
    Recovery,
    edge_absorption,
    edge_summary_lines,
    eval_key,
    headline,
    saebench_lines,
    seed_keys,
    summary_table,
)
from experiments.runner import memory, seeding
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


def evaluation_source(config: Config) -> dict:
    """The run's toy and eval samples, rebuilt from its config (for `toylab evaluate`)."""
    key_toy, key_dictionaries = jax.random.split(seeding.root_key(config.seed), 5)[:2]
    toy = trees.build(config.toy, key_toy)
    return {"toy": toy, "key": eval_key(key_dictionaries), "n_eval": config.n_eval, "parents": toy.parents}


def run(config: Config, runtime: Runtime | None = None) -> Result:
    key_toy, key_dictionaries, key_tree_sample, key_two_feature, key_shuffle = jax.random.split(seeding.root_key(config.seed), 5)
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
    return Result(
        {
            "dictionaries": recovery.entries,
            "edge_absorption": edges,
            "edge_absorption_summary": edge_summary,
            "splitting": splitting,
            "two_feature": two_feature.study(
                config.two_feature_p10,
                config.two_feature_p11,
                config.two_feature_l1,
                config.two_feature_seeds,
                config.two_feature_steps,
                config.learning_rate,
                key_two_feature,
                runtime,
            ),
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
        table=recovery.rows(),
    )


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
    key_ladder, key_random = jax.random.split(jax.random.fold_in(key, 7))
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


def _layout(parents: np.ndarray, depths: np.ndarray, nodes: np.ndarray) -> dict:
    """(x, y) per node of a planted subforest: leaves evenly spaced, parents above their children's mean."""
    children = {}
    for node in nodes:
        if parents[node] >= 0:
            children.setdefault(int(parents[node]), []).append(int(node))
    position, next_leaf = {}, [0.0]

    def place(node):
        kids = children.get(node, [])
        if kids:
            for kid in kids:
                place(kid)
            position[node] = (np.mean([position[kid][0] for kid in kids]), -depths[node])
        else:
            position[node] = (next_leaf[0], -depths[node])
            next_leaf[0] += 1.0

    for root in nodes[parents[nodes] < 0]:
        place(int(root))
        next_leaf[0] += 0.8  # a gap between trees
    return position


def _subforest(parents: np.ndarray, n_roots: int) -> np.ndarray:
    """The first n_roots roots and all their descendants."""
    keep = np.zeros(len(parents), bool)
    keep[np.flatnonzero(parents < 0)[:n_roots]] = True
    for _ in range(len(parents)):
        grown = keep | ((parents >= 0) & keep[np.maximum(parents, 0)])
        if (grown == keep).all():
            break
        keep = grown
    return np.flatnonzero(keep)


def plot(results: dict, arrays: dict, folder) -> list:
    import matplotlib.pyplot as plt

    from experiments.runner.runfolder import save_figure

    paths = []
    planted = np.asarray(arrays["planted_parents"])
    depths = np.asarray(arrays["depths"])
    nodes = _subforest(planted, results["figure_roots"])
    position = _layout(planted, depths, nodes)
    shown = set(nodes.tolist())
    panels = [("planted", planted)] + [(m, np.asarray(arrays[f"inferred_{m}"])) for m in TREE_GRADERS if f"inferred_{m}" in arrays]
    splitting = results["splitting"]
    columns = 2  # a grid, not a strip: each tree keeps a readable size
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.9 * rows), squeeze=False)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    for ax, (name, parents) in zip(axes.ravel(), panels):
        for child in nodes:
            parent = int(parents[child])
            if parent < 0 or parent not in shown:
                continue
            correct = parent == planted[child]
            (x0, y0), (x1, y1) = position[parent], position[child]
            ax.plot([x0, x1], [y0, y1], color="tab:green" if correct else "tab:red", lw=1.2, alpha=0.9, zorder=1)
        xy = np.array([position[node] for node in nodes])
        ax.scatter(xy[:, 0], xy[:, 1], s=18, c="0.25", zorder=2)
        if name == "planted":
            ax.set_title(f"planted ({len(nodes)} of {len(planted)} features)", fontsize=9)
        else:
            ax.set_title(
                f"{name}: edge recall {splitting['edge_recall'][name]:.2f}, "
                f"precision {splitting['edge_precision'][name]:.2f}\n(all {len(planted)} features)",
                fontsize=9,
            )
        ax.set_yticks(sorted({-int(d) for d in depths[nodes]}))
        ax.set_yticklabels([f"depth {-t}" for t in sorted({-int(d) for d in depths[nodes]})], fontsize=9)
        ax.set_xticks([])
    kind = splitting["kind"]
    figure.suptitle(
        f"Planted tree beside trees inferred from {kind} dictionaries\n(sizes {splitting['sizes'][0]}…{splitting['sizes'][-1]}; "
        f"linkage on m={splitting['sizes'][-1]}); green = planted edge, red = wrong parent",
        fontsize=11,
    )
    figure.tight_layout()
    paths.append(save_figure(figure, folder / "trees.png"))

    kinds = [e["kind"] for e in results["dictionaries"] if e["seed"] == results["dictionaries"][0]["seed"]]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for i, kind in enumerate(kinds):
        group = [e["metrics"] for e in results["dictionaries"] if e["kind"] == kind]
        colour = "0.6" if kind == "random" else f"C{i}"
        axes[0].bar(i, np.mean([m["f1"] for m in group]), color=colour)
        axes[1].bar(i, np.mean([m["absorption_rate"] for m in group]), color=colour, alpha=0.5)
        scores = np.array([s for m in group for s in m["absorption_scores"] if s is not None])
        jitter = np.random.default_rng(i).uniform(-0.25, 0.25, len(scores))
        axes[1].scatter(i + jitter, np.maximum(scores, 0), s=5, color=colour, zorder=2)
    for ax, label in zip(axes, ("F1 (per-latent detection, mean)", "absorption: rate (bar), max(a(p), 0) per parent (dots)")):
        ax.set_xticks(range(len(kinds)))
        ax.set_xticklabels(kinds)
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylim(0, 1)
    axes[1].set_ylim(-0.02, 1.02)
    toy = results["toy"]
    figure.suptitle(
        f"{toy['n_features']}-feature hierarchy in {toy['d']} dims, m={results['size']}, k={results['k']} "
        "(grey: random dictionary, chance)",
        fontsize=10,
    )
    figure.tight_layout()
    paths.append(save_figure(figure, folder / "absorption_by_architecture.png"))
    paths.append(_edge_figure(results, kinds, folder))
    return paths


def _edge_figure(results: dict, kinds: list[str], folder):
    """One point: per planted edge, how much the child's presence silences the parent's latent."""
    import matplotlib.pyplot as plt

    from experiments.runner.runfolder import save_figure

    figure, ax = plt.subplots(figsize=(7.0, 3.8))
    scored = [
        r for r in results["edge_absorption"] if r["n_alone"] >= absorption.MIN_SAMPLES and r["n_with_child"] >= absorption.MIN_SAMPLES
    ]
    chance = [r["symptom_gap"] for r in scored if r["arch"] == "random"]
    if chance:
        ax.axhspan(np.percentile(chance, 5), np.percentile(chance, 95), color="0.85", zorder=0, label="random dictionary's symptom, 5–95%")
    for i, kind in enumerate(kinds):
        colour = "0.6" if kind == "random" else f"C{i}"
        for shift, field, marker in ((-0.2, "symptom_gap", "o"), (0.2, "absorbed_rate", "^")):
            values = np.array([r[field] for r in scored if r["arch"] == kind])
            jitter = np.random.default_rng(i).uniform(-0.12, 0.12, len(values))
            ax.scatter(i + shift + jitter, values, s=6, color=colour, marker=marker, zorder=2, alpha=0.5 if field == "symptom_gap" else 1.0)
            if len(values):
                ax.hlines(values.mean(), i + shift - 0.15, i + shift + 0.15, color="k", lw=2, zorder=3)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(range(len(kinds)))
    ax.set_xticklabels([f"{kind}\nsymptom | absorbed" for kind in kinds], fontsize=8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("per edge")
    ax.set_title(
        "Per planted parent→child edge and seed: the symptom (left: recall alone − with child) and\n"
        "absorbed rate, toylab's (right: the child's latent fires carrying the parent's direction); black: mean",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    return save_figure(figure, folder / "edge_absorption.png")


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
    splitting = results["splitting"]
    lines.append(f"hierarchy inferred from {splitting['kind']} dictionaries, sizes {splitting['sizes']}:")
    lines.append("(graders, not blind methods: each reads the tree after matching latents to the planted directions)")
    lines.append(f"{'grader':<18}{'edge recall':>12}{'precision':>11}{'tree sim.':>11}{'random':>9}")
    chance = splitting["chance"]["random_dictionaries"]
    for grader in TREE_GRADERS:
        lines.append(
            f"{grader:<18}{splitting['edge_recall'][grader]:>12.3f}{splitting['edge_precision'][grader]:>11.3f}"
            f"{splitting['tree_similarity'][grader]:>11.3f}{chance[grader]['edge_recall']:>9.3f}"
        )
    shuffled = splitting["chance"]["shuffled_tree"]
    lines.append(
        f"(random: edge recall of a random-dictionary ladder; a shuffled planted tree scores edge recall "
        f"{shuffled['edge_recall']:.3f}, tree similarity {shuffled['tree_similarity']:.3f})"
    )
    lines += ["", *edge_summary_lines(results["edge_absorption_summary"])]
    lines += ["", *saebench_lines(results["dictionaries"])]
    lines += ["", two_feature.summary(results["two_feature"])]
    return "\n".join(lines)


STUDY = Study(
    NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate, evaluation_source=evaluation_source
)
