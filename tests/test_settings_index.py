"""The settings index (`experiments/studies/settings.json`): current with the studies' configs,
never refusing what a study accepts, and refusing what the fields' rules refuse (formulas over
several fields included) without importing JAX."""

import json
import os
import subprocess
import sys
from unittest import mock

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from test_records import KEYS, values  # the `--set` fuzz's keys and values, shared

from experiments.runner import cli, overrides, registry, settings_index
from toys.engine.config import ConfigError


def test_the_index_is_current():
    # regenerate with `python -m experiments.runner.settings_index` after changing a study's Config
    assert settings_index.INDEX.read_text() == settings_index.serialise(settings_index.build())


@pytest.mark.parametrize("name", list(registry.EXPERIMENTS))
@pytest.mark.parametrize("quick", [False, True])
def test_the_rebuilt_settings_equal_the_study_config(name, quick):
    study = registry.get(name)
    real = study.Config.quick() if quick else study.Config()
    spec = json.loads(settings_index.INDEX.read_text())[name]
    shadow = settings_index._rebuild(spec["quick" if quick else "full"], spec["follows"])
    assert overrides.to_dict(shadow) == overrides.to_dict(real)
    assert overrides.known_keys(shadow) == overrides.known_keys(real)


@given(
    st.sampled_from(list(registry.EXPERIMENTS)),
    st.booleans(),
    st.one_of(st.none(), st.integers(-3, 2**64)),
    st.lists(st.tuples(st.sampled_from(KEYS + ["nosuch", "toy", "seed"]), values), max_size=3),
)
def test_the_index_refuses_only_what_the_study_refuses(name, quick, seed, assignments):
    argv = [f"{key}={value}" for key, value in assignments]
    try:
        settings_index.check(name, quick, seed, argv)
    except ConfigError as early:
        event("refused by the index")
        with mock.patch.object(settings_index, "check", lambda *args: None), pytest.raises(ConfigError) as late:
            cli.resolve_config(name, quick, seed, argv)  # the study's own checks, imported
        assert "\n" not in str(early)
        if str(early).startswith("--set ") or "expected a value of type" in str(early):
            assert str(early) == str(late.value)  # parsing and unknown keys: the same code, the same line
        return
    event("passed on to the study")


def test_field_rule_refusals_do_not_import_jax():
    # single fields, and rules over several fields declared as formulas (k ≤ min(sizes), p11 ≤ 1 − p10,
    # k ≤ toy.d · min(size_ratios))
    probe = (
        "import sys; from experiments.runner import cli; codes = [cli.main(['run', *a]) for a in ({})]; print(codes, 'jax' in sys.modules)"
    )
    argvs = [
        ["circles", "--set", "toy.d=-1"],
        ["two-feature", "--set", "learning_rate=inf"],
        ["superposition", "--set", "toy.n_features=abc"],
        ["sweep", "--set", "nosuch=1"],
        ["trees", "--quick", "--seed", "-1"],
        ["superposition", "--quick", "--set", "sizes=8", "--set", "k=100"],
        ["two-feature", "--set", "p10=0.9", "--set", "p11=0.2"],
        ["darts", "--quick", "--set", "k=100000"],
        ["circles", "--quick", "--set", "figure_size=300"],
    ]
    result = subprocess.run(
        [sys.executable, "-c", probe.format(repr(argvs))], capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__))
    )
    assert result.stdout.strip().splitlines()[-1] == f"{[2] * len(argvs)} False", result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == len(argvs)  # one line each
