"""Experiment `synthsaebench`: SynthSAEBench (Chanin & Garriga-Alonso 2026) run in toylab.

The model is SAELens' SynthSAEBench-16k (`toys.synthetic_model.synthsaebench_config`:
16,384 features in 768 dims, Zipfian firing, a 128 × 4 × 4 × 4 hierarchy with mutually
exclusive children, rank-25 correlation), built from its config exactly as SAELens
builds it, or any SAELens synthetic-model folder (`model_folder`). Five architectures,
each at target L0 ∈ {20, 25}:
- batchtopk, matryoshka (BatchTopK with nested prefix losses) and matching_pursuit
  with k = the target; matching pursuit trains as SAELens' MatchingPursuitTrainingSAE does
  (decoder rows started at norm 1 and left free, stopping on a repeated support) with
  max_iterations = the target and residual_threshold 0. SAELens' defaults are
  max_iterations = d_in and residual_threshold 1e-2; neither SAELens' source nor its
  docs say which settings the published row used (its L0 of 20 / 25 matches a cap of
  max_iterations = L0), so `mp_residual_threshold` sets ρ for a run that wants SAELens' 1e-2;
- jumprelu and l1 (`relu`: ReLU + L1), whose penalty λ is calibrated to each target by a
  vmapped sweep over λ in one call (`sae.pipeline.calibrate_to_l0`), then trained.
Runs of one architecture (targets × seeds) train in one vmapped call, each step drawing
all their batches in one call of the exact sparse sampler (`one_draw`). Scores are
SAELens' conventions (`sae.metrics`): F1 and uniqueness over all latents, MCC
(Hungarian), explained variance, L0, dead fraction, shrinkage, each beside a random
dictionary of the same width encoded by TopK with the same k (chance).

The published table (SAELens docs: width 4096, 200M samples, lr 3e-4, batch 1024,
mean ± std over seeds) is stored beside ours in results.json.

`--quick`: the same family scaled to 4,096 features in 192 dims (32 roots), width
1,024, L0 25, 1 seed, 1M samples per SAE — a CPU check of the ordering, not the
benchmark's numbers. The default is the full benchmark (200M samples per SAE), meant for
a GPU: the same command with the CUDA build of JAX.

With `sae-lens` installed (`pip install -e '.[bench]'`) and `saelens_samples > 0`,
SAELens trains BatchTopK, Matryoshka BatchTopK and Standard (L1) SAEs at L0 25 on the
same model file with the same budget as ours, and both libraries' F1 and MCC are
reported together (`experiments.saelens_side_by_side`).
"""

from __future__ import annotations

import dataclasses
import time
from typing import NamedTuple

import jax
import numpy as np

from experiments.recovery import (
    EDGE_SUMMARY_READER,
    edge_absorption,
    edge_summary_lines,
    edge_summary_rows,
    headline,
    saebench_key,
    saebench_lines,
    saebench_rows,
    seed_keys,
)
from experiments.runner import facts, panels, runfolder, seeding, table
from experiments.runner.study import Result, Study
from sae import absorption_saebench, architectures, evaluate, pipeline
from toys import synthetic_files, synthetic_model
from toys.engine.config import ConfigError, check_fields, setting
from toys.engine.runtime import Runtime, or_default

NAME = "synthsaebench"
DESCRIPTION = "SynthSAEBench: five SAE architectures at L0 20 and 25 on SAELens' 16k synthetic model"
ARCHS = ("batchtopk", "matryoshka", "jumprelu", "l1", "matching_pursuit")
TOYLAB_ARCH = {
    "batchtopk": "batchtopk",
    "matryoshka": "matryoshka",
    "jumprelu": "jumprelu",
    "l1": "relu",
    "matching_pursuit": "matching_pursuit",
}
CALIBRATED = ("jumprelu", "l1")

