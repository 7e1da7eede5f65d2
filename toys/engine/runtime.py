"""How a run executes, as one object passed explicitly: devices, precision, PRNG, progress.

`Runtime(devices, precision, prng)` is what the CLI's `--devices`, `--precision` and `--prng`
set; a study receives it in `run(config, runtime)` and hands it to every training call
(`sae.pipeline.fit`, a network toy's `train`). Library calls without one use `Runtime()`:
one device, float32, JAX's threefry keys, nothing printed. Nothing is kept at module level,
so two runs in one process cannot see each other's settings.

- devices: local devices the SAE trainer may spread runs and batches over (`sae.sharding`);
- precision: the compute dtype of SAE training's loss and gradient ("float32" or "bfloat16";
  parameters and Adam state stay float32);
- prng: the key implementation of the training batches' draws ("threefry", "rbg", "unsafe_rbg").
The run also records on it what it used (`devices_used`: the largest mesh any training call
planned) and the idle-device notes already printed.
"""

from __future__ import annotations

import dataclasses

from toys.engine.config import ConfigError
from toys.engine.progress import Progress

PRECISIONS = ("float32", "bfloat16")
PRNGS = ("threefry", "rbg", "unsafe_rbg")


@dataclasses.dataclass
class Runtime:
    devices: int = 1
    precision: str = "float32"
    prng: str = "threefry"
    progress: Progress = dataclasses.field(default_factory=Progress)
    devices_used: int = 1  # the most devices one training call of this run has used
    told: set = dataclasses.field(default_factory=set)  # idle-device notes already printed (one per plan)

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision: got {self.precision!r}, allowed values {', '.join(PRECISIONS)}")
        if self.prng not in PRNGS:
            raise ConfigError(f"prng: got {self.prng!r}, allowed values {', '.join(PRNGS)}")
        if isinstance(self.devices, bool) or not isinstance(self.devices, int) or self.devices < 1:
            raise ConfigError(f"devices: got {self.devices!r}, allowed: a whole number ≥ 1 or 'all'")

    @classmethod
    def on_this_machine(cls, devices: int | str = 1, **settings) -> Runtime:
        """A runtime using `devices` of this machine's devices ("all": every one); ConfigError when
        more are asked for than exist."""
        import jax

        available = jax.device_count()
        if devices == "all":
            devices = available
        elif isinstance(devices, str):
            if not (devices.strip().isascii() and devices.strip().isdigit()):  # ('²'.isdigit() is true)
                raise ConfigError(f"devices: {devices!r} is not a whole number; allowed: 1..{available} or 'all'")
            devices = int(devices)
        if not 1 <= devices <= available:
            raise ConfigError(f"devices: {devices} is outside the allowed range 1..{available} (or 'all') on this machine")
        return cls(devices=devices, **settings)

    def record_plan(self, shape: tuple[int, int], n_runs: int, batch_size: int) -> None:
        """Note the mesh a training call uses; when it leaves requested devices idle, say so once."""
        used = shape[0] * shape[1]
        self.devices_used = max(self.devices_used, used)
        if used < self.devices and (shape, n_runs, batch_size) not in self.told:
            self.told.add((shape, n_runs, batch_size))
            self.progress.note(
                f"devices: {self.devices} requested, this training can use {used} ({n_runs} runs × "
                f"batch {batch_size} divide over a {shape[0]} × {shape[1]} mesh); the rest idle"
            )


def or_default(runtime: Runtime | None) -> Runtime:
    """The given runtime, or a fresh default one (library calls that were given none)."""
    return Runtime() if runtime is None else runtime
