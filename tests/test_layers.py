"""The layers import one way: the infrastructure (`toys.engine`) imports nothing of the lab's;
`toys` imports nothing from `sae` or `experiments`; `sae` imports no toy (only `toys.engine`);
no study imports another (what two share lives one level down, in `experiments/`); the runner
(`experiments/runner`) imports no study, shared study helper or kernel (`experiments/<module>.py`),
except the CLI's imports of the commands it dispatches."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _imports(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _modules(package: str):
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(
    "package, allowed",
    [
        ("toys/engine", lambda name: not name.startswith(("toys", "sae", "experiments", "theory")) or name.startswith("toys.engine")),
        ("toys", lambda name: not name.startswith(("sae", "experiments"))),
        (
            "sae",
            lambda name: not name.startswith(("experiments", "theory")) and (not name.startswith("toys") or name.startswith("toys.engine")),
        ),
        ("theory", lambda name: not name.startswith(("toys", "sae", "experiments"))),
    ],
)
def test_each_layer_imports_only_below_it(package, allowed):
    crossing = {f"{path.relative_to(ROOT)}: {name}" for path in _modules(package) for name in _imports(path) if not allowed(name)}
    assert crossing == set()


HELPERS = {path.stem for path in (ROOT / "experiments").glob("*.py") if path.stem != "__init__"}
# `toylab` dispatches its commands: the CLI alone may import the modules of the commands that are not
# studies (the rest of the runner knows studies by discovery and commands not at all)
COMMANDS = {"experiments.theory", "experiments.bench", "experiments.bench_profile"}


def _above_the_runner(name: str) -> bool:
    """A study, or a shared study helper or the kernel (experiments/<module>.py): above the runner."""
    parts = name.split(".")
    return name.startswith("experiments.studies.") or (len(parts) >= 2 and parts[0] == "experiments" and parts[1] in HELPERS)


def test_the_runner_imports_no_study_helper_or_kernel():
    # studies → the kernel and shared study helpers → runner infrastructure → library
    crossing = set()
    for path in _modules("experiments/runner"):
        for name in _imports(path):
            allowed = path.name == "cli.py" and any(name == c or name.startswith(c + ".") for c in COMMANDS)
            if _above_the_runner(name) and not allowed:
                crossing.add(f"{path.relative_to(ROOT)}: {name}")
    assert crossing == set()


def test_no_shared_helper_imports_a_study():
    crossing = {
        f"{path.stem}: {name}"
        for path in (ROOT / "experiments").glob("*.py")
        for name in _imports(path)
        if name.startswith("experiments.studies.")
    }
    assert crossing == set()


def test_no_study_imports_another():
    studies = {path.stem for path in (ROOT / "experiments" / "studies").glob("*.py") if path.stem != "__init__"}
    crossing = {
        f"{path.stem}: {name}"
        for path in (ROOT / "experiments" / "studies").glob("*.py")
        for name in _imports(path)
        if name.startswith("experiments.studies") and name.split(".")[-1] in studies - {path.stem}
    }
    assert crossing == set()


def test_the_scanner_sees_imports_it_must_allow_or_refuse():
    # counterpart: the scan is not vacuous — it finds sae's use of the engine and a toy's of the engine
    assert "toys.engine.loop" in _imports(ROOT / "sae" / "train.py")
    assert "toys.engine.runtime.Runtime" in _imports(ROOT / "toys" / "modular.py")
    assert _above_the_runner("experiments.recovery.Recovery") and _above_the_runner("experiments.kernel")
    assert not _above_the_runner("experiments.runner.seeding") and not _above_the_runner("sae.pipeline")
