"""`toylab bench`: training throughput of our TopK trainer beside SAELens, in one run.

A: one SAE, F=512 planted features in d=64, m=1024 latents, k=8, batch 1024 → steps/s.
B: 16 SAEs, F=64, d=16, m=128, k=4, batch 256 → SAE-steps/s; ours trains all 16 in one
   vmapped call, SAELens trains them one after another (its API trains one SAE).
Both libraries draw the same data distribution: constant firing probability
(mean L0 5 in A, 4·… in B as configured below) with unit magnitudes on unit feature
directions. Each measurement is the best of `repeats` timed calls after one untimed
warm-up (which includes compilation); SAELens rows are skipped with a message when
`sae-lens` is not installed (`pip install -e .[bench]`).

Achieved GFLOP/s for A counts the nominal work of a dense TopK SAE step,
12·b·d·m FLOPs (forward encode and decode, 2·b·d·m each; backward twice the forward),
against the dense f32 matmul rate measured in the same run. Our trainer does less
work than that (it decodes from the k selected rows only), so the figure is an
effective rate for comparing implementations, not a hardware utilisation.
Targets (from the issue): A ≥ 3× SAELens, B ≥ 10×.

S: the synthetic-model sampler at SynthSAEBench-16k's shape (16,384 features in 768
dims, its hierarchy and correlation; the dictionary left unorthogonalised, which does
not change the cost) → samples/s of x for batches of 1024: ours (exact sparse), our
dense reference (SAELens' steps in JAX), and SAELens' `SyntheticModel.sample` on the
same model file.
"""

from __future__ import annotations

import dataclasses
import os
import time

import jax

from sae import architectures, pipeline
from toys import superposition


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    n_features: int
    d: int
    m: int
    k: int
    batch_size: int
    n_saes: int
    mean_l0: float
    steps: int
    target_ratio: float


# Target ratios over SAELens: those of the performance work (A 5×, B 20×).
CASES = (
    Case("A", 512, 64, 1024, 8, 1024, 1, 5.0, 200, 5.0),
    Case("B", 64, 16, 128, 4, 256, 16, 4.0, 300, 20.0),
)


def _best_time(fn, repeats: int) -> float:
    fn()  # warm-up: compilation, allocation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    a = jax.random.normal(jax.random.key(0), (size, size))
    b = jax.random.normal(jax.random.key(1), (size, size))
    f = jax.jit(lambda a, b: a @ b)
    seconds = _best_time(lambda: f(a, b).block_until_ready(), repeats)
    return 2 * size**3 / seconds / 1e9


def case_setup(case: Case):
    """(toy, hps [n_saes], keys [n_saes]) of a TopK case: the planted toy and the runs' settings."""
    toy_config = superposition.SuperpositionConfig(
        n_features=case.n_features, d=case.d, mean_l0=case.mean_l0, magnitude_low=1.0, magnitude_high=1.0
    )
    toy = superposition.build(toy_config, jax.random.key(0))
    hps = pipeline.stack([architectures.hparams(3e-4, 0.0, case.k)] * case.n_saes)
    return toy, hps, jax.random.split(jax.random.key(1), case.n_saes)


def ours(case: Case, repeats: int) -> float:
    """SAE-steps/s of our trainer (all n_saes in one vmapped call)."""
    toy, hps, keys = case_setup(case)
    seconds = _best_time(
        lambda: jax.block_until_ready(pipeline.fit("topk", toy, hps, keys, n_latents=case.m, steps=case.steps, batch_size=case.batch_size)),
        repeats,
    )
    return case.n_saes * case.steps / seconds