# SAELens docs, SynthSAEBench-16k: width 4096, 200M samples; mean ± std over seeds.
PUBLISHED = {
    "batchtopk": {25: {"f1": (0.7316, 0.0010), "mcc": (0.7574, 0.0003)}, 20: {"f1": (0.8183, 0.0011), "mcc": (0.7526, 0.0007)}},
    "matryoshka": {25: {"f1": (0.8793, 0.0021), "mcc": (0.7927, 0.0006)}, 20: {"f1": (0.8601, 0.0016), "mcc": (0.7455, 0.0021)}},
    "matching_pursuit": {25: {"f1": (0.4464, 0.0044), "mcc": (0.6930, 0.0030)}, 20: {"f1": (0.4439, 0.0024), "mcc": (0.6748, 0.0028)}},
    "l1": {25: {"f1": (0.5562, 0.0020), "mcc": (0.6039, 0.0012)}, 20: {"f1": (0.5777, 0.0012), "mcc": (0.5834, 0.0015)}},
    "jumprelu": {25: {"f1": (0.7317, 0.0034), "mcc": (0.7527, 0.0009)}, 20: {"f1": (0.8241, 0.0041), "mcc": (0.7434, 0.0015)}},
}
# How each architecture's dictionary starts and whether its decoder norms are free (sae.train.TrainConfig).
# L1: SAELens' Standard-SAE recipe (decoder_init_norm 0.1, decoder norms free, the penalty weighted by
# them). Measured on the quick model (500k samples, λ 5): F1 0.09 with unit-norm rows from a unit
# start, 0.47 with this recipe — the gap SAELens' side by side showed. JumpReLU: decoder norms free,
# θ₀ = 1 — one standard deviation of a random unit latent's initial pre-activation on inputs scaled to
# norm √d, so each latent starts firing on ~16% of samples; from θ₀ = 0.1 (~46%) the thresholds must
# rise ~30-fold, which Adam's ~lr-per-step moves in log θ do not finish in a short run (measured
# at 1M samples: F1 0.13 from 0.1, 0.45 from 1 at L0 17.5).
TRAINING = {
    "l1": {"decoder_init_norm": 0.1, "unit_norm_decoder": False},
    "jumprelu": {"initial_threshold": 1.0, "unit_norm_decoder": False},
}

# The ordering the published F1 at L0 = 25 shows: Matryoshka ≥ BatchTopK ≈ JumpReLU > L1 > MatchingPursuit.
PUBLISHED_ORDER_F1_25 = ("matryoshka", "batchtopk", "jumprelu", "l1", "matching_pursuit")


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    n_seeds: int = setting(3, low=1)
    num_features: int = setting(16_384, "the synthetic model built from SynthSAEBench's config at this size", low=16)
    hidden_dim: int = setting(768, low=1)
    model_seed: int = setting(42, "SynthSAEBench-16k's seed", low=0, high=2**31 - 1)
    model_folder: str = setting(
        "",
        "a SAELens synthetic-model folder to use as it is (overrides the three above)",
        allowed="empty, or a folder holding synthetic_model_config.json",
    )
    archs: tuple[str, ...] = setting(ARCHS, choices=ARCHS)
    target_l0s: tuple[int, ...] = setting((20, 25), low=1, high="width")
    width: int = setting(4096, low=1)
    learning_rate: float = setting(3e-4, low=0, low_open=True)
    batch_size: int = setting(1024, low=1)
    samples_per_sae: int = setting(200_000_000, low="batch_size")
    calibration_share: float = setting(0.25, "of samples_per_sae, for the λ sweep of jumprelu and l1", low=0, low_open=True, high=1)
    jumprelu_coefficients: tuple[float, ...] = setting((0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0), low=0, low_open=True)
    l1_coefficients: tuple[float, ...] = setting((0.3, 1.0, 3.0, 10.0, 30.0, 100.0), low=0, low_open=True)
    n_eval: int = setting(500_000, "SAELens' eval_samples default", low=evaluate.MIN_EVAL_SAMPLES)
    mp_residual_threshold: float = setting(0.0, "matching pursuit's ρ (SAELens' default is 1e-2; module docstring)", low=0)
    saebench_samples: int = setting(
        absorption_saebench.SAMPLES,
        "per split, SAEBench's absorption (0: not read)",
        low=0,
        allowed=f"0, or [{absorption_saebench.MIN_SAMPLES}, inf)",
    )
    saelens_samples: int = setting(0, "> 0: SAELens trains BatchTopK, Matryoshka and L1 on this many samples (and so do we)", low=0)

    @classmethod
    def quick(cls) -> "Config":
        """The same family at 4,096 features in 192 dims, width 1,024, L0 25 only, 1 seed, 1M samples.

        Short runs need larger steps: lr 2e-3. The λ sweep runs the whole budget (L0 keeps falling late in training, so a sweep at
        half the budget left JumpReLU and L1 at L0 12–14); its grids bracket L0 25 here.
        """
        return cls(
            n_seeds=1,
            num_features=4096,
            hidden_dim=192,
            width=1024,
            target_l0s=(25,),
            samples_per_sae=1_000_000,
            learning_rate=2e-3,
            calibration_share=1.0,
            jumprelu_coefficients=(0.2, 0.4, 0.8, 1.6),
            l1_coefficients=(2.0, 3.0, 4.5, 6.5),
            n_eval=evaluate.MIN_EVAL_SAMPLES,
            saelens_samples=500_000,
        )

    def validate(self) -> None:
        check_fields(self)
        absorption_saebench.check_samples("saebench_samples", self.saebench_samples)
        if self.model_folder:
            from pathlib import Path

            folder = Path(self.model_folder)
            for name in (synthetic_files.CONFIG_FILE, synthetic_files.WEIGHTS_FILE):
                if not (folder / name).is_file():
                    raise ConfigError(
                        f"model_folder: {self.model_folder} holds no {name}; allowed: a SAELens "
                        f"synthetic-model folder ({synthetic_files.CONFIG_FILE}, {synthetic_files.WEIGHTS_FILE})"
                    )
            synthetic_files.read_config(folder)  # the model's own fields, checked as SAELens checks them

    @property
    def steps(self) -> int:
        return self.samples_per_sae // self.batch_size

    def model_config(self) -> synthetic_model.SyntheticModelConfig:
        return synthetic_model.synthsaebench_config(self.num_features, self.hidden_dim, seed=self.model_seed)


