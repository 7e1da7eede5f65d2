"""Experiment `quanta`: do per-example gradients cluster by skill? Multitask sparse parity.

An MLP is trained on multitask sparse parity (toys.quanta: T tasks with Zipfian
frequencies, each the parity of its own k of n data bits, chosen by one-hot control
bits). A task counts as learned when its accuracy on fresh samples is ≥
`accuracy_threshold`. On a balanced sample of the learned tasks (`per_task` each),
four representations are clustered by the same pipeline (sae.readers.clustering: standardise
each coordinate, cosine k-nearest-neighbour graph, spectral clustering into as many
clusters as learned tasks) and scored by ARI and NMI against the true task:
- `gradients`: per-example gradients of the output margin (toys.quanta);
- `gradients_projected`: the same through a Gaussian random projection to
  `projection_dim` dimensions (and, for the figure, to each of `projection_dims`),
  beside the Johnson–Lindenstrauss dimension for the sample size;
- `activations`: the last hidden layer; `inputs`: the raw inputs.
Controls: the gradients of the untrained network (same architecture, its
initialisation) and every representation without standardisation.

Two variants of the toy (`variants`):
- `onehot` (Michaud et al.; the easy case): the task is written in the input (its
  control bit), so a representation that keeps the input's coordinates can recover it
  without any learned skill; the untrained-network and input rows say how much of a
  score that explains.
- `parity`: the task index's binary digits are XORs of groups of control bits
  (toys.quanta), so no input coordinate shows the task and raw-input clustering fails.
  Whether the gradients still cluster by task answers whether per-example gradients find
  skills that the input does not show.
K without the truth: beside the clustering into as many clusters as learned tasks (which
reads the truth), the same gradients are clustered with K chosen blind by the eigengap
(`sae.readers.clustering.cluster_blind`), and Michaud et al.'s QDG runs as their code runs it
(`sae.readers.clustering`): unit per-sample loss gradients of the samples whose loss is below
`qdg_loss` nats, drawn from the task distribution itself (no balancing by task),
clustered as the authors' code clusters them (`clustering.qdg_sweep`: the angular affinity and
|G||G|ᵀ, spectral clustering at each K of a fixed sweep, scored against the task and against
the label at every K), with our blind K (silhouette) beside it and the lab's earlier variant
(cosine affinity (C + 1)/2, K by the eigengap) kept under its name. A unit loss gradient is −s·∇m/‖∇m‖ with s = ±1 the
label's sign (∇ loss = −(1 − σ(s m)) s ∇m), computed from the margin's gradient so that
it does not vanish in float32 for confident samples.

The factorial (`factorial`): {QDG's gradient, ours} × {natural sample, balanced sample} × {angular,
kNN affinity} × {true K, blind K, best K of the sweep}, both samples keeping loss < `qdg_loss`, so that
each difference in ARI is attributable to one choice. Each arm's method side (the sweep and the
silhouette's blind K, `clustering.affinity_sweep`) runs through the wall's one road (`wall.apply`,
on an observation derived from inputs and labels only); the true K goes by `wall.ceiling`; every
number on the balanced sample, drawn with the truth, is a ceiling.

Control "readable from the input": an MLP probe (one hidden layer of 64, scikit-learn) trained
on half of a sample's raw inputs to predict the task, its accuracy on the other half
beside the majority-task share.

Each variant trains its own network (same architecture; the parity network gets
`parity_steps`, 4× the one-hot budget in the quick run, since computing the XORs is
slower to learn) and runs every clustering above on it.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from sae.readers import clustering, wall
from theory import projections
from toys import network_training, quanta
from toys.engine.config import check_fields, setting
from toys.engine.runtime import Runtime, or_default

NAME = "quanta"
DESCRIPTION = "multitask sparse parity: cluster per-example gradients (raw and JL-projected) against the true task"
REPRESENTATIONS = ("gradients", "gradients_projected", "activations", "inputs")
VARIANTS = quanta.TASK_CODES  # "onehot", "parity"


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    toy: quanta.QuantaConfig = quanta.QuantaConfig(n_tasks=32, n_bits=40, zipf_exponent=1.5, hidden=512, steps=40_000)
    accuracy_threshold: float = setting(0.95, "a task counts as learned at this accuracy", low=0.5, high=1)
    accuracy_samples: int = setting(2000, "fresh samples per task for its accuracy", low=10)
    per_task: int = setting(100, "clustering samples per learned task", low=2)
    projection_dim: int = setting(256, "k of the headline random projection", low=1)
    projection_dims: tuple[int, ...] = setting((8, 16, 32, 64, 128, 256, 512, 1024), "k values of the projection curve", low=1)
    jl_tolerances: tuple[float, ...] = setting(
        (0.5, 0.25), "ε whose JL dimension the figure marks", low=0, low_open=True, high=1, high_open=True
    )
    variants: tuple[str, ...] = setting(VARIANTS, "task codes to run (the first one's details are the top-level results)", choices=VARIANTS)
    parity_steps: int = setting(160_000, "training steps of the parity-coded network (the XORs take longer to learn)", low=1)
    max_clusters: int = setting(40, "the largest K the eigengap may choose (blind clustering and QDG)", low=2)
    qdg_samples: int = setting(2000, "samples drawn from the task distribution for QDG (those with low loss are kept)", low=10)
    qdg_loss: float = setting(0.1, "nats: QDG keeps the samples below this loss", low=0, low_open=True)
    probe_samples: int = setting(4000, "samples of the input probe (half to train, half to test)", low=10)

    @classmethod
    def quick(cls) -> "Config":
        return cls(toy=quanta.QuantaConfig(n_tasks=20, n_bits=32, zipf_exponent=1.5, hidden=512, steps=20_000), parity_steps=80_000)

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")


def _cluster_scores(v, truth, n_clusters: int, seed: int, standardise: bool = True) -> dict:
    """A ceiling: the representation clustered into the true number of groups (wall.ceiling), scored."""
    labels = wall.ceiling(
        clustering.cluster, [v], "K = the number of learned tasks", n_clusters=n_clusters, seed=seed, standardise_columns=standardise
    )
    return {**clustering.scores(truth, labels), "labels": labels}


def input_probe(net: quanta.QuantaConfig, subsets, key: jax.Array, n: int, seed: int) -> dict:
    """Is the task readable from the raw input? An MLP probe's held-out accuracy beside the majority share."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    batch = quanta.sample(net, subsets, key, n)
    x, tasks = np.asarray(batch.x), np.asarray(batch.tasks)
    half = n // 2
    probe = MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, random_state=seed)
    with warnings.catch_warnings():
        # where nothing in the input predicts the task (parity) the probe never converges; that is
        # recorded below rather than printed as a warning
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(x[:half], tasks[:half])
    return {
        "accuracy": float(probe.score(x[half:], tasks[half:])),
        "majority": float(np.bincount(tasks[half:]).max() / (n - half)),
        "converged": bool(probe.n_iter_ < probe.max_iter),
    }


