"""Dictionaries: SAE architectures, the one trainer, baselines, ground-truth scores, the disk format.

Imports no toy: data arrive as anything following the toy protocol (an object with `d`
and `sample(key, n) -> Batch`) or as arrays. Of `toys` it uses only the infrastructure
below everything (`toys.engine`: config errors, the runtime, progress, the training loop).

Modules: `architectures` (each architecture's encode/loss and its declared facts),
`params` (the one dictionary pytree), `train` (the one trainer), `pipeline` (fit,
baseline, encode, reconstruct, evaluate — what experiments compose), `evaluate`
(streamed, composable metrics), `metrics` (definitions), `saelens_format` (SAELens'
cfg.json + sae_weights.safetensors), `absorption`, `random_dictionaries`, `classical`;
`sae.readers`: what is read out of a dictionary and its codes, each reader a method (blind)
or a grader (gets the truth).
The functions `sae.train.train` and `sae.evaluate.evaluate` live in their modules
(re-exporting them here would shadow those modules).
"""

from sae.architectures import ARCHITECTURES, HParams, hparams
from sae.evaluate import MIN_EVAL_SAMPLES, StreamedMetric
from sae.params import SAEParams
from toys.engine.progress import DivergenceError
from sae.train import TrainConfig, TrainResult, stack_hparams

__all__ = [
    "ARCHITECTURES",
    "DivergenceError",
    "HParams",
    "MIN_EVAL_SAMPLES",
    "SAEParams",
    "StreamedMetric",
    "TrainConfig",
    "TrainResult",
    "hparams",
    "stack_hparams",
]
