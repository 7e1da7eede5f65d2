"""Shared machinery of recovery experiments: dictionaries trained or built, scored alike.

A `Recovery` holds one toy (anything following the toy protocol, `toys.protocol`), the
eval key and the seeds; each dictionary of a kind and size, trained (`sae.pipeline.fit`)
or baseline (`sae.pipeline.baseline`), is scored by `sae.pipeline.evaluate` on the
same eval samples and recorded as an entry
    {"name", "kind", "size", "seed", "metrics"}
in the `dictionaries` list of results.json; every trained dictionary is also kept
(`saved`) for the run folder's `dictionaries/` (SAELens format).
"""

from __future__ import annotations

import jax
import numpy as np

from experiments.runner import seeding, table
from sae import absorption, absorption_saebench, pipeline
from toys.engine.runtime import Runtime, or_default

TRAINED_KINDS = ("topk", "batchtopk", "jumprelu", "matryoshka", "relu", "gated")
BASELINE_KINDS = pipeline.BASELINE_KINDS


def seed_keys(key, size: int, seeds: list[int]) -> jax.Array:
    """One key per seed for dictionaries of one size: fold_in(fold_in(key, size), seed), the seed
    folded in whole (any size; `experiments.runner.seeding.fold_in_int`)."""
    key = jax.random.fold_in(key, size)
    return jax.numpy.stack([seeding.fold_in_int(key, s) for s in seeds])


def eval_key(key: jax.Array) -> jax.Array:
    """The eval key of a Recovery built from `key` (so a saved run can be re-scored on the same samples)."""
    return jax.random.split(key, 4)[2]


def saebench_key(eval_key: jax.Array, part: int = 0) -> jax.Array:
    """Keys of SAEBench's absorption, apart from the eval samples: part 0 draws its splits and probe, part 1
    its L1 probes."""
    return jax.random.fold_in(jax.random.fold_in(eval_key, 1), part)


SAEBENCH_COLUMNS = (
    "full_absorption_rate",
    "mean_absorption_fraction",
    "full_absorption_with_child",
    "full_absorption_baseline",
    "full_absorption_excess",
    "mean_split_latents",
)
SAEBENCH_READER = "saebench absorption"


def saebench_rows(entries: list[dict], coordinates=lambda entry: {}) -> list[table.Row]:
    """SAEBench's absorption of each scored dictionary entry as rows (reader "saebench absorption"; arm: its
    kind; coordinates(entry): further setting): its columns, and the concepts scored and read."""
    rows = []
    for entry in entries:
        reading = entry["metrics"].get("saebench_absorption")
        if reading is None:
            continue
        for metric in (*SAEBENCH_COLUMNS, "scored_concepts", "concepts"):
            rows.append(
                table.Row(
                    entry["kind"],
                    metric,
                    reading[metric],
                    size=entry["size"],
                    seed=entry["seed"],
                    reader=SAEBENCH_READER,
                    unit="count" if metric.endswith("concepts") else "",
                    setting=coordinates(entry),
                )
            )
    return rows


def saebench_lines(rows: list[table.Row], label=lambda row: row.arm) -> list[str]:
    """The per-architecture table of SAEBench's absorption (`sae.absorption_saebench`) for a summary.txt,
    from the results table's `saebench_rows`: each column's mean over seeds (seeds without a value left
    out); concepts: the fewest scored over seeds / read."""
    groups: dict[str, list[table.Row]] = {}
    for row in table.select(rows, reader=SAEBENCH_READER):
        groups.setdefault(label(row), []).append(row)
    if not groups:
        return []
    show = lambda values: "—" if not values else f"{np.mean(values):.3f}"  # noqa: E731
    lines = [
        "SAEBench absorption (its calculator and defaults; rates over the probe's true positives, "
        "mean over concepts; with child / baseline = on samples where a child fires / none does; "
        "excess = with child − baseline):",
        f"{'arch':<22}{'concepts':>9}{'full rate':>11}{'fraction':>10}{'w/ child':>10}{'baseline':>10}{'excess':>9}{'split':>7}",
    ]
    for arch, group in groups.items():
        values = [show([row.value for row in group if row.metric == c and row.value is not None]) for c in SAEBENCH_COLUMNS]
        scored = min(int(row.value or 0) for row in group if row.metric == "scored_concepts")
        read = next(int(row.value or 0) for row in group if row.metric == "concepts")
        concepts = f"{scored}/{read}"
        lines.append(f"{arch:<22}{concepts:>9}{values[0]:>11}{values[1]:>10}{values[2]:>10}{values[3]:>10}{values[4]:>9}{values[5]:>7}")
    lines.append("(concepts: scored (probe F1 > 0.6) / read, the fewest over seeds; split: latents in the split set)")
    return lines