def low_loss_gradients(net: quanta.QuantaConfig, state, loss_below: float):
    """A derivation for `wall.observe_derived` from a sample's inputs and labels (what a researcher has):
    the samples whose loss is below `loss_below` nats ("kept", indices) and, on them, QDG's unit loss
    gradient −s·∇m/‖∇m‖ ("qdg", s = ±1 the label's sign) and ours, the standardised unit margin gradient
    (`quanta.per_example_gradients`, "ours"). A unit loss gradient is computed from the margin's
    gradient (∇ loss = −(1 − σ(s m)) s ∇m) so that it does not vanish in float32 for confident samples."""

    def derive(x, labels):
        x = jnp.asarray(x, jnp.float32)
        margin = np.asarray(jax.vmap(lambda xi: quanta.margin_fn(net)(state, xi))(x))
        sign = 2.0 * np.asarray(labels, np.float64) - 1.0
        keep = np.flatnonzero(np.logaddexp(0.0, -sign * margin) < loss_below)
        if len(keep) < 3:
            return {"kept": keep, "qdg": np.zeros((len(keep), 1)), "ours": np.zeros((len(keep), 1))}
        return {
            "kept": keep,
            "qdg": -sign[keep, None] * quanta.raw_gradients(net, state, x[keep]),
            "ours": quanta.per_example_gradients(net, state, x[keep]),
        }

    return derive


GRADIENTS = ("qdg", "ours")
SAMPLES = ("natural", "balanced")


def _curve(sweep: dict, tasks, parity) -> dict:
    """A sweep's ARI against the task and the label at each K, its blind K's and its best K's (grader)."""
    counts = [int(k) for k in np.asarray(sweep["counts"])]
    task = [clustering.scores(tasks, labels)["ari"] for labels in np.asarray(sweep["labels"])]
    label = [clustering.scores(parity, labels)["ari"] for labels in np.asarray(sweep["labels"])]
    blind = counts.index(int(sweep["blind_k"]))
    best = int(np.argmax(task))
    return {
        "k": counts,
        "ari_task": task,
        "ari_label": label,
        "silhouette_k": counts[blind],
        "silhouette_ari_task": task[blind],
        "silhouette_ari_label": label[blind],
        "best_k": counts[best],
        "best_ari_task": task[best],
    }


def factorial(config: Config, observations: dict, graded: dict) -> dict:
    """{QDG's gradient, ours} × {natural, balanced sample} × {angular, kNN affinity} × {true, blind, best K}:
    each arm's sweep runs through the wall (`clustering.affinity_sweep`: the sweep and the silhouette's
    blind K, the same K rule in every arm); the true-K clustering is a ceiling (wall.ceiling) and the best
    K of the sweep is chosen by the grader. `observations`: {sample: observation with kept, qdg, ours};
    `graded`: {sample: (tasks, labels) of the kept samples}, the grader's truth."""
    cells = {}
    for sample, seen in observations.items():
        tasks, parity = graded[sample]
        true_k = len(np.unique(tasks))
        for gradient in GRADIENTS:
            for kind in clustering.AFFINITIES:
                name = f"{gradient}/{sample}/{kind}"
                if len(tasks) < 3 or true_k < 2:
                    cells[name] = None
                    continue
                given = wall.settings(config, max_clusters="max_clusters", seed="seed").with_design(
                    "affinity_kind", kind, "the factorial's affinity arm"
                )
                sweep = wall.apply(clustering.affinity_sweep, seen, (gradient,), given, ceiling=seen.chosen_with_truth)
                at_true_k = wall.ceiling(
                    clustering.affinity_clustering,
                    [getattr(seen, gradient)],
                    "K = the number of tasks in the sample",
                    affinity_kind=kind,
                    n_clusters=true_k,
                    seed=config.seed,
                )
                cells[name] = {
                    **_curve(sweep, tasks, parity),
                    "true_k": true_k,
                    "kept": len(tasks),
                    "true_k_ari_task": clustering.scores(tasks, at_true_k)["ari"],
                    "true_k_ari_label": clustering.scores(parity, at_true_k)["ari"],
                    "sample_chosen_with_truth": seen.chosen_with_truth,
                }
    return cells


def qdg_study(config: Config, natural: wall.Observation, tasks, parity, angular: dict | None) -> dict:
    """Michaud et al.'s QDG (module docstring) on the natural sample's observation: the method sees inputs,
    labels and the network (through the observation's gradients); the grader then scores its clusters
    against the task and the label. `angular`: the factorial's (QDG gradient, natural, angular) cell, which
    is QDG's angular sweep."""
    if len(natural.kept) < 3:
        return {"kept": int(len(natural.kept)), "ari": None, "k": None, "true_k": None, "ari_true_k": None, "sweep": None}
    given = wall.settings(config, max_clusters="max_clusters", seed="seed")
    # as the authors ran it: both affinities, a fixed sweep of K, no K rule; our blind K (silhouette) beside
    absolute = wall.apply(
        clustering.affinity_sweep, natural, ("qdg",), given.with_design("affinity_kind", "absolute", "QDG's second affinity, |G||G|ᵀ")
    )
    curves = {"angular": angular, "absolute": _curve(absolute, tasks, parity)}
    labels, k = wall.apply(clustering.qdg, natural, ("qdg",), given)  # the lab's earlier variant
    true_k = len(np.unique(tasks))
    with_true_k = (
        wall.ceiling(_qdg_with_k, [natural.qdg], "K = the number of tasks in the sample", k=true_k, seed=config.seed)
        if true_k >= 2
        else None
    )
    return {
        "kept": int(len(natural.kept)),
        "k": int(k),
        "true_k": int(true_k),
        "ari": clustering.scores(tasks, labels)["ari"],
        "ari_label": clustering.scores(parity, labels)["ari"],
        "ari_true_k": clustering.scores(tasks, with_true_k)["ari"] if with_true_k is not None else None,
        "sweep": {"k": curves["angular"]["k"], **curves},
    }