def model_parts(config: Config, runtime: Runtime | None = None) -> tuple[synthetic_model.ModelParts, dict]:
    """The model (loaded or built) and a description of it for results.json."""
    start = time.perf_counter()
    if config.model_folder:
        parts = synthetic_files.load(config.model_folder)
        origin = f"loaded from {config.model_folder}"
    else:
        parts = synthetic_model.build(config.model_config(), runtime)
        origin = "built from SynthSAEBench's config"
    cfg = parts.config
    is_16k = synthetic_model.synthsaebench_config().to_dict() == cfg.to_dict()
    return parts, {"config": cfg.to_dict(), "is_synthsaebench_16k": is_16k, "origin": origin, "build_seconds": time.perf_counter() - start}


def _hparams(config: Config, arch: str, target: int, coefficient: float = 0.0):
    if arch in CALIBRATED:
        return architectures.hparams(config.learning_rate, l1_coefficient=coefficient, k=1)
    rho = config.mp_residual_threshold if arch == "matching_pursuit" else 0.0
    return architectures.hparams(config.learning_rate, k=target, residual_threshold=rho)


def train_and_score(
    config: Config,
    toy,
    arch: str,
    seeds: list[int],
    key,
    eval_key,
    coefficients: dict,
    steps: int,
    tag: str = "",
    runtime: Runtime | None = None,
    saebench: absorption_saebench.Prepared | None = None,
) -> tuple[list[dict], list]:
    """One vmapped call: every (target, seed) of one architecture; their scores as entries (with SAEBench's
    absorption when its prepared sample is given)."""
    name = TOYLAB_ARCH[arch]
    runs = [(target, seed) for target in config.target_l0s for seed in seeds]
    hps = pipeline.stack([_hparams(config, arch, t, coefficients.get(t, 0.0)) for t, _ in runs])
    keys = seed_keys(jax.random.fold_in(key, ARCHS.index(arch)), config.width, [t * 100_003 + s for t, s in runs])
    k_max = max(config.target_l0s) if architectures.get(name).uses_k else None
    result = pipeline.fit(
        name,
        toy,
        hps,
        keys,
        n_latents=config.width,
        steps=steps,
        batch_size=config.batch_size,
        k_max=k_max,
        one_draw=True,
        **TRAINING.get(arch, {}),
        label=f"{arch}{tag} ×{len(runs)} (L0 {config.target_l0s})",
        runtime=runtime,
    )
    with or_default(runtime).progress.task(f"evaluating {arch}{tag}"):
        scores = pipeline.evaluate(name, result.params, hps, toy, key=eval_key, n_eval=config.n_eval, parents=toy.parent)
    if saebench is not None:
        with or_default(runtime).progress.task(f"SAEBench absorption {arch}{tag}"):
            encode = absorption_saebench.stacked_encoder(lambda *a: pipeline.encode(name, *a), result.params, hps)
            readings = absorption_saebench.score(saebench, encode, np.asarray(result.params.W_dec), saebench_key(eval_key, 1))
        for metrics, reading in zip(scores, readings):
            metrics["saebench_absorption"] = reading
    entries = [
        {
            "arch": arch,
            "target_l0": t,
            "seed": s,
            "samples": steps * config.batch_size,
            **({"coefficient": coefficients[t]} if arch in CALIBRATED else {}),
            "metrics": m,
        }
        for (t, s), m in zip(runs, scores)
    ]
    return entries, result.params


