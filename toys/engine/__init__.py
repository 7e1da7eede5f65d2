"""The lab's infrastructure, below every toy, dictionary and study (no toy lives here).

- `toys.engine.config`: `ConfigError`, config fields that carry their own range and meaning
  (`setting`), and the checks that read them.
- `toys.engine.runtime`: `Runtime(devices, precision, prng)`, passed explicitly to training.
- `toys.engine.progress`: a run's progress (bar, lines, the step an interruption names) and
  the divergence check.
- `toys.engine.loop`: the one segmented training loop (SAEs, toy networks, orthogonalisation).

`toys`, `sae` and `experiments` import it; it imports nothing of theirs.
"""