def _qdg_with_k(unit_loss_gradients, k: int, seed: int) -> np.ndarray:
    """QDG's earlier affinity (C + 1)/2 cut into a given K (the oracle-K ceiling beside the blind K)."""
    from sklearn.cluster import SpectralClustering

    g = clustering.unit_rows(unit_loss_gradients)
    return SpectralClustering(k, affinity="precomputed", random_state=seed).fit_predict((g @ g.T + 1.0) / 2.0)


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of the clustering sample's per-example gradients (one row of all parameters per
    sample), for the variant with the widest input."""
    net = config.toy
    widest = max(dataclasses.replace(net, task_code=v).input_dim for v in config.variants)
    parameters = (widest + 1) * net.hidden + (net.n_layers - 1) * (net.hidden + 1) * net.hidden + 2 * net.hidden
    floats = config.per_task * net.n_tasks * parameters * 2
    return int(memory.SAFETY * memory.FLOAT * floats), "toy.hidden"


def run(config: Config, runtime: Runtime | None = None) -> Result:
    """Every variant's study; the first variant's results at the top level (figures and summary
    in full), and `variants` with each one's ARIs (untrained gradients included)."""
    root = seeding.root_key(config.seed)
    studies = {}
    for variant in config.variants:
        # onehot keeps the root key (its numbers are those of the single-variant experiment)
        key = root if variant == "onehot" else jax.random.fold_in(root, 1 + VARIANTS.index(variant))
        steps = config.parity_steps if variant == "parity" else config.toy.steps
        studies[variant] = _study(config, dataclasses.replace(config.toy, task_code=variant, steps=steps), key, or_default(runtime))
    arrays = {f"loss_curve_{variant}": study.pop("loss_curve") for variant, study in studies.items()}
    first = studies[config.variants[0]]
    arrays["loss_curve"] = arrays[f"loss_curve_{config.variants[0]}"]
    variants = {variant: _variant_summary(study) for variant, study in studies.items()}
    measured = {**first, "task_code": config.variants[0], "variants": variants}
    return Result(measured, arrays=arrays, table=[*variant_rows(variants, config.seed), *figure_rows(measured, config.seed)])


def variant_rows(variants: dict, seed: int) -> list[table.Row]:
    """The results table: per task code, the ARI against the task of each representation clustered with
    the true K (a ceiling; chance: the untrained network's gradients clustered alike) and of the blind
    K, and the number of tasks the network learned."""
    rows = []
    for variant, summary in variants.items():
        untrained = summary["ari"].get("untrained_gradients")
        chance = untrained.get("ari") if isinstance(untrained, dict) else untrained
        where = {"task_code": variant}
        for name in REPRESENTATIONS:
            rows.append(
                table.Row(name, "ari_true_k", summary["ari"].get(name), chance, seed=seed, reader="spectral clustering", setting=where)
            )
        blind = summary.get("blind_k") or {}
        rows.append(table.Row("gradients", "ari_blind_k", blind.get("ari"), None, seed=seed, reader="spectral clustering", setting=where))
        rows.append(
            table.Row(
                "network", "learned_tasks", len(summary["learned_tasks"]), None, seed=seed, reader="accuracy", unit="count", setting=where
            )
        )
        rows.append(table.Row("network", "final_loss", summary["final_loss"], None, seed=seed, reader="training", setting=where))
        rows += code_rows(summary, where, seed)
        for name, nmi in (summary.get("nmi") or {}).items():
            rows.append(table.Row(name, "nmi_true_k", nmi, None, seed=seed, reader="spectral clustering", setting=where))
    return rows


FACTORIAL_METRICS = (
    "kept",
    "true_k",
    "true_k_ari_task",
    "silhouette_k",
    "silhouette_ari_task",
    "silhouette_ari_label",
    "best_k",
    "best_ari_task",
)


def code_rows(summary: dict, where: dict, seed: int) -> list[table.Row]:
    """A task code's rows for its summary tables: the blind K beside the true K, QDG's earlier variant
    (K, ARI against the task and the label, at the true K), the input probe, each QDG
    curve's silhouette choice, and each factorial arm's numbers ("available" 0: too few samples)."""
    rows = []
    blind = summary.get("blind_k") or {}
    for metric in ("k", "true_k"):
        if metric in blind:
            rows.append(table.Row("gradients", metric, blind[metric], None, seed=seed, reader="blind k", unit="count", setting=where))
    qdg = summary.get("qdg") or {}
    for metric in ("k", "true_k", "ari", "ari_label", "ari_true_k"):  # the samples kept: `figure_rows`' kept_samples
        if metric in qdg:
            unit = "count" if metric in ("k", "true_k") else ""
            rows.append(table.Row("qdg", metric, qdg[metric], None, seed=seed, reader="qdg", unit=unit, setting=where))
    for metric, value in (summary.get("input_probe") or {}).items():
        if metric in ("accuracy", "majority"):
            rows.append(table.Row("input probe", metric, value, None, seed=seed, reader="probe", setting=where))
    for affinity, curve in (qdg.get("sweep") or {}).items():
        if affinity in ("angular", "absolute"):
            for metric in ("silhouette_ari_task", "silhouette_ari_label"):
                rows.append(table.Row(f"qdg {affinity}", metric, curve[metric], None, seed=seed, reader="qdg sweep", setting=where))
    for name, cell in (summary.get("factorial") or {}).items():
        rows.append(table.Row(name, "available", cell is not None, None, seed=seed, reader="factorial summary", setting=where))
        for metric in FACTORIAL_METRICS if cell else ():
            rows.append(table.Row(name, metric, cell[metric], None, seed=seed, reader="factorial summary", setting=where))
    return rows