def chance(
    config: Config,
    toy,
    key,
    eval_key,
    seeds: list[int],
    runtime: Runtime | None = None,
    saebench: absorption_saebench.Prepared | None = None,
) -> list[dict]:
    """Random ±1/√d dictionaries of the same width, encoded by TopK with k = the target."""
    entries = []
    for target in config.target_l0s:
        keys = seed_keys(jax.random.fold_in(key, target), config.width, seeds)
        params = pipeline.chance_dictionaries(keys, toy.d, config.width)
        with or_default(runtime).progress.task(f"evaluating random dictionaries (k={target})"):
            scores = pipeline.chance_scores(params, target, toy, key=eval_key, n_eval=config.n_eval, parents=toy.parent)
        if saebench is not None:
            with or_default(runtime).progress.task(f"SAEBench absorption of random dictionaries (k={target})"):
                arch, hps = pipeline.chance_reading(target, len(seeds))
                encode = absorption_saebench.stacked_encoder(lambda *a, arch=arch: pipeline.encode(arch, *a), params, hps)
                readings = absorption_saebench.score(saebench, encode, np.asarray(params.W_dec), saebench_key(eval_key, 1))
            for metrics, reading in zip(scores, readings):
                metrics["saebench_absorption"] = reading
        entries += [{"arch": "random", "target_l0": target, "seed": s, "metrics": m} for s, m in zip(seeds, scores)]
    return entries


