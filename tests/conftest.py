"""Shared test settings.

Hypothesis is derandomised with no deadline (new shapes recompile). XLA compiles with
most optimisations off (`JAX_DISABLE_MOST_OPTIMIZATIONS`) and with its loop emitters: the
tests' shapes are tiny, so compiling dominates their time and the optimised code would not
pay for itself; the arithmetic is the same. Compiled programs are shared between the test processes of one
run through a persistent cache in a temporary folder, removed when the run ends.
"""

import os
import shutil
import tempfile

import pytest
from hypothesis import settings

os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
# XLA's older loop emitters compile the tests' programs about a third faster than the
# fusion emitters (measured on the darts contract: 32 s → 22 s).
if "xla_cpu_use_fusion_emitters" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_use_fusion_emitters=false").strip()


def pytest_configure(config):
    # The controller (or a run without xdist) makes the folder; xdist workers and the
    # suite's subprocesses inherit it through the environment.
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ and not hasattr(config, "workerinput"):
        config._toylab_jax_cache = tempfile.mkdtemp(prefix="toylab-test-jax-cache-")
        os.environ["JAX_COMPILATION_CACHE_DIR"] = config._toylab_jax_cache
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")


def pytest_unconfigure(config):
    folder = getattr(config, "_toylab_jax_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


settings.register_profile("toylab", derandomize=True, deadline=None, max_examples=25, print_blob=True)
settings.load_profile("toylab")


@pytest.fixture(autouse=True)
def _studies_hand_their_runtime_to_every_training(monkeypatch):
    """Inside `toylab run`, every training must receive the run's Runtime (its devices, precision,
    PRNG and progress): one left to the library default would silently ignore --devices and show no
    progress. Every CLI run in the suite checks it — a training given no runtime there fails."""
    from experiments.runner import cli
    from toys.engine import loop

    original = cli.run_experiment

    def strict(*args, **kwargs):
        def refuse_default(runtime):
            assert runtime is not None, "a training inside a study run got no runtime (pass the study's runtime on)"
            return runtime

        with monkeypatch.context() as patch:
            patch.setattr(loop, "or_default", refuse_default)
            return original(*args, **kwargs)

    monkeypatch.setattr(cli, "run_experiment", strict)
