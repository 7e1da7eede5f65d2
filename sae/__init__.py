"""Dictionaries: SAE architectures, the one trainer, random baselines and ground-truth scores.

Never imports `toys`: data arrive through a sampling function and arrays.
The functions `sae.train.train` and `sae.evaluate.evaluate` live in their modules
(re-exporting them here would shadow those modules).
"""

from sae.architectures import ARCHITECTURES, HParams, hparams
from sae.evaluate import MIN_EVAL_SAMPLES
from sae.params import SAEParams
from sae.progress import DivergenceError
from sae.train import TrainConfig, TrainResult, stack_hparams

__all__ = [
    "ARCHITECTURES",
    "DivergenceError",
    "HParams",
    "MIN_EVAL_SAMPLES",
    "SAEParams",
    "TrainConfig",
    "TrainResult",
    "hparams",
    "stack_hparams",
]
