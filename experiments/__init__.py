"""Experiments (`toylab run NAME`): frozen config + run(config) + plot(results) + summary.

See `experiments.registry` for the list and `experiments.cli` for the command.
"""
