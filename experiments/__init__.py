"""Experiments (`toylab run NAME`): each study is a frozen config + run(config) → Result +
plot(results) + summary(results), in `experiments/studies/`, registered by name
(`experiments.runner.registry`).

Layers, one direction only (tests/test_layers.py): studies → the kernel and shared study
helpers (`experiments.kernel`, `experiments.recovery`, `experiments.circle_cells`, …) → the run
infrastructure (`experiments.runner`) → the library (`toys`, `theory`, `sae`). `theory` and
`bench` are plain commands the CLI dispatches, not studies.
"""