def saved_dictionaries(arch: str, params, hps, names: list[str], coordinates: list[dict] | None = None) -> list[dict]:
    """Entries {"name", "arch", "params", "hparams", "group", "index", "table"} (NumPy, one per dictionary
    of a stacked grid) for the run folder's dictionaries/, written in SAELens' format by the
    CLI. group/index record the stacked call a dictionary came from, so that `toylab
    evaluate` re-scores the same stack (and reproduces the run's numbers bit for bit); table: the
    dictionary's coordinates in the results table ({"arm", "size", "seed", "setting"}, or None), so
    that `toylab evaluate` sets its re-scored numbers beside the run's own rows."""
    group = f"{arch}:" + ",".join(names)
    return [
        {
            "name": name,
            "arch": arch,
            "params": jax.tree.map(lambda leaf, g=g: np.asarray(leaf[g]), params),
            "hparams": {field: np.asarray(value[g]).item() for field, value in hps._asdict().items()},
            "group": group,
            "index": g,
            "table": None if coordinates is None else coordinates[g],
        }
        for g, name in enumerate(names)
    ]


class Recovery:
    def __init__(
        self,
        toy,
        seeds: list[int],
        key: jax.Array,
        n_eval: int,
        k: int,
        parents=None,
        runtime: Runtime | None = None,
        saebench_samples: int = 0,
    ):
        """Given the planted hierarchy (parents [F]), every score adds the absorption metrics;
        runtime: the run's (`toys.engine.runtime`), handed to every training."""
        self.toy = toy
        self.runtime = or_default(runtime)
        self.parents = parents
        self.seeds = seeds
        self.k = k
        self.n_eval = n_eval
        self.key_train, self.key_baseline, self.key_eval, self.key_fit = jax.random.split(key, 4)
        self.entries: list[dict] = []
        self.saved: list[dict] = []  # {"name", "arch", "params", "hparams"} of every trained dictionary
        self._fit_sample = None
        self.saebench_samples = saebench_samples  # > 0 (with parents): SAEBench's absorption on this many per split
        self._saebench = None

    @property
    def saebench_sample(self) -> absorption_saebench.Prepared | None:
        """The splits, concepts and probe of SAEBench's absorption (`sae.absorption_saebench`), drawn once
        (None: the hierarchy has no parent)."""
        if self._saebench is None:
            self._saebench = absorption_saebench.prepare(self.toy, self.parents, saebench_key(self.key_eval), self.saebench_samples)
        return self._saebench

    @property
    def fit_sample(self):
        """The sample darts' decoder and PCA are fitted on: drawn once, for all sizes, when first needed."""
        if self._fit_sample is None:
            self._fit_sample = self.toy.sample(self.key_fit, pipeline.BASELINE_FIT_SAMPLES).x
        return self._fit_sample

    def score(self, kind: str, arch_name: str, size: int, params, hps) -> list[dict]:
        with self.runtime.progress.task(f"evaluating {kind} m={size}"):
            scores = pipeline.evaluate(arch_name, params, hps, self.toy, key=self.key_eval, n_eval=self.n_eval, parents=self.parents)
        if self.parents is not None and self.saebench_samples and self.saebench_sample is not None:
            with self.runtime.progress.task(f"SAEBench absorption {kind} m={size}"):
                encode = absorption_saebench.stacked_encoder(lambda *a: pipeline.encode(arch_name, *a), params, hps)
                readings = absorption_saebench.score(self.saebench_sample, encode, np.asarray(params.W_dec), saebench_key(self.key_eval, 1))
            for metrics, reading in zip(scores, readings):
                metrics["saebench_absorption"] = reading
        for seed, metrics in zip(self.seeds, scores):
            self.entries.append({"name": f"{kind}-{size}", "kind": kind, "size": size, "seed": seed, "metrics": metrics})
        return scores

    def train(self, kind: str, size: int, hparams, steps: int, batch_size: int):
        """Train one dictionary per seed (one vmapped call), score and keep them; returns the params."""
        hps = pipeline.stack([hparams] * len(self.seeds))
        result = pipeline.fit(
            kind,
            self.toy,
            hps,
            seed_keys(self.key_train, size, self.seeds),
            n_latents=size,
            steps=steps,
            batch_size=batch_size,
            k_max=self.k,
            runtime=self.runtime,
        )
        self.score(kind, kind, size, result.params, hps)
        self.saved += saved_dictionaries(
            kind,
            result.params,
            hps,
            [f"{kind}-{size}-seed{seed}" for seed in self.seeds],
            [{"arm": kind, "size": size, "seed": seed, "setting": {}} for seed in self.seeds],
        )
        return result.params

    def rows(self) -> list[table.Row]:
        """The results table of every entry: one row per streamed metric, beside the random
        dictionaries' mean of that metric at the same size (`experiments.runner.table.from_entries`)."""
        return table.from_entries(self.entries)

    def baseline(self, kind: str, size: int):
        """Build one baseline dictionary per seed (encoded by TopK with the same k), score them."""
        keys = seed_keys(self.key_baseline, size, self.seeds)
        fit_sample = self.fit_sample if kind in pipeline.FITTED_BASELINES else None
        params = pipeline.baseline(
            kind, keys, self.toy.d, size, k=self.k, fit_sample=fit_sample, true_features=getattr(self.toy, "features", None)
        )
        arch, hps = pipeline.chance_reading(self.k, len(self.seeds))
        self.score(kind, arch, size, params, hps)
        return params


