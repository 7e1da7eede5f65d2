"""Studies read results.json through the table (`table.read`) and their typed facts (`facts.read`), not by
looking strings up in the `results` dict. The few reads of nested dicts that remain are listed here by
study and function, so that a new one fails."""

import ast
from pathlib import Path

STUDIES = Path(__file__).resolve().parents[1] / "experiments" / "studies"

# (study, function): reads of nested per-code or per-architecture dicts not yet in the table
REMAINING = {
    ("quanta.py", "plot"),
    ("quanta.py", "variants_table"),
    ("quanta.py", "factorial_table"),
    ("synthsaebench.py", "summary"),
}


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


def test_no_study_indexes_its_results_dict():
    subscripts = {
        (path.name, line) for path in sorted(STUDIES.glob("*.py")) for _, kind, line in _string_reads(path) if kind == "subscript"
    }
    assert subscripts == set()


def test_only_the_listed_functions_read_nested_dicts():
    reads = {(path.name, function) for path in sorted(STUDIES.glob("*.py")) for function, _, _ in _string_reads(path)}
    assert reads == REMAINING


def test_the_checker_sees_both_patterns(tmp_path):
    # its counterpart: the patterns the studies used before the table and the facts
    study = tmp_path / "study.py"
    study.write_text(
        "def summary(results):\n    p = results['p']\n    return results.get('note', '')\n\nheadline = lambda results: results['seed']\n",
        encoding="utf-8",
    )
    assert _string_reads(study) == {("summary", "subscript", 2), ("summary", "get", 3), ("<lambda>", "subscript", 5)}
