"""Dictionaries: SAE architectures, the one trainer, baselines, ground-truth scores, the disk format.

Imports no toy: data arrive as anything following the toy protocol (an object with `d`
and `sample(key, n) -> Batch`) or as arrays. Of `toys` it uses only the infrastructure
below everything (`toys.engine`: config errors, the runtime, progress, the training loop).

Modules: `architectures` (each architecture's encode/loss and its declared facts),
`params` (the one dictionary pytree), `train` (the one trainer), `pipeline` (fit,
baseline, encode, reconstruct, evaluate — what experiments compose), `evaluate`
(streamed, composable metrics), `metrics` (definitions), `saelens_format` (SAELens'
cfg.json + sae_weights.safetensors), `absorption`, `random_dictionaries`, `classical`;
`saved_files` (a saved dictionary's files, checked without JAX); `sae.readers`: what is read out
of a dictionary and its codes, each reader a method (blind)
or a grader (gets the truth).
The functions `sae.train.train` and `sae.evaluate.evaluate` live in their modules
(re-exporting them here would shadow those modules).
"""

import importlib

# the package's names, each imported from its module when first used (PEP 562): importing a light
# module of the package (sae.saved_files: NumPy and safetensors) does not load JAX through here
_EXPORTS = {
    "ARCHITECTURES": "sae.architectures",
    "HParams": "sae.architectures",
    "hparams": "sae.architectures",
    "MIN_EVAL_SAMPLES": "sae.evaluate",
    "StreamedMetric": "sae.evaluate",
    "SAEParams": "sae.params",
    "DivergenceError": "toys.engine.progress",
    "TrainConfig": "sae.train",
    "TrainResult": "sae.train",
    "stack_hparams": "sae.train",
}
__all__ = sorted(_EXPORTS, key=str.lower)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sae' has no attribute {name!r}")
