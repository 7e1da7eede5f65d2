"""Experiments (`toylab run NAME`): frozen config + run(config) + plot(results) + summary.

See `experiments.runner.registry` for the list and `experiments.runner.cli` for the command.
"""
