"""The study contract (experiments.runner.study): every registered study declares one, checked at lookup."""

import dataclasses
import types

import pytest

from experiments.runner import registry
from experiments.runner.study import Result, Study


@pytest.mark.parametrize("name", list(registry.EXPERIMENTS))
def test_every_registered_study_declares_its_contract(name):
    study = registry.get(name)
    assert isinstance(study, Study) and study.name == name
    study.Config.quick().validate()
    assert registry.description(name) == study.description  # what `toylab list` reads without importing it


def _parts(**changes):
    @dataclasses.dataclass(frozen=True)
    class Config:
        seed: int = 0

        @classmethod
        def quick(cls):
            return cls()

        def validate(self):
            pass

    parts = dict(
        name="toy-study",
        description="a study",
        Config=Config,
        run=lambda config, runtime: Result({}),
        plot=lambda r, a, f: [],
        summary=lambda r: "",
    )
    return {**parts, **changes}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": ""}, "name and description"),
        ({"Config": dict}, "Config must be a dataclass"),
        ({"run": "not callable"}, "run must be callable"),
        ({"run": lambda config: {}}, r"run must take \(config, runtime\)"),
        ({"headline": 3}, "headline must be callable or None"),
    ],
)
def test_a_broken_declaration_is_refused_when_made(changes, message):
    with pytest.raises(TypeError, match=message):
        Study(**_parts(**changes))
    Study(**_parts())  # the unbroken one is accepted


def test_a_module_without_a_declaration_is_refused_at_lookup(monkeypatch):
    module = types.ModuleType("experiments.fake_study")
    monkeypatch.setitem(__import__("sys").modules, "experiments.fake_study", module)
    monkeypatch.setitem(registry.EXPERIMENTS, "fake", "experiments.fake_study")
    with pytest.raises(TypeError, match="expected STUDY"):
        registry.get("fake")


def test_a_study_that_drops_its_runtime_fails_the_suite(monkeypatch, tmp_path):
    # counterpart of the suite-wide check (tests/conftest.py): a training given no runtime inside a run is caught
    import jax.numpy as jnp

    from experiments.runner import cli
    from toys.engine import loop

    def step(context, carry, inputs, index):
        return carry + 1.0, carry

    def run(config, runtime):
        loop.run(step, None, jnp.float32(0.0), None, 4, what="a training without the run's runtime")
        return Result({})

    module = types.ModuleType("experiments.studies.dropped")
    module.STUDY = Study(**_parts(name="dropped", run=run))
    monkeypatch.setitem(__import__("sys").modules, "experiments.studies.dropped", module)
    monkeypatch.setitem(registry.EXPERIMENTS, "dropped", "experiments.studies.dropped")
    with pytest.raises(AssertionError, match="got no runtime"):
        cli.main(["run", "dropped", "--quick", "--out", str(tmp_path)])