def figure_rows(measured: dict, seed: int) -> list[table.Row]:
    """The rest of the results table, what the figures and the summary read, from the run's measurements
    (the first task code's study, with every code's summary under "variants"): the first task code's
    per-task accuracy and frequency (learned or not), its gradient clusters' confusion with the tasks, its
    ARI at each projection dimension (beside the JL dimensions) and unstandardised; per task code, QDG's
    sweep (ARI against the task and the label at each K, per affinity, and the silhouette's K) and the
    factorial's arms at each K."""
    code, rows = measured["task_code"], []
    first = {"task_code": code}
    learned = set(measured["learned_tasks"])
    for task, (accuracy, probability) in enumerate(zip(measured["per_task_accuracy"], measured["task_probabilities"])):
        where = {**first, "task": task, "learned": int(task in learned)}
        rows.append(table.Row("network", "task_accuracy", accuracy, seed=seed, reader="accuracy", setting=where))
        rows.append(table.Row("network", "task_probability", probability, seed=seed, reader="toy", setting=where))
    if "confusion" in measured:
        for task, counts in zip(measured["confusion"]["tasks"], measured["confusion"]["counts"]):
            for cluster, count in enumerate(counts):
                where = {**first, "task": task, "cluster": cluster}
                rows.append(table.Row("gradients", "samples", count, seed=seed, reader="confusion", unit="count", setting=where))
        for name, ari in measured["controls"]["unstandardised"].items():
            rows.append(table.Row(name, "ari_unstandardised", ari, None, seed=seed, reader="spectral clustering", setting=first))
        projection = measured["projection"]
        for dim, ari in zip(projection["dims"], projection["ari"]):
            rows.append(table.Row("gradients_projected", "ari", ari, 0.0, seed=seed, reader="projection", setting={**first, "dim": dim}))
        for eps, dim in projection["jl_dimension"].items():
            rows.append(
                table.Row(
                    "jl bound", "dimension", dim, seed=seed, reader="projection", unit="count", setting={**first, "epsilon": float(eps)}
                )
            )
    for variant, summary in measured["variants"].items():
        sweep = (summary.get("qdg") or {}).get("sweep") or {}
        if summary.get("qdg"):  # the samples QDG kept (loss below its threshold), with or without a sweep
            kept = summary["qdg"]["kept"]
            rows.append(table.Row("qdg", "kept_samples", kept, seed=seed, reader="qdg sweep", unit="count", setting={"task_code": variant}))
        for affinity in ("angular", "absolute"):
            curve = sweep.get(affinity)
            if not curve:
                continue
            arm = f"qdg {affinity}"
            for k, task, label in zip(curve["k"], curve["ari_task"], curve["ari_label"]):
                where = {"task_code": variant, "k": k}
                rows.append(table.Row(arm, "ari_task", task, 0.0, seed=seed, reader="qdg sweep", setting=where))
                rows.append(table.Row(arm, "ari_label", label, 0.0, seed=seed, reader="qdg sweep", setting=where))
            rows.append(
                table.Row(arm, "silhouette_k", curve["silhouette_k"], seed=seed, reader="qdg sweep", setting={"task_code": variant})
            )
        for name, cell in (summary.get("factorial") or {}).items():
            if not cell:
                continue
            gradient, sample, affinity = name.split("/")
            for k, ari in zip(cell["k"], cell["ari_task"]):
                where = {"task_code": variant, "sample": sample, "k": k}
                rows.append(
                    table.Row(f"{gradient} gradient, {affinity}", "ari_task", ari, 0.0, seed=seed, reader="factorial", setting=where)
                )
    return rows


def _variant_summary(study: dict) -> dict:
    ari = {name: study["ari"][name] for name in REPRESENTATIONS}
    untrained = study["controls"]["untrained_gradients"] if "controls" in study else None
    return {
        "ari": {**ari, "untrained_gradients": untrained},
        "blind_k": study.get("blind_k"),
        "qdg": study.get("qdg"),
        "factorial": study.get("factorial"),
        "input_probe": study.get("input_probe"),
        "nmi": study.get("nmi"),
        "learned_tasks": study["learned_tasks"],
        "per_task_accuracy": study["per_task_accuracy"],
        "final_loss": study["final_loss"],
        "n_points": study["n_points"],
        **({"note": study["note"]} if "note" in study else {}),
    }