def saelens(case: Case, repeats: int) -> float | None:
    """SAE-steps/s of SAELens' train_toy_sae (n_saes trained one after another); None if absent."""
    os.environ.setdefault("TQDM_DISABLE", "1")  # SAELens' progress bars would bury the table
    try:
        import torch
        from sae_lens import TopKTrainingSAE, TopKTrainingSAEConfig
        from sae_lens.synthetic import ActivationGenerator, FeatureDictionary, train_toy_sae
    except ImportError:
        return None

    torch.manual_seed(0)
    features = FeatureDictionary(case.n_features, case.d, seed=0)
    generator = ActivationGenerator(case.n_features, firing_probabilities=case.mean_l0 / case.n_features)

    def train_all():
        for _ in range(case.n_saes):
            sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=case.d, d_sae=case.m, k=case.k))
            train_toy_sae(sae, features, generator, training_samples=case.steps * case.batch_size, batch_size=case.batch_size, lr=3e-4)

    seconds = _best_time(train_all, repeats)
    return case.n_saes * case.steps / seconds


SAMPLER_SHAPE = (16_384, 768, 1024)  # features, dims, batch


def _synthetic_model(features: int, dims: int):
    """SynthSAEBench's family at this size, unorthogonalised (the timing excludes building it)."""
    from toys import synthetic_model

    parts = synthetic_model.build(synthetic_model.synthsaebench_config(features, dims, orthogonalization_steps=0))
    return parts, synthetic_model.from_parts(parts)


def _saelens_model(parts):
    """SAELens' SyntheticModel loaded from our model written in its format (torch seeded); None without sae-lens."""
    import tempfile

    from toys import synthetic_files

    try:
        import torch
        from sae_lens.synthetic import SyntheticModel
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as folder:
        synthetic_files.save(f"{folder}/model", parts)
        model = SyntheticModel.load_from_disk(f"{folder}/model")
    torch.manual_seed(0)
    return model


SYNTHETIC_CASE = {"features": 16_384, "dims": 768, "width": 4096, "k": 25, "batch_size": 1024, "steps": 20, "target_ratio": 8.0}


