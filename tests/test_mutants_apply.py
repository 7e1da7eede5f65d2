"""tools/mutants.py breaks the code in plausible ways and checks a test catches each break. A mutant
whose text no longer stands in the source (after a refactor or a reformat) would silently test
nothing: each must apply exactly once to today's tree, and name a test file that exists."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _mutants():
    spec = importlib.util.spec_from_file_location("mutants", ROOT / "tools" / "mutants.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines MUTANTS; runs nothing (main is behind __name__)
    return module.MUTANTS


def test_every_mutant_applies_once_and_names_an_existing_test():
    mutants = _mutants()
    assert len(mutants) >= 14
    for what, path, old, new, test in mutants:
        text = (ROOT / path).read_text()
        assert text.count(old) == 1, f"{what}: its text stands {text.count(old)} times in {path}"
        assert old != new
        assert (ROOT / test.split("::")[0]).is_file(), f"{what}: no test file {test}"