def _study(config: Config, net: quanta.QuantaConfig, root: jax.Array, runtime: Runtime) -> dict:
    """Train the network of one task code and cluster its representations against the task."""
    key_subsets, key_train, key_accuracy, key_sample, key_projection, key_untrained = jax.random.split(root, 6)
    key_qdg, key_probe = jax.random.split(seeding.stream(root, "clustering samples"))
    subsets = quanta.task(net, key_subsets).subsets
    result = quanta.train(quanta.Task(net, subsets), key_train[None], runtime)
    state = network_training.select(result.state, 0)
    accuracy = quanta.per_task_accuracy(net, state, subsets, key_accuracy, config.accuracy_samples)
    learned = [int(t) for t in np.flatnonzero(accuracy >= config.accuracy_threshold)]
    base = {
        "input_probe": input_probe(net, subsets, key_probe, config.probe_samples, config.seed),
        "n_parameters": quanta.n_parameters(state),
        "per_task_accuracy": accuracy.tolist(),
        "task_probabilities": quanta.task_probabilities(net).tolist(),
        "subsets": subsets.tolist(),
        "final_loss": float(result.loss_curve[-1, 0]),
        "learned_tasks": learned,
    }
    if len(learned) < 2:  # an outcome, not bad input: report it and skip the clustering
        return {
            **base,
            "n_points": 0,
            "ari": {**{name: None for name in REPRESENTATIONS}, "learned_tasks": learned},
            "note": f"the network learned {len(learned)} task(s) to accuracy ≥ {config.accuracy_threshold}; "
            "clustering needs two or more (raise toy.steps or lower toy.n_bits)",
            "loss_curve": np.asarray(result.loss_curve[:, 0], np.float32),
        }

    # the balanced sample is drawn with the truth (the learned tasks): everything read on it is a ceiling
    truth = quanta.balanced_tasks(learned, config.per_task)
    batch = quanta.sample(net, subsets, key_sample, len(truth), tasks=jnp.asarray(truth))
    n_points, n_clusters = len(truth), len(learned)
    seed = config.seed
    with runtime.progress.task(f"per-example gradients ({net.task_code})"):
        balanced = wall.observe_derived(batch, lambda x: {"gradients": quanta.per_example_gradients(net, state, x)})
    gradients = balanced.gradients
    representations = {
        "gradients": gradients,
        "activations": np.asarray(quanta.model(net, state).hidden_activations(batch.x)),
        "inputs": np.asarray(batch.x),
    }
    scored = {name: _cluster_scores(v, truth, n_clusters, seed, standardise=name != "gradients") for name, v in representations.items()}
    blind_labels, blind_k = wall.apply(
        clustering.cluster_blind,
        balanced,
        ("gradients",),
        wall.settings(config, max_clusters="max_clusters", seed="seed").with_design(
            "standardise_columns", False, "the gradients are standardised already"
        ),
        ceiling=True,
    )
    with runtime.progress.task(f"QDG and the factorial ({net.task_code})"):
        # the natural sample: drawn from the task distribution, low-loss samples kept (a method's choice,
        # from inputs and labels); the balanced one with the same filter, so that the two differ in the draw only
        natural_batch = quanta.sample(net, subsets, key_qdg, config.qdg_samples)
        derive = low_loss_gradients(net, state, config.qdg_loss)
        observations = {
            "natural": wall.observe_derived(natural_batch, derive, reads=("x", "labels")),
            "balanced": wall.observe_derived(batch, derive, reads=("x", "labels")),
        }
        batches = {"natural": natural_batch, "balanced": batch}
        graded = {
            name: (np.asarray(batches[name].tasks)[seen.kept], np.asarray(batches[name].labels)[seen.kept])
            for name, seen in observations.items()
        }  # the grader's truth, on the kept samples
        cells = factorial(config, observations, graded)
        qdg = qdg_study(config, observations["natural"], *graded["natural"], cells["qdg/natural/angular"])

    dims = sorted(set(config.projection_dims) | {config.projection_dim})
    by_dim = {}
    for dim in dims:
        projection = projections.gaussian_projection(jax.random.fold_in(key_projection, dim), base["n_parameters"], dim)
        projected = quanta.per_example_gradients(net, state, batch.x, projection)
        by_dim[dim] = _cluster_scores(projected, truth, n_clusters, seed, standardise=False)
    scored["gradients_projected"] = by_dim[config.projection_dim]

    untrained = quanta.initial_state(net, key_untrained)
    controls = {
        "untrained_gradients": _cluster_scores(
            quanta.per_example_gradients(net, untrained, batch.x), truth, n_clusters, seed, standardise=False
        )["ari"],
        "unstandardised": {
            "gradients": _cluster_scores(quanta.raw_gradients(net, state, batch.x), truth, n_clusters, seed, False)["ari"],
            "activations": _cluster_scores(representations["activations"], truth, n_clusters, seed, False)["ari"],
            "inputs": _cluster_scores(representations["inputs"], truth, n_clusters, seed, False)["ari"],
        },
    }
    matrix, groups = clustering.confusion(truth, scored["gradients"]["labels"])
    return {
        **base,
        "n_points": n_points,
        "ari": {**{name: scored[name]["ari"] for name in REPRESENTATIONS}, "learned_tasks": learned},
        "nmi": {name: scored[name]["nmi"] for name in REPRESENTATIONS},
        "controls": controls,
        "blind_k": {"k": int(blind_k), "true_k": n_clusters, "ari": clustering.scores(truth, blind_labels)["ari"]},
        "qdg": qdg,
        "factorial": cells,
        "projection": {
            "dim": config.projection_dim,
            "dims": dims,
            "ari": [by_dim[d]["ari"] for d in dims],
            "nmi": [by_dim[d]["nmi"] for d in dims],
            "jl_dimension": {str(eps): projections.jl_dimension(n_points, eps) for eps in config.jl_tolerances},
            "jl_tolerance_at_dim": projections.jl_tolerance(n_points, config.projection_dim),
        },
        "confusion": {"tasks": groups.tolist(), "counts": matrix.tolist()},
        "loss_curve": np.asarray(result.loss_curve[:, 0], np.float32),
    }


def headline(results: dict) -> str:
    """One number for `toylab runs`: the gradient clustering's ARI beside the raw inputs' (none
    where fewer than two tasks were learned: nothing was clustered)."""
    rows = table.select(table.read(results), {"task_code": facts.read(results, Facts).task_code})
    gradients, inputs = (table.mean(rows, arm=arm, metric="ari_true_k") for arm in ("gradients", "inputs"))
    if gradients is None or inputs is None:
        learned = table.mean(rows, arm="network", metric="learned_tasks")
        return f"not clustered: {0 if learned is None else int(learned)} task(s) learned"
    return f"ARI gradients {gradients:.2f} (inputs {inputs:.2f})"


