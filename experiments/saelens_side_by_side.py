"""SAELens and toylab train the same SAEs on the same synthetic-model file, with the same budget.

Part of `toylab run synthsaebench` when `sae-lens` (≥ 6.54, with torch) is installed and
`saelens_samples > 0`. The run's model is written in SAELens' format and loaded by
SAELens' `SyntheticModel.load_from_disk`; each library then trains BatchTopK, Matryoshka
BatchTopK (prefixes m/8, m/4, m/2, m in both) and Standard L1 (the L1 coefficient our
calibration chose for the largest target L0: both libraries weight the L1 penalty by
decoder row norms on unscaled inputs, so the same λ means the same loss, and both start
from decoder rows of norm 0.1 left free) at k = that target, on `saelens_samples` samples, batch size and learning rate of the run. SAELens'
learning rate is constant (`train_toy_sae`); ours decays over the last 20% of steps.
Each library scores its own SAEs with its own evaluation (SAELens'
`eval_sae_on_synthetic_data`; toylab's `sae.evaluate`) on the same number of samples.
The orderings of the three architectures by F1 and by MCC are compared.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import tempfile
import time

import jax

from experiments.runner import seeding
from toys import synthetic_files
from toys.engine.runtime import or_default

ARCHS = ("batchtopk", "matryoshka", "l1")
NOT_INSTALLED = "skipped: sae-lens ≥ 6.54 with torch is not installed (pip install -e '.[bench]')"


def _saelens_available() -> bool:
    try:
        import sae_lens.synthetic  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return hasattr(sae_lens.synthetic, "SyntheticModel")


def _saelens_sae(arch: str, d: int, m: int, k: int, l1: float):
    from sae_lens import (
        BatchTopKTrainingSAE,
        BatchTopKTrainingSAEConfig,
        MatryoshkaBatchTopKTrainingSAE,
        MatryoshkaBatchTopKTrainingSAEConfig,
        StandardTrainingSAE,
        StandardTrainingSAEConfig,
    )

    if arch == "batchtopk":
        return BatchTopKTrainingSAE(BatchTopKTrainingSAEConfig(d_in=d, d_sae=m, k=k))
    if arch == "matryoshka":
        return MatryoshkaBatchTopKTrainingSAE(
            MatryoshkaBatchTopKTrainingSAEConfig(d_in=d, d_sae=m, k=k, matryoshka_widths=[m // 8, m // 4, m // 2, m])
        )
    return StandardTrainingSAE(StandardTrainingSAEConfig(d_in=d, d_sae=m, l1_coefficient=l1))


def saelens_scores(parts, arch: str, samples: int, config, k: int, l1: float, seed: int) -> dict:
    """Train one SAE with SAELens on the model file and score it with SAELens' evaluation."""
    import torch
    from sae_lens.synthetic import SyntheticModel, eval_sae_on_synthetic_data, train_toy_sae

    os.environ.setdefault("TQDM_DISABLE", "1")
    with tempfile.TemporaryDirectory() as folder:
        synthetic_files.save(os.path.join(folder, "model"), parts)
        model = SyntheticModel.load_from_disk(os.path.join(folder, "model"))
    torch.manual_seed(seed)
    sae = _saelens_sae(arch, parts.config.hidden_dim, config.width, k, l1)
    start = time.perf_counter()
    train_toy_sae(
        sae, model.feature_dict, model.activation_generator, training_samples=samples, batch_size=config.batch_size, lr=config.learning_rate
    )
    seconds = time.perf_counter() - start
    result = eval_sae_on_synthetic_data(sae, model.feature_dict, model.activation_generator, num_samples=config.n_eval, batch_size=10_000)
    return {
        "f1": float(result.classification.f1_score),
        "mcc": float(result.mcc),
        "uniqueness": float(result.uniqueness),
        "explained_variance": float(result.explained_variance),
        "l0": float(result.sae_l0),
        "dead_fraction": float(result.dead_latents) / config.width,
        "train_seconds": seconds,
    }


def _order(scores: dict, metric: str) -> list[str]:
    return sorted(scores, key=lambda a: -scores[a][metric])


def compare(config, toy, parts, key, eval_key, calibration: dict, train_and_score, runtime=None) -> dict:
    """Both libraries' scores per architecture, and whether their orderings agree. `train_and_score` is
    the study's own training and scoring of one architecture (synthsaebench passes it in, so this
    helper imports no study)."""
    runtime = or_default(runtime)
    if not _saelens_available():
        runtime.progress.note(f"SAELens side by side {NOT_INSTALLED}")
        return {"skipped": NOT_INSTALLED}

    target = max(config.target_l0s)
    l1 = calibration.get("l1", {}).get("chosen", {}).get(target, 1.0)
    side = dataclasses.replace(config, target_l0s=(target,), samples_per_sae=config.saelens_samples)
    steps = config.saelens_samples // config.batch_size
    ours, theirs = {}, {}
    for arch in ARCHS:
        start = time.perf_counter()
        entries, _ = train_and_score(
            side,
            toy,
            arch,
            seeding.replica_seeds(config.seed, 1),
            key,
            eval_key,
            {target: l1} if arch == "l1" else {},
            steps,
            tag=" (side by side)",
            runtime=runtime,
        )
        ours[arch] = {
            **{m: entries[0]["metrics"][m] for m in ("f1", "mcc", "uniqueness", "explained_variance", "l0", "dead_fraction")},
            "train_and_eval_seconds": time.perf_counter() - start,
        }
    # All of ours first, then SAELens': compiling JAX programs after torch has trained in the same
    # process once failed with "LLVM compilation error: Cannot allocate memory".
    jax.clear_caches()
    for arch in ARCHS:
        runtime.progress.note(f"SAELens: training {arch} on {steps * config.batch_size:,} samples (CPU torch)")
        with contextlib.redirect_stderr(io.StringIO()):  # SAELens' own progress bars
            theirs[arch] = saelens_scores(parts, arch, steps * config.batch_size, config, target, l1, config.seed)
    orders = {m: {"toylab": _order(ours, m), "saelens": _order(theirs, m)} for m in ("f1", "mcc")}
    return {
        "target_l0": target,
        "samples": steps * config.batch_size,
        "l1_coefficient": l1,
        "per_arch": {a: {"toylab": ours[a], "saelens": theirs[a]} for a in ARCHS},
        "orders": orders,
        "orders_agree": {m: o["toylab"] == o["saelens"] for m, o in orders.items()},
    }


def summary(side: dict) -> str:
    if "skipped" in side:
        return f"SAELens side by side: {side['skipped']}"
    lines = [
        f"SAELens side by side (same model file, {side['samples']:,} samples each, L0 target {side['target_l0']}):",
        f"  {'arch':<12}{'toylab F1':>10}{'SAELens F1':>11}{'toylab MCC':>11}{'SAELens MCC':>12}{'toylab L0':>10}{'SAELens L0':>11}",
    ]
    for arch, both in side["per_arch"].items():
        t, s = both["toylab"], both["saelens"]
        lines.append(f"  {arch:<12}{t['f1']:>10.3f}{s['f1']:>11.3f}{t['mcc']:>11.3f}{s['mcc']:>12.3f}{t['l0']:>10.1f}{s['l0']:>11.1f}")
    for metric, order in side["orders"].items():
        agree = "agree" if side["orders_agree"][metric] else "DIFFER"
        lines.append(f"  {metric.upper()} order: toylab {' > '.join(order['toylab'])}; SAELens {' > '.join(order['saelens'])} ({agree})")
    return "\n".join(lines)
