"""Named key streams: studies ask `seeding.stream(key, name)` and fold in no constant of their own; the
names keep the constants the studies used before them, so that the documented numbers stand."""

import ast
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments.runner import seeding

STUDIES = Path(__file__).resolve().parents[1] / "experiments" / "studies"

# the constants every stream had when its numbers were documented: changing one moves them
DOCUMENTED = {
    "circuit": 7,
    "evaluation sample": 7,
    "circle scores": 11,
    "clustering samples": 7,
    "splitting ladder": 7,
    "chance dictionaries": 2,
    "networks": 0,
    "second network": 1,
    "knockoff placement": 1,
    "knockoff heads": 2,
}


def _literal_fold_ins(path: Path) -> list[int]:
    """Lines where `fold_in(key, <integer literal>)` is called, or a name bound to an integer literal."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "fold_in" and len(node.args) == 2:
            second = node.args[1]
            if isinstance(second, ast.Constant) or (isinstance(second, ast.Name) and second.id in constants):
                lines.append(node.lineno)
    return lines


def test_no_study_folds_in_a_constant_of_its_own():
    found = {path.name: lines for path in sorted(STUDIES.glob("*.py")) if (lines := _literal_fold_ins(path))}
    assert found == {}


def test_the_checker_sees_a_constant_fold_in(tmp_path):
    # its counterpart: the pattern the studies used before the names
    study = tmp_path / "study.py"
    lines = [
        "import jax",
        "STREAM = 11",
        "k = jax.random.fold_in(root, 7)",
        "j = jax.random.fold_in(root, STREAM)",
        "ok = jax.random.fold_in(root, i)",
    ]
    study.write_text("\n".join(lines) + "\n")
    assert _literal_fold_ins(study) == [3, 4]


def test_streams_keep_their_documented_constants():
    assert seeding.STREAMS == DOCUMENTED
    root = seeding.root_key(5)
    for name, constant in DOCUMENTED.items():
        assert np.array_equal(jax.random.key_data(seeding.stream(root, name)), jax.random.key_data(jax.random.fold_in(root, constant)))


def test_an_unknown_stream_is_refused_in_one_line():
    with pytest.raises(ValueError, match="key stream: got 'nope', allowed one of") as error:
        seeding.stream(seeding.root_key(0), "nope")
    assert "\n" not in str(error.value)