def plot(results: dict, arrays: dict, folder) -> list:
    """From the results table: the tasks learned; ARI by representation and task code; QDG's sweep and
    the factorial's arms against K; the gradient clusters' confusion with the tasks; ARI through a
    random projection."""
    rows = table.read(results)
    run = facts.read(results, Facts)
    code = run.task_code
    learned = [row for row in table.select(rows, {"task_code": code, "learned": 1}, metric="task_accuracy")]
    every = table.select(rows, {"task_code": code}, metric="task_accuracy")
    figure, axes = panels.panels(1, width=8.0, height=3.5)
    panels.spectrum(axes[0], every, "task_accuracy", "task", "learned", "", colour="C0", named=False)
    panels.twin_series(axes[0], rows, "task_probability", "task", "task frequency", {"task_code": code})
    title = f"{len(learned)} of {len(every)} tasks learned (blue: accuracy ≥ threshold)"
    paths = [panels.finish(figure, axes, title, folder / "tasks_learned.png", "task (by decreasing frequency)", "accuracy", legend=False)]

    variants = list(run.variants)
    if len(variants) > 1:
        figure, axes = panels.panels(1, width=11.0, height=3.8)
        names = (*REPRESENTATIONS, "untrained_gradients")
        chance_rows = [
            table.Row("untrained_gradients", "ari_true_k", row.chance, seed=row.seed, reader=row.reader, setting=row.setting)
            for row in table.select(rows, arm="gradients", metric="ari_true_k")
            if row.chance is not None
        ]
        panels.bars_by_arm_and_setting(
            axes[0],
            [*table.select(rows, metric="ari_true_k"), *chance_rows],
            "ari_true_k",
            "task_code",
            names,
            "Clustering by task when the input names it (onehot) and when it does not (parity)",
            {v: f"{v} task code ({learned_of_variant(rows, v)} tasks learned)" for v in variants},
        )
        axes[0].axhline(0, color="k", lw=0.8)
        axes[0].axhline(0.2, color="0.5", ls=":", lw=1, label="ARI 0.2 (the raw input must stay below this for parity)")
        axes[0].set_ylim(-0.1, 1.05)
        axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars, not over them
        paths.append(panels.finish(figure, axes, "", folder / "variants.png", ylabel="ARI against the true task (chance 0)", legend=False))

    swept = [v for v in variants if table.select(rows, {"task_code": v}, reader="qdg sweep")]
    if swept:
        figure, axes = panels.panels(len(swept), width=6.0, height=4.2)
        for ax, variant in zip(axes, swept):
            here = table.select(rows, {"task_code": variant}, reader="qdg sweep")
            series = []
            for index, affinity in enumerate(("angular", "absolute")):
                label = "1 − arccos(C)/π" if affinity == "angular" else "|G||G|ᵀ"
                series += [
                    (f"{label}: task", {"arm": f"qdg {affinity}", "metric": "ari_task"}, {"fmt": "o-", "color": f"C{index}"}),
                    (f"{label}: label", {"arm": f"qdg {affinity}", "metric": "ari_label"}, {"fmt": "x--", "color": f"C{index}"}),
                ]
                blind = table.mean(here, arm=f"qdg {affinity}", metric="silhouette_k")
                if blind is not None:
                    ax.axvline(blind, color=f"C{index}", linewidth=0.8, linestyle=":")
            kept = int(table.mean(here, metric="kept_samples") or 0)
            panels.series_by_setting(ax, here, None, "k", series, f"{variant} task code: {kept} low-loss samples", numeric=True)
            _k_axis(ax, here, learned_of_variant(rows, variant), "K (the authors' sweep; dotted: the silhouette's blind K)")
            ax.legend(fontsize=7, loc="center right")
        title = "QDG as its authors ran it: which split does each K find — the task or the label?"
        paths.append(panels.finish(figure, axes, title, folder / "qdg_sweep.png", ylabel="ARI", legend=False))

    factorial = [v for v in variants if table.select(rows, {"task_code": v}, reader="factorial")]
    if factorial:
        figure, axes = panels.panels(len(factorial), width=6.5, height=4.4)
        arms = [f"{g} gradient, {a}" for g in GRADIENTS for a in clustering.AFFINITIES]
        for ax, variant in zip(axes, factorial):
            here = table.select(rows, {"task_code": variant}, reader="factorial")
            series = [
                (
                    f"{arm}, {sample}",
                    {"arm": arm, "setting": {"sample": sample}},
                    {"fmt": "o-" if sample == "natural" else "--", "color": f"C{i}", "markersize": 3},
                )
                for i, arm in enumerate(arms)
                for sample in SAMPLES
            ]
            panels.series_by_setting(ax, here, "ari_task", "k", series, "", numeric=True)
            n = learned_of_variant(rows, variant)
            _k_axis(ax, here, n, "K of the sweep")
            ax.set_title(f"{variant} task code ({n} tasks learned: black line)", fontsize=10)
        handles, labels = axes[0].get_legend_handles_labels()
        keep = [i for i, label in enumerate(labels) if not label.startswith("learned tasks")]
        figure.legend(
            [handles[i] for i in keep],
            [labels[i] for i in keep],
            loc="upper center",
            ncol=3,
            fontsize=8,
            frameon=False,
            bbox_to_anchor=(0.5, 0.0),
        )
        title = "Which choice moves gradient clustering? Each arm changes one of gradient, sample, affinity"
        paths.append(panels.finish(figure, axes, title, folder / "factorial.png", ylabel="ARI against the task", legend=False))

    confusion = table.select(rows, {"task_code": code}, reader="confusion")
    if not confusion:
        return paths
    tasks = len({row.setting["task"] for row in confusion})
    clusters = len({row.setting["cluster"] for row in confusion})
    figure, axes = panels.panels(1, width=0.45 * clusters + 3, height=0.45 * tasks + 2)
    image = panels.heatmap_by_setting(
        axes[0],
        confusion,
        "samples",
        "task",
        "cluster",
        "",
        row_label=lambda row: f"task {row.setting['task']}",
        vmin=None,
        vmax=None,
        cmap="Blues",
    )
    figure.colorbar(image, ax=axes[0], label="samples")
    axes[0].set_xlabel("gradient cluster (matched to tasks by the Hungarian method)")
    caveat = (
        "\n(one-hot task code: the input names the task, so clusters by task are expected — not evidence "
        "for quanta; the parity variant is the test)"
        if code == "onehot"
        else ""
    )
    ari = table.mean(rows, {"task_code": code}, arm="gradients", metric="ari_true_k") or 0.0
    nmi = table.mean(rows, {"task_code": code}, arm="gradients", metric="nmi_true_k") or 0.0
    title = f"Per-example gradient clusters against tasks ({code} task code): ARI {ari:.2f}, NMI {nmi:.2f}{caveat}"
    paths.append(
        panels.finish(
            figure, axes, title, folder / "gradient_clusters.png", ylabel="true task (learned tasks only)", legend=False, tight=False
        )
    )

    figure, axes = panels.panels(1, width=7.5, height=4.2)
    here = table.select(rows, {"task_code": code})
    panels.series_by_setting(
        axes[0], here, "ari", "dim", [("projected gradients", {"arm": "gradients_projected"}, {"fmt": "o-"})], "", numeric=True
    )
    # reference levels; levels that coincide (e.g. all at 1.0 in the one-hot code) share one line and one label
    levels: dict[float, list[str]] = {}
    for name, arm in (
        (f"unprojected gradients ({run.n_parameters} dims)", "gradients"),
        ("activations", "activations"),
        ("inputs", "inputs"),
    ):
        value = table.mean(here, arm=arm, metric="ari_true_k")
        if value is not None:
            levels.setdefault(round(value, 3), []).append(name)
    untrained = [row.chance for row in table.select(here, arm="gradients", metric="ari_true_k") if row.chance is not None]
    if untrained:
        levels.setdefault(round(float(untrained[0]), 3), []).append("untrained network's gradients")
    for index, (value, names_at) in enumerate(sorted(levels.items())):
        axes[0].axhline(value, color=f"C{index + 1}", linestyle="--", label=f"{' = '.join(names_at)}: {value:.2f}")
    axes[0].axhline(0.0, color="k", linewidth=1, label="chance (ARI 0)")
    for row in table.select(here, arm="jl bound"):
        axes[0].axvline(row.value, color="k", linewidth=0.8)
        axes[0].annotate(f"JL, ε={row.setting['epsilon']:g}", (row.value, 0.02), rotation=90, fontsize=8, ha="right", va="bottom")
    axes[0].set_xscale("log", base=2)
    axes[0].set_ylim(-0.05, 1.05)
    axes[0].legend(fontsize=8, loc="center right")
    title = f"Gradient clustering through a Gaussian projection ({run.n_points} samples)"
    paths.append(
        panels.finish(
            figure, axes, title, folder / "ari_vs_projection.png", "projection dimension k", "ARI against the true task", legend=False
        )
    )
    return paths


