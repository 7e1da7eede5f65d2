"""Memory a config needs, estimated before anything is compiled, against what the machine has.

An experiment may define `memory_estimate(config) -> (bytes, field)`: its largest single
allocation phase in bytes and the config field most responsible. The CLI refuses a
config whose estimate exceeds the available memory — host RAM (MemAvailable) on CPU,
the device's memory limit on GPU/TPU — with one line naming the field, the estimate
and the limit, before any work.

`sae_training_bytes` counts the one trainer's phases (float32 everywhere):
- the toy's static truth: F × d directions (built, then normalised: twice);
- training G runs together: parameters, gradients and two Adam moments (4 × params),
  and per step and run the batch's activations, pre-activations and sampled codes
  (the superposition samplers draw a dense [batch, F] matrix, three times over:
  uniforms, firing mask, magnitudes);
- evaluation: one chunk of samples and codes shared by the G dictionaries, and each
  dictionary's latents and reconstruction for it.
A factor of 1.5 covers XLA's temporaries. The estimate is meant to catch the order of
magnitude (a 25.6 GB toy on a 24 GB machine), not to budget the last megabyte.
"""

from __future__ import annotations

import os

FLOAT = 4
SAFETY = 1.5


def available_bytes() -> tuple[int, str]:
    """(bytes available, what they are) on the default JAX device."""
    import jax

    device = jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        limit = stats.get("bytes_limit")
        if limit:
            return int(limit) - int(stats.get("bytes_in_use", 0)), f"{device.platform} memory"
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "available host RAM"
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "host RAM"


def sae_training_bytes(
    *, runs: int, d: int, m: int, batch: int, n_features: int, eval_chunk: int = 10_000, fields: dict | None = None
) -> tuple[int, str]:
    """(peak bytes, the field most responsible) of training `runs` dictionaries of m latents in R^d
    on a toy of F features, then evaluating them. fields names the config fields behind
    "n_features", "d", "m", "batch" and "runs" (defaults: those words)."""
    names = {"n_features": "n_features", "d": "d", "m": "m", "batch": "batch", "runs": "runs", **(fields or {})}
    truth = 2 * n_features * d
    params = runs * (2 * d * m + 5 * m + d)
    step = runs * batch * (4 * d + 3 * m + 3 * n_features)
    evaluation = eval_chunk * (d + 3 * n_features) + runs * eval_chunk * (2 * m + 2 * d)
    total = int(SAFETY * FLOAT * (truth + max(4 * params + step, 2 * params + evaluation)))
    if d >= max(m, n_features):  # every term grows with d: the widest axis is the one to lower
        return total, names["d"]
    # blame the largest term; a per-step buffer is the product of the batch and its widest axis
    widest = names["m"] if 3 * m >= 3 * n_features else names["n_features"]
    terms = {
        names["n_features"]: truth + eval_chunk * 3 * n_features,
        names["m"]: 4 * params + runs * eval_chunk * 2 * m,
        f"{widest} × {names['batch']}": step,
    }
    return total, max(terms, key=terms.get)


def human(n_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n_bytes) < 1024 or unit == "TiB":
            return f"{n_bytes:.1f} {unit}" if unit != "B" else f"{int(n_bytes)} B"
        n_bytes /= 1024
    return f"{n_bytes:.1f} TiB"


def check(experiment, config) -> None:
    """Raise ConfigError when the experiment's estimate for config exceeds the available memory."""
    from toys.engine.config import ConfigError

    if experiment.memory_estimate is None:
        return
    try:
        needed, field = experiment.memory_estimate(config)
    except (TypeError, ValueError, ZeroDivisionError):  # an invalid config: validate() names the field
        return
    limit, what = available_bytes()
    if needed > limit:
        raise ConfigError(
            f"{field}: this config needs about {human(needed)} (estimate), more than the "
            f"{human(limit)} of {what}; lower {field.replace(' × ', ' or ')}"
        )
