"""One prepared accelerator check: `tools/device_check.sh [--cpu-smoke] [--out FILE]` → one JSON.

On whatever JAX sees (install the CUDA build for a GPU: README, "GPU install"), in order:
1. the bench cases A, B (`experiments.bench.ours`) and C (`synthetic_training`, SynthSAEBench-16k's
   BatchTopK SAE with its data) — SAELens beside them when it is installed;
2. one SynthSAEBench-16k BatchTopK SAE (F = 16,384, d = 768, m = 4,096, k = 25, b = 1,024) trained
   for as many samples as fit in `TRAIN_SECONDS`: samples/s and the projected time for 200M
   samples (the published budget);
3. the two-process `jax.distributed` test (tests/test_sharding.py), when two devices exist.
`--cpu-smoke` runs every step at small sizes and short budgets, to show the script works end to
end on a machine without an accelerator. Budget: under 8 minutes on one GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PUBLISHED_SAMPLES = 200_000_000
TRAIN_SECONDS = 240.0
FULL = {"features": 16_384, "dims": 768, "width": 4096, "k": 25, "batch_size": 1024}
SMOKE = {"features": 512, "dims": 64, "width": 256, "k": 8, "batch_size": 256}


def _bench_cases(smoke: bool, repeats: int) -> dict:
    from experiments import bench

    cases = bench.CASES
    if smoke:
        cases = tuple(
            dataclasses.replace(
                c,
                n_features=min(c.n_features, 64),
                d=min(c.d, 16),
                m=min(c.m, 128),
                k=min(c.k, 4),
                batch_size=min(c.batch_size, 128),
                steps=10,
            )
            for c in cases
        )
    rows = [
        {
            "case": c.name,
            **dataclasses.asdict(c),
            "ours_sae_steps_per_s": bench.ours(c, repeats),
            "saelens_sae_steps_per_s": bench.saelens(c, repeats),
        }
        for c in cases
    ]
    synthetic = dict(bench.SYNTHETIC_CASE)
    if smoke:
        synthetic.update(SMOKE, steps=5)
    return {
        "matmul_gflops_per_s": bench.matmul_gflops(512 if smoke else 4096),
        "cases": rows,
        "C": bench.synthetic_training(repeats, synthetic),
    }


def _timed_training(shape: dict, seconds: float) -> dict:
    """One SAE trained for the samples that fit in `seconds`: chunks of one compiled size, each
    continuing from the last (`init_params`), the compilations untimed; samples/s over the timed chunks."""
    import jax

    from experiments.bench import _synthetic_model
    from sae import architectures, pipeline

    _, model = _synthetic_model(shape["features"], shape["dims"])
    hps = pipeline.stack([architectures.hparams(3e-4, 0.0, shape["k"])])
    keys = jax.random.split(jax.random.key(1), 1)
    batch = shape["batch_size"]

    def fit(steps, start=None):
        began = time.perf_counter()
        result = pipeline.fit(
            "batchtopk",
            model,
            hps,
            keys,
            n_latents=shape["width"],
            steps=steps,
            batch_size=batch,
            k_max=shape["k"],
            one_draw=True,
            init_params=start,
        )
        jax.block_until_ready(result.params)
        return result.params, time.perf_counter() - began

    params, _ = fit(20)  # compiles the 20-step program
    _, probe = fit(20, params)  # compiles the continuing program; its time is not counted
    _, probe = fit(20, params)
    chunk = max(20, int(20 * min(seconds / 8, 30.0) / probe))  # chunks of about seconds/8 (≤ 30 s)
    params, _ = fit(chunk, params)  # compile the chunk size
    samples, elapsed = 0, 0.0
    while elapsed < seconds:
        params, took = fit(chunk, params)
        samples, elapsed = samples + chunk * batch, elapsed + took
    return {
        **shape,
        "chunk_steps": chunk,
        "samples": samples,
        "seconds": elapsed,
        "samples_per_s": samples / elapsed,
        "projected_seconds_for_200M": PUBLISHED_SAMPLES / (samples / elapsed),
    }


def _two_processes() -> dict:
    import jax

    if jax.device_count() < 2:
        return {"skipped": f"{jax.device_count()} device(s); the two-process run needs two"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "tests/test_sharding.py", "-k", "two_hosts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return {"returncode": done.returncode, "tail": done.stdout[-2000:] + done.stderr[-2000:]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="small sizes and budgets (no accelerator needed)")
    parser.add_argument("--out", default="device_check.json", help="the JSON written (default: device_check.json)")
    args = parser.parse_args(argv)
    import jax

    started = time.perf_counter()
    report = {"devices": [f"{d.platform}:{d.device_kind}" for d in jax.devices()], "cpu_smoke": args.cpu_smoke, "jax": jax.__version__}
    steps = (
        ("bench", lambda: _bench_cases(args.cpu_smoke, 1 if args.cpu_smoke else 3)),
        ("synthsaebench_16k_sae", lambda: _timed_training(SMOKE if args.cpu_smoke else FULL, 10.0 if args.cpu_smoke else TRAIN_SECONDS)),
        ("two_processes", _two_processes),
    )
    for name, step in steps:
        print(f"device check: {name} …", file=sys.stderr, flush=True)
        try:
            report[name] = step()
        except Exception as error:  # one failing step must not lose the others' numbers
            report[name] = {"error": f"{type(error).__name__}: {error}".splitlines()[0]}
    report["total_seconds"] = time.perf_counter() - started
    out = Path(args.out)
    temporary = out.with_name(f".{out.name}.tmp")
    temporary.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(temporary, out)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