def learned_of_variant(rows: list[table.Row], variant: str) -> int:
    """The number of tasks a task code's network learned, from the results table."""
    return int(table.mean(rows, {"task_code": variant}, metric="learned_tasks") or 0)


def _k_axis(ax, rows: list[table.Row], learned: int, xlabel: str) -> None:
    """A sweep's K axis: log, ticked at the swept K; the learned-task count (black) and chance (ARI 0) marked."""
    ks = sorted({row.setting["k"] for row in rows if "k" in row.setting})
    ax.axvline(learned, color="k", linewidth=1.2, label=f"learned tasks ({learned})")
    ax.axhline(0.0, color="0.5", linewidth=1, label="chance (ARI 0)")
    ax.set_xscale("log")
    ax.set_xticks(ks, [str(k) for k in ks], fontsize=7)
    ax.minorticks_off()
    ax.set_ylim(-0.1, 1.05)
    ax.set_xlabel(xlabel)


class ProjectionFacts(NamedTuple):
    dim: int  # the projection dimension the summary details
    jl_tolerance_at_dim: float  # the ε the Johnson–Lindenstrauss bound guarantees there


class CodeFacts(NamedTuple):
    note: str | None = None  # why nothing was clustered for this task code


@dataclasses.dataclass(frozen=True)
class Facts:
    """The first task code's run as results.json states it beside the table."""

    task_code: str
    n_parameters: int
    n_points: int  # samples clustered (0: the network learned fewer than two tasks)
    learned_tasks: tuple[int, ...]
    note: str | None = None  # why nothing was clustered
    projection: ProjectionFacts | None = None
    variants: dict[str, CodeFacts] = dataclasses.field(default_factory=dict)  # every task code, in run order


def summary(results: dict) -> str:
    """The first task code from the results table and its facts; then every task code's tables."""
    run = facts.read(results, Facts)
    rows = table.select(table.read(results), {"task_code": run.task_code})
    tasks = len(table.select(rows, metric="task_accuracy"))
    lines = [
        f"network: {run.n_parameters} parameters, final loss {table.mean(rows, metric='final_loss') or 0.0:.4f}; "
        f"learned {len(run.learned_tasks)} of {tasks} tasks: {list(run.learned_tasks)}",
        *([run.note] if run.note is not None else []),
        f"clustering {run.n_points} samples ({len(run.learned_tasks)} learned tasks, balanced):",
        f"{'representation':<29}{'ARI':>7}{'NMI':>7}{'ARI unstandardised':>21}",
    ]
    if run.note is not None or run.projection is None:
        return "\n".join(lines[:2] + ["", *variants_table(results)])
    clustered = table.select(rows, reader="spectral clustering")
    for name in REPRESENTATIONS:
        label = f"{name} (k={run.projection.dim})" if name == "gradients_projected" else name
        raw = table.mean(clustered, arm=name, metric="ari_unstandardised")
        unstandardised = f"{raw:>21.3f}" if raw is not None else f"{'-':>21}"
        ari, nmi = (table.mean(clustered, arm=name, metric=metric) or 0.0 for metric in ("ari_true_k", "nmi_true_k"))
        lines.append(f"{label:<29}{ari:>7.3f}{nmi:>7.3f}{unstandardised}")
    untrained = table.select(clustered, arm="gradients", metric="ari_true_k")[0].chance or 0.0
    lines.append(f"{'untrained network gradients':<29}{untrained:>7.3f}")
    by_dim = [(row.setting["dim"], row.value) for row in table.select(rows, arm="gradients_projected", reader="projection")]
    lines.append("ARI by projection dimension: " + ", ".join(f"{d}: {a:.3f}" for d, a in by_dim))
    bounds = table.select(rows, arm="jl bound")
    lines.append(
        "JL dimension for these samples: "
        + ", ".join(f"ε={row.setting['epsilon']}: {int(row.value or 0)}" for row in bounds)
        + f"; at k={run.projection.dim} the bound guarantees ε={run.projection.jl_tolerance_at_dim:.2f}"
    )
    lines += ["", *variants_table(results)]
    return "\n".join(lines)