def peak_rss_gib() -> float:
    """This process's peak resident set so far (ru_maxrss; kilobytes on Linux), in GiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def synthetic_training(repeats: int, case: dict = SYNTHETIC_CASE) -> dict:
    """Case C: one BatchTopK SAE at SynthSAEBench-16k's shape, data generation included.

    Samples/s of ours (`pipeline.fit`, the exact sparse sampler inside the scan) and of
    SAELens (`train_toy_sae`, the loop its `SyntheticSAERunner` runs, without its evals)
    on the same model file; the model is built once outside the timing.
    """
    parts, model = _synthetic_model(case["features"], case["dims"])
    hps = pipeline.stack([architectures.hparams(3e-4, 0.0, case["k"])])
    keys = jax.random.split(jax.random.key(1), 1)
    samples = case["steps"] * case["batch_size"]
    seconds = _best_time(
        lambda: jax.block_until_ready(
            pipeline.fit(
                "batchtopk",
                model,
                hps,
                keys,
                n_latents=case["width"],
                steps=case["steps"],
                batch_size=case["batch_size"],
                k_max=case["k"],
                one_draw=True,
            )
        ),
        repeats,
    )
    flops = 12 * case["batch_size"] * case["dims"] * case["width"] * case["steps"]
    row = {
        **case,
        "ours_samples_per_s": samples / seconds,
        "nominal_gflops_per_s": flops / seconds / 1e9,
        "saelens_samples_per_s": None,
        "peak_rss_gib": peak_rss_gib(),
    }
    theirs = _saelens_model(parts)
    if theirs is None:
        return row
    from sae_lens import BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig
    from sae_lens.synthetic import train_toy_sae

    def train_theirs():
        sae = BatchTopKTrainingSAE(BatchTopKTrainingSAEConfig(d_in=case["dims"], d_sae=case["width"], k=case["k"]))
        train_toy_sae(
            sae, theirs.feature_dict, theirs.activation_generator, training_samples=samples, batch_size=case["batch_size"], lr=3e-4
        )

    row["saelens_samples_per_s"] = samples / _best_time(train_theirs, repeats)
    row["ratio"] = row["ours_samples_per_s"] / row["saelens_samples_per_s"]
    row["target_met"] = row["ratio"] >= case["target_ratio"]
    return row


def sampler_throughput(repeats: int, shape: tuple[int, int, int] = SAMPLER_SHAPE) -> dict:
    """Samples/s of x: ours sparse, ours dense, SAELens (None when absent), on one model file."""
    features, dims, batch = shape
    parts, model = _synthetic_model(features, dims)
    sparse = jax.jit(lambda key: model.sample(key, batch).x)
    dense = jax.jit(lambda key: model.sample_dense(key, batch)[0])
    keys = iter(jax.random.split(jax.random.key(0), 4 * repeats + 8))
    row = {
        "num_features": features,
        "hidden_dim": dims,
        "batch_size": batch,
        "ours_sparse": batch / _best_time(lambda: sparse(next(keys)).block_until_ready(), repeats),
        "ours_dense": batch / _best_time(lambda: dense(next(keys)).block_until_ready(), repeats),
        "saelens": None,
    }
    theirs = _saelens_model(parts)
    if theirs is None:
        return row
    row["saelens"] = batch / _best_time(lambda: theirs.sample(batch), repeats)
    return row


DECODE_SHAPE = {"d": 768, "m": 4096, "batch_size": 1024}  # SynthSAEBench-16k's SAE
DECODE_KS = (8, 16, 32, 64, 128, 256, 512)  # k/m from 1/512 to 1/8, both sides of the crossover


def decode_crossover(repeats: int, shape: dict = DECODE_SHAPE, ks: tuple[int, ...] = DECODE_KS) -> list[dict]:
    """One BatchTopK loss-and-gradient evaluation, dense decode against sparse (from the k·b selected
    rows), per k: milliseconds each and the speed-up — where `SPARSE_DECODE_MAX_DENSITY` comes from."""
    d, m, b = shape["d"], shape["m"], shape["batch_size"]
    keys = jax.random.split(jax.random.key(0), 3)
    from sae.params import init

    p = init(keys[0], d, m, None, 1.0).replace(b_enc=0.1 * jax.random.normal(keys[1], (m,)))
    x = jax.random.normal(keys[2], (b, d))
    rows = []
    for k in ks:
        hp = architectures.hparams(3e-4, 0.0, k)
        timed = {}
        for sparse in (False, True):
            step = jax.jit(
                jax.value_and_grad(
                    lambda q, sparse=sparse, hp=hp, k=k: architectures.get("batchtopk").loss(q, x, hp, k, None, sparse=sparse)[0]
                )
            )
            timed[sparse] = _best_time(lambda step=step: jax.block_until_ready(step(p)), repeats)
        rows.append(
            {
                "k": k,
                "density": k / m,
                "dense_ms": 1e3 * timed[False],
                "sparse_ms": 1e3 * timed[True],
                "speedup": timed[False] / timed[True],
                "chosen": "sparse" if architectures.sparse_decode(k, m) else "dense",
            }
        )
    return rows


def run(repeats: int = 3) -> dict:
    rate = matmul_gflops()
    rows = []
    for case in CASES:
        ours_rate = ours(case, repeats)
        theirs = saelens(case, repeats)
        row = {"case": case.name, **dataclasses.asdict(case), "ours_sae_steps_per_s": ours_rate, "saelens_sae_steps_per_s": theirs}
        if theirs:
            row["ratio"] = ours_rate / theirs
            row["target_met"] = row["ratio"] >= case.target_ratio
        if case.n_saes == 1:
            flops = 12 * case.batch_size * case.d * case.m
            row["nominal_gflops_per_s"] = ours_rate * flops / 1e9
        rows.append(row)
    return {
        "matmul_gflops_per_s": rate,
        "device": jax.devices()[0].device_kind,
        "cases": rows,
        "synthetic": synthetic_training(repeats),
        "sampler": sampler_throughput(repeats),
        "decode": decode_crossover(repeats),
    }


def report(results: dict) -> str:
    lines = [f"dense f32 matmul (2048²): {results['matmul_gflops_per_s']:.1f} GFLOP/s on {results['device']}", ""]
    lines.append(f"{'case':<5}{'shape':<34}{'ours':>12}{'SAELens':>12}{'ratio':>8}{'target':>8}  met")
    for row in results["cases"]:
        shape = f"F={row['n_features']} d={row['d']} m={row['m']} k={row['k']} b={row['batch_size']} ×{row['n_saes']}"
        theirs = row["saelens_sae_steps_per_s"]
        theirs_text = f"{theirs:>12.1f}" if theirs else f"{'skipped':>12}"
        ratio = f"{row['ratio']:>7.1f}×" if theirs else f"{'—':>8}"
        met = ("yes" if row["target_met"] else "NO") if theirs else "—"
        lines.append(
            f"{row['case']:<5}{shape:<34}{row['ours_sae_steps_per_s']:>12.1f}{theirs_text}{ratio}{row['target_ratio']:>7.0f}×  {met}"
        )
        if "nominal_gflops_per_s" in row:
            share = row["nominal_gflops_per_s"] / results["matmul_gflops_per_s"]
            lines.append(f"     A: {row['nominal_gflops_per_s']:.1f} GFLOP/s dense-equivalent ({share:.0%} of the measured matmul rate)")
    lines.append("(units: SAE-steps/s; ours trains a case's SAEs in one vmapped call, SAELens one after another)")
    synthetic = results.get("synthetic")
    if synthetic:
        theirs = synthetic["saelens_samples_per_s"]
        versus = (
            f", SAELens {theirs:,.0f} ({synthetic['ratio']:.1f}×, target {synthetic['target_ratio']:.0f}×, "
            f"{'met' if synthetic['target_met'] else 'NOT met'})"
            if theirs
            else ", SAELens skipped"
        )
        share = synthetic["nominal_gflops_per_s"] / results["matmul_gflops_per_s"]
        lines.append(
            f"C    BatchTopK k={synthetic['k']} on the synthetic model, F={synthetic['features']} "
            f"d={synthetic['dims']} m={synthetic['width']} b={synthetic['batch_size']}, data included: "
            f"ours {synthetic['ours_samples_per_s']:,.0f} samples/s{versus}"
        )
        lines.append(
            f"     C: {synthetic['nominal_gflops_per_s']:.1f} GFLOP/s dense-equivalent "
            f"({share:.0%} of the measured matmul rate); peak host memory of the process after C "
            f"(ru_maxrss, A and B included): {synthetic['peak_rss_gib']:.2f} GiB"
        )
    sampler = results.get("sampler")
    if sampler:
        theirs = sampler["saelens"]
        versus = f", SAELens {theirs:,.0f} ({sampler['ours_sparse'] / theirs:.1f}×)" if theirs else ", SAELens skipped"
        lines.append(
            f"S    synthetic-model sampler, F={sampler['num_features']} d={sampler['hidden_dim']} "
            f"b={sampler['batch_size']}: ours sparse {sampler['ours_sparse']:,.0f} samples/s, ours dense "
            f"{sampler['ours_dense']:,.0f}{versus}"
        )
    decode = results.get("decode")
    if decode:
        lines += [
            "",
            f"BatchTopK loss + gradient, dense vs sparse decode (d={DECODE_SHAPE['d']} m={DECODE_SHAPE['m']} "
            f"b={DECODE_SHAPE['batch_size']}):",
            f"{'k':>6}{'k/m':>9}{'dense ms':>10}{'sparse ms':>11}{'speed-up':>10}  chosen",
        ]
        lines += [
            f"{r['k']:>6}{r['density']:>9.4f}{r['dense_ms']:>10.1f}{r['sparse_ms']:>11.1f}{r['speedup']:>9.2f}×  {r['chosen']}"
            for r in decode
        ]
    if any(row["saelens_sae_steps_per_s"] is None for row in results["cases"]):
        lines.append("SAELens rows skipped: `sae-lens` is not installed (pip install -e '.[bench]').")
    return "\n".join(lines)
