"""Studies read results.json through the table (`table.read`) and their typed facts (`facts.read`), not by
looking strings up in the `results` dict (`results[...]` or `results.get(...)`)."""

import ast
from pathlib import Path

STUDIES = Path(__file__).resolve().parents[1] / "experiments" / "studies"


def _string_reads(path: Path) -> set[tuple[str, str, int]]:
    """(function, kind, line) of every `results[...]` and `results.get(...)` in a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.Lambda)):
            continue
        name = getattr(function, "name", "<lambda>")
        for node in ast.walk(function):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "results":
                found.add((name, "subscript", node.lineno))
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "results"
            ):
                found.add((name, "get", node.lineno))
    return found


def test_no_study_looks_strings_up_in_its_results_dict():
    reads = {(path.name, *read) for path in sorted(STUDIES.glob("*.py")) for read in _string_reads(path)}
    assert reads == set()


def test_the_checker_sees_both_patterns(tmp_path):
    # its counterpart: the patterns the studies used before the table and the facts
    study = tmp_path / "study.py"
    study.write_text(
        "def summary(results):\n    p = results['p']\n    return results.get('note', '')\n\nheadline = lambda results: results['seed']\n",
        encoding="utf-8",
    )
    assert _string_reads(study) == {("summary", "subscript", 2), ("summary", "get", 3), ("<lambda>", "subscript", 5)}