def edge_absorption(entries: list[dict], label=lambda entry: entry["kind"]) -> tuple[list[dict], dict]:
    """Each entry's per-edge absorption records (`sae.absorption.edges`; higher = more
    absorbed) moved out of its metrics into one list, each with the entry's architecture
    (`arch`, as `label(entry)` names it) and seed; and per architecture,
    `sae.absorption.edge_summary` over all its (edge, seed) records."""
    records, by_arch = [], {}
    for entry in entries:
        for record in entry["metrics"].pop("edge_absorption", []):
            records.append({"arch": label(entry), "seed": entry["seed"], **record})
            by_arch.setdefault(label(entry), []).append(record)
    return records, {arch: absorption.edge_summary(group) for arch, group in by_arch.items()}


EDGE_SUMMARY_READER = "edge absorption summary"
EDGE_SUMMARY_METRICS = (
    "n_edges",
    "n_scored",
    "mean_symptom_gap",
    "symptom_edge_share",
    "mean_absorbed_rate",
    "absorbed_edge_share",
    "n_unavailable",
)


def edge_summary_rows(summary: dict, seed: int, coordinates=lambda label: (label, {})) -> list[table.Row]:
    """The per-architecture edge-absorption summary (`sae.absorption.edge_summary`, keyed by label) as rows
    (reader "edge absorption summary"; coordinates(label) → (arm, setting); pooled over seeds)."""
    rows = []
    for label, numbers in summary.items():
        arm, setting = coordinates(label)
        for metric in EDGE_SUMMARY_METRICS:
            unit = "count" if metric.startswith("n_") else ""
            rows.append(table.Row(arm, metric, numbers[metric], seed=seed, reader=EDGE_SUMMARY_READER, unit=unit, setting=setting))
    return rows


def edge_summary_lines(rows: list[table.Row], label=lambda row: row.arm) -> list[str]:
    """The per-architecture edge-absorption table of a summary.txt, from the results table's `edge_summary_rows`."""
    lines = [
        "edge-level absorption (symptom gap = recall of the parent's latent alone − with the child; absorbed = "
        "share of parent+child samples where the parent's latent is silent and the child's latent fires carrying "
        "the parent's direction; higher = more absorbed):",
        f"{'arch':<22}{'edges':>7}{'scored':>8}{'symptom gap':>13}{'gap ≥ ½':>9}{'absorbed':>10}{'abs. ≥ ½':>10}{'no data':>9}",
    ]
    show = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
    groups: dict[str, dict] = {}
    for row in table.select(rows, reader=EDGE_SUMMARY_READER):
        groups.setdefault(label(row), {})[row.metric] = row.value
    for arch, row in groups.items():
        lines.append(
            f"{arch:<22}{int(row['n_edges']):>7}{int(row['n_scored']):>8}{show(row['mean_symptom_gap']):>13}"
            f"{show(row['symptom_edge_share']):>9}{show(row['mean_absorbed_rate']):>10}"
            f"{show(row['absorbed_edge_share']):>10}{int(row['n_unavailable']):>9}"
        )
    lines.append(
        f"(scored: ≥ {absorption.MIN_SAMPLES} samples of both kinds; no data: an edge with none of one kind, "
        "its gap null; counts are per (edge, seed))"
    )
    return lines


def headline(results: dict) -> str:
    """One number for `toylab runs`, from the results table: the best trained MMCS (mean over seeds)
    beside its chance (the random dictionaries of that size)."""
    means = table.mean_over_seeds(table.select(table.read(results), metric="mmcs", reader=table.STREAMED))
    trained = {key: summary for key, summary in means.items() if key[0] not in BASELINE_KINDS}
    if not trained:
        return "—"
    (arm, size, *_), best = max(trained.items(), key=lambda item: item[1]["mean"])
    versus = f" (random {best['chance']:.3f})" if best["chance"] is not None else ""
    return f"MMCS {best['mean']:.3f} {arm} m={size}{versus}"


def summary_table(results: dict, columns: tuple[str, ...]) -> str:
    """One line per (kind, size) from the results table: the mean of each metric over seeds;
    baselines after trained kinds."""
    text = table.text(table.read(results), columns, order=(*TRAINED_KINDS, *BASELINE_KINDS))
    return text + (
        "\n(baselines — random, darts, untrained, pca — are encoded by TopK with the same k and read as "
        "chance; f1 and uniqueness average over all m latents, dead ones 0 (SAELens' definition), f1_live "
        "over live latents only)"
    )