def run(config: Config, runtime: Runtime | None = None) -> Result:
    started = time.perf_counter()
    root = seeding.root_key(config.seed)
    key_train, key_calibrate, key_chance, key_eval, key_side = jax.random.split(root, 5)
    parts, model = model_parts(config, runtime)
    toy = synthetic_model.from_parts(parts)
    seeds = seeding.replica_seeds(config.seed, config.n_seeds)
    saebench = None
    if config.saebench_samples:
        with or_default(runtime).progress.task("SAEBench absorption: splits and probes"):
            saebench = absorption_saebench.prepare(toy, toy.parent, saebench_key(key_eval), config.saebench_samples)
    entries, calibration = [], {}
    coefficient_grids = {"jumprelu": config.jumprelu_coefficients, "l1": config.l1_coefficients}
    calibration_steps = max(1, int(config.steps * config.calibration_share))
    for arch in config.archs:
        coefficients = {}
        if arch in CALIBRATED:
            calibration[arch] = pipeline.calibrate_to_l0(
                TOYLAB_ARCH[arch],
                toy,
                architectures.hparams(config.learning_rate),
                coefficient_grids[arch],
                config.target_l0s,
                jax.random.fold_in(key_calibrate, ARCHS.index(arch)),
                eval_key=key_eval,
                n_latents=config.width,
                steps=calibration_steps,
                batch_size=config.batch_size,
                one_draw=True,
                runtime=runtime,
                **TRAINING[arch],
            )
            coefficients = calibration[arch]["chosen"]
        arch_entries, _ = train_and_score(
            config, toy, arch, seeds, key_train, key_eval, coefficients, config.steps, runtime=runtime, saebench=saebench
        )
        entries += arch_entries
    chance_entries = chance(config, toy, key_chance, key_eval, seeds, runtime, saebench=saebench)
    # Absorption per planted edge: the records (thousands per SAE at the 16k shape) go to their own
    # file, the per-architecture summary to results.json; the per-feature a(p) list is dropped
    # (its counts are in the records).
    for entry in entries + chance_entries:
        entry["metrics"].pop("absorption_scores", None)
    edges, edge_summary = edge_absorption(entries + chance_entries, label=lambda e: f"{e['arch']}@{e['target_l0']}")
    seconds = time.perf_counter() - started  # everything but the side by side
    side = None
    if config.saelens_samples:
        from experiments import saelens_side_by_side

        side = saelens_side_by_side.compare(config, toy, parts, key_side, key_eval, calibration, train_and_score, runtime)
    results = {
        "model": model,
        "samples_per_sae": config.steps * config.batch_size,
        "width": config.width,
        "entries": entries,
        "chance": chance_entries,
        "edge_absorption_summary": edge_summary,
        "edge_absorption_file": "edge_absorption.json",
        "calibration": {arch: {**c, "chosen": {str(t): v for t, v in c["chosen"].items()}} for arch, c in calibration.items()},
        "published": {
            arch: {str(t): {m: {"mean": v[0], "std": v[1]} for m, v in by.items()} for t, by in table.items()}
            for arch, table in PUBLISHED.items()
        },
        "sampler": {"events_cap": toy.firing.events_cap, "codes_cap": toy.codes_cap, "level_caps": list(toy.level_caps)},
        "benchmark_seconds": seconds,
        **({"saelens_side_by_side": side} if side is not None else {}),
    }
    scored = [
        {"kind": e["arch"], "size": config.width, "seed": e["seed"], "metrics": e["metrics"], "target_l0": e["target_l0"]}
        for e in entries + chance_entries
    ]
    rows = table.from_entries(scored, setting=lambda e: {"target_l0": e["target_l0"]}, matched_by=lambda e: (e["size"], e["target_l0"]))
    rows += saebench_rows(scored, coordinates=lambda e: {"target_l0": e["target_l0"]})
    # the edge summary is keyed "arch@target_l0" (edge_absorption's label above)
    at = lambda label: (label.split("@")[0], {"target_l0": int(label.split("@")[1])})  # noqa: E731
    rows += edge_summary_rows(edge_summary, config.seed, coordinates=at)
    return Result(
        results,
        files=[
            lambda folder: synthetic_files.save(folder / "synthetic_model", parts),
            lambda folder: runfolder.write_json(folder / "edge_absorption.json", edges),
        ],
        table=rows,
    )


# --- reporting -------------------------------------------------------------------------------


def grouped_means(results: dict) -> dict:
    """{(arch, target): {metric: (mean, std, n)}} over seeds, from the results table."""
    grouped: dict = {}
    for row in table.read(results):
        if row.value is not None and "target_l0" in row.setting:
            grouped.setdefault((row.arm, row.setting["target_l0"]), {}).setdefault(row.metric, []).append(float(row.value))
    return {key: {m: (float(np.mean(v)), float(np.std(v)), len(v)) for m, v in metrics.items()} for key, metrics in grouped.items()}


def f1_order(results: dict, target: int = 25) -> list[str]:
    """Architectures by mean F1 at the target L0, best first."""
    rows = grouped_means(results)
    archs = [a for a in ARCHS if (a, target) in rows]
    return sorted(archs, key=lambda a: -rows[(a, target)]["f1"][0])


SUMMARY_METRICS = ("f1", "mcc", "uniqueness", "explained_variance", "l0", "dead_fraction", "shrinkage")


class ModelShape(NamedTuple):
    num_features: int
    hidden_dim: int


class ModelFacts(NamedTuple):
    config: ModelShape  # the synthetic model's config (SAELens' keys; its shape read here)
    is_synthsaebench_16k: bool


