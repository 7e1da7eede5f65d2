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


def _parts(**changes):
    @dataclasses.dataclass(frozen=True)
    class Config:
        seed: int = 0

        @classmethod
        def quick(cls):
            return cls()

        def validate(self):
            pass

    parts = dict(name="toy-study", description="a study", Config=Config, run=lambda config, runtime: Result({}), plot=lambda r, a, f: [],
                 summary=lambda r: "")
    return {**parts, **changes}


@pytest.mark.parametrize("changes, message", [
    ({"name": ""}, "name and description"),
    ({"Config": dict}, "Config must be a dataclass"),
    ({"run": "not callable"}, "run must be callable"),
    ({"run": lambda config: {}}, r"run must take \(config, runtime\)"),
    ({"headline": 3}, "headline must be callable or None"),
])
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