def variants_table(results: dict) -> list[str]:
    """ARI by representation for each task code (the first one is detailed above), from the results table
    (each code's note from the run's facts)."""
    rows = table.read(results)
    codes = facts.read(results, Facts).variants
    names = (*REPRESENTATIONS, "untrained_gradients")
    lines = [
        "ARI by task code (onehot: the input names the task; parity: XOR groups hide it; each representation "
        "clustered on a sample balanced over the learned tasks into as many clusters as learned tasks — both "
        "read the truth, so these are ceilings, not blind results):",
        f"{'variant':<9}{'learned':>8}  " + "".join(f"{n[:19]:>20}" for n in names),
    ]
    fmt = lambda v, w: f"{'—':>{w}}" if v is None else f"{v:>{w}.3f}"  # noqa: E731
    for variant, code in codes.items():
        mine = table.select(rows, {"task_code": variant})
        ari = {row.arm: row.value for row in table.select(mine, metric="ari_true_k")}
        ari["untrained_gradients"] = table.select(mine, arm="gradients", metric="ari_true_k")[0].chance
        lines.append(f"{variant:<9}{learned_of_variant(rows, variant):>8}  " + "".join(fmt(ari.get(n), 20) for n in names))
        if code.note is not None:
            lines.append(f"  ({variant}: {code.note})")
    lines += [
        "",
        "K chosen blind (eigengap) beside the true K; the lab's earlier QDG variant ((C + 1)/2, eigengap K); "
        "is the task readable from the input?",
        f"{'variant':<9}{'gradients: K blind/true':>25}{'ARI blind K':>13}{'QDG: K blind/true':>19}"
        f"{'ARI':>7}{'ARI true K':>12}{'kept':>6}{'input probe':>13}{'majority':>10}",
    ]
    for variant in codes:
        mine = table.select(rows, {"task_code": variant})
        blind = {row.metric: row.value for row in table.select(mine, reader="blind k")}
        qdg = {row.metric: row.value for row in table.select(mine, reader="qdg")}
        probe = {row.metric: row.value for row in table.select(mine, reader="probe")}
        grad = f"{int(blind['k'] or 0)}/{int(blind['true_k'] or 0)}" if blind else "—"
        q = f"{int(qdg['k'])}/{int(qdg['true_k'] or 0)}" if qdg.get("k") is not None else "—"
        ari_blind = table.mean(mine, arm="gradients", metric="ari_blind_k") if blind else None
        lines.append(
            f"{variant:<9}{grad:>25}{fmt(ari_blind, 13)}{q:>19}{fmt(qdg.get('ari'), 7)}"
            f"{fmt(qdg.get('ari_true_k'), 12)}{int(table.mean(mine, metric='kept_samples') or 0):>6}"
            f"{fmt(probe.get('accuracy'), 13)}{fmt(probe.get('majority'), 10)}"
        )
    lines += [
        "",
        "QDG as its authors ran it (angular affinity 1 − arccos(C)/π, and |G||G|ᵀ; spectral clustering at "
        "fixed K, 30 restarts): ARI against the task / against the label at each K; "
        "silhouette K = our blind rule",
    ]
    for variant in codes:
        mine = table.select(rows, {"task_code": variant})
        sweep = table.select(mine, reader="qdg sweep")
        if not table.select(sweep, metric="ari_task"):
            continue
        qdg = {row.metric: row.value for row in table.select(mine, reader="qdg")}
        ks = list(dict.fromkeys(row.setting["k"] for row in table.select(sweep, arm="qdg angular", metric="ari_task")))
        kept = int(table.mean(mine, metric="kept_samples") or 0)
        lines.append(f"{variant} (learned {learned_of_variant(rows, variant)}, kept {kept}): K = " + " ".join(f"{k:>5}" for k in ks))
        for name in ("angular", "absolute"):
            curve = table.select(sweep, arm=f"qdg {name}")
            task = [row.value for row in table.select(curve, metric="ari_task")]
            label = [row.value for row in table.select(curve, metric="ari_label")]
            choice = {row.metric: row.value for row in curve if row.metric.startswith("silhouette")}
            lines.append(f"  {name:<9} task " + " ".join(f"{v:>5.2f}" for v in task))
            lines.append(f"  {'':<9} label" + " ".join(f"{v:>5.2f}" for v in label))
            lines.append(
                f"  {'':<9} silhouette K {int(choice['silhouette_k'] or 0)}: ARI task {choice['silhouette_ari_task']:.2f}, "
                f"label {choice['silhouette_ari_label']:.2f}"
            )
        lines.append(
            f"  earlier variant ((C + 1)/2, eigengap): K {int(qdg['k'] or 0)}, ARI task {qdg['ari']:.2f}, label {qdg['ari_label']:.2f}"
        )
    lines += ["", *factorial_table(rows, list(codes))]
    return lines


def factorial_table(rows: list[table.Row], codes: list[str]) -> list[str]:
    """ARI against the task per arm: gradient × sample × affinity, at the true K (a ceiling), the blind K
    (silhouette; the method's verdict on the natural sample) and the best K of the sweep (a ceiling),
    from the results table."""
    lines = [
        "The factorial (ARI against the task; true K and best K read the truth: ceilings; the balanced sample "
        "is drawn with the truth: every number on it is a ceiling; both samples keep loss < qdg_loss):",
        f"{'variant':<9}{'gradient':<10}{'sample':<10}{'affinity':<10}{'kept':>6}{'true K':>8}{'ARI':>7}"
        f"{'blind K':>9}{'ARI':>7}{'ARI label':>11}{'best K':>8}{'ARI':>7}",
    ]
    for variant in codes:
        arms = table.select(rows, {"task_code": variant}, reader="factorial summary")
        for name in dict.fromkeys(row.arm for row in arms):
            gradient, sample, kind = name.split("/")
            cell = {row.metric: row.value for row in table.select(arms, arm=name)}
            if not cell["available"]:
                lines.append(f"{variant:<9}{gradient:<10}{sample:<10}{kind:<10}  (too few kept samples or tasks)")
                continue
            count = {metric: int(cell[metric] or 0) for metric in ("kept", "true_k", "silhouette_k", "best_k")}
            lines.append(
                f"{variant:<9}{gradient:<10}{sample:<10}{kind:<10}{count['kept']:>6}{count['true_k']:>8}"
                f"{cell['true_k_ari_task']:>7.2f}{count['silhouette_k']:>9}{cell['silhouette_ari_task']:>7.2f}"
                f"{cell['silhouette_ari_label']:>11.2f}{count['best_k']:>8}{cell['best_ari_task']:>7.2f}"
            )
    return lines


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate)