class Calibration(NamedTuple):
    chosen: dict[str, float]  # {target L0: the λ interpolated for it}
    outside: tuple[int, ...]  # targets outside the sweep's L0 range (given its nearest end)


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json, beside the table)."""

    model: ModelFacts
    width: int
    samples_per_sae: int
    calibration: dict[str, Calibration] = dataclasses.field(default_factory=dict)  # per λ-calibrated architecture
    saelens_side_by_side: dict | None = None  # the comparison with SAELens' own training, where run


def summary(results: dict) -> str:
    rows = grouped_means(results)
    run = facts.read(results, Facts)
    model = run.model.config
    lines = [
        f"SynthSAEBench: {model.num_features} features in {model.hidden_dim} dims "
        f"({'the 16k model' if run.model.is_synthsaebench_16k else 'the same family, scaled'}), "
        f"width {run.width}, {run.samples_per_sae:,} samples per SAE",
        f"{'arch':<17}{'L0*':>4}  " + "  ".join(f"{m[:10]:>10}" for m in SUMMARY_METRICS) + "   published F1 / MCC",
    ]
    for target in sorted({t for _, t in rows}):
        for arch in (*ARCHS, "random"):
            if (arch, target) not in rows:
                continue
            row = rows[(arch, target)]
            cells = "  ".join(f"{row[m][0]:>10.3f}" if m in row else f"{'—':>10}" for m in SUMMARY_METRICS)
            pub = PUBLISHED.get(arch, {}).get(target)
            published = f"   {pub['f1'][0]:.3f} / {pub['mcc'][0]:.3f}" if pub else "   (chance)"
            lines.append(f"{arch:<17}{target:>4}  {cells}{published}")
    if any((a, 25) in rows for a in ARCHS):
        lines.append("F1 order at L0 25, ours:      " + " > ".join(f1_order(results)))
        lines.append("F1 order at L0 25, published: " + " > ".join(PUBLISHED_ORDER_F1_25))
    for arch, c in run.calibration.items():
        outside = f" (targets outside the sweep: {list(c.outside)})" if c.outside else ""
        lines.append(f"{arch} λ calibrated: " + ", ".join(f"L0 {t} → λ {v:.3g}" for t, v in c.chosen.items()) + outside)
    table_rows = table.read(results)
    at_target = lambda row: f"{row.arm}@{row.setting['target_l0']}"  # noqa: E731
    if table.select(table_rows, reader=EDGE_SUMMARY_READER):
        lines += edge_summary_lines(table_rows, label=at_target)
    lines += saebench_lines(table_rows, label=at_target)
    side = run.saelens_side_by_side
    if side:
        from experiments import saelens_side_by_side

        lines.append(saelens_side_by_side.summary(side))
    lines.append(
        "(means over seeds; F1 and uniqueness over all latents, dead ones 0, as SAELens; "
        "random = a random dictionary of the same width encoded by TopK with k = L0*)"
    )
    return "\n".join(lines)


def plot(results: dict, arrays: dict, folder) -> list:
    """F1 and MCC per architecture at each target L0, from the results table, beside the published table;
    the random dictionaries dashed."""
    rows = table.read(results)
    targets = sorted({row.setting["target_l0"] for row in rows if row.arm != "random"})
    archs = tuple(a for a in ARCHS if any(row.arm == a for row in rows))
    figure, axes = panels.panels(2 * len(targets), width=5.0, height=3.2, columns=2)
    for index, target in enumerate(targets):
        for ax, metric in zip(axes[2 * index : 2 * index + 2], ("f1", "mcc")):
            reference = {a: PUBLISHED[a][target][metric] for a in archs if target in PUBLISHED.get(a, {})}
            panels.bars_beside_reference(
                ax,
                table.select(rows, {"target_l0": target}),
                metric,
                archs,
                reference,
                f"{metric.upper()} at L0 = {target}",
                labels=("toylab (this run)", "published (SAELens, 16k, 200M)"),
            )
            ax.set_ylim(0, 1)
    run = facts.read(results, Facts)
    title = (
        f"SynthSAEBench: ours ({run.model.config.num_features} features, {run.samples_per_sae:,} samples/SAE) beside the published table"
    )
    return [panels.finish(figure, axes, title, folder / "f1_mcc_vs_published.png")]


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline)
