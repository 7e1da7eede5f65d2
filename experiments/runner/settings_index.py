"""Every study's settable keys as data, so that `toylab run` refuses a bad `--set` before it
imports the study.

A study module imports JAX and the lab (seconds of CPU, more under load) before its `Config`
exists. The rules of single fields — the type of `--set k=abc`, the range of `--set d=-1`,
`inf` and `NaN`, a choice, an unknown key, a seed out of range — are declared on the fields
(`toys.engine.config.setting`) and need none of that. This module keeps them in
`experiments/studies/settings.json`: per study, the tree of its Config (full and quick
defaults, each field's type and `Rule`). `check(name, quick, seed, assignments)` rebuilds that
tree as plain dataclasses and runs the very code the real config runs —
`overrides.with_command_line` (`--seed`, the `--set` assignments, dependent settings) and
`check_fields` at every level — so a refusal here is the line the study would print. That
includes rules over several fields declared as formulas (`k ≤ min(sizes)`, `p11 ≤ 1 − p10`);
the memory estimate and what only a study's `validate()` states (rules in words, a circuit with
too few distinct gates, an architecture that ignores the swept hyperparameter) run after the
import, as before.

The file is derived from the studies: `python -m experiments.runner.settings_index` writes it;
`tests/test_settings_index.py` fails when it differs from the declarations, and proves that
nothing is refused here that the study itself would accept.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

from experiments.runner import overrides
from toys.engine.config import Rule, check_fields, rule_of

INDEX = Path(__file__).parent.parent / "studies" / "settings.json"


def _text(annotation) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


# the annotations a settable field may have, by the text the index stores
ANNOTATIONS = {
    _text(kind): kind
    for kind in (
        bool,
        int,
        float,
        str,
        float | None,
        int | None,
        str | None,
        tuple[int, ...],
        tuple[float, ...],
        tuple[str, ...],
        tuple[int, int],
    )
}


def _annotation_text(annotation) -> str:
    text = _text(annotation)
    if text not in ANNOTATIONS:
        raise TypeError(f"settings index: no entry for the annotation {text!r}; add it to ANNOTATIONS")
    return text


_PLAIN = dataclasses.asdict(Rule())


def _tree(config) -> dict:
    """{field: {"type", "default", "rule"} or {"group": subtree, "follows"}} of a config dataclass
    instance, in declaration order."""
    hints = typing.get_type_hints(type(config))
    tree = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            tree[field.name] = {"group": _tree(value), "follows": getattr(type(value), "FOLLOWS", {})}
            continue
        rule = rule_of(field)
        tree[field.name] = {"type": _annotation_text(hints[field.name]), "default": list(value) if isinstance(value, tuple) else value}
        if rule is not None:  # the rule's fields that differ from Rule's defaults
            tree[field.name]["rule"] = {
                key: list(v) if isinstance(v, tuple) else v for key, v in dataclasses.asdict(rule).items() if v != _PLAIN[key]
            }
    return tree


def entry(study) -> dict:
    """The index entry of one study (`experiments.runner.study.Study`)."""
    return {
        "full": _tree(study.Config()),
        "quick": _tree(study.Config.quick()),
        "follows": getattr(study.Config, "FOLLOWS", {}),
        "rescorable": study.evaluation_source is not None,
    }  # `toylab evaluate` can rebuild its toy


def build() -> dict:
    """The index of every registered study (imports them all)."""
    from experiments.runner import registry

    return {name: entry(registry.get(name)) for name in registry.EXPERIMENTS}


def _rebuild(tree: dict, follows: dict, name: str = "Settings"):
    """A frozen dataclass instance standing in for the study's config: same fields, types,
    defaults, rules and FOLLOWS."""
    fields = []
    for field, spec in tree.items():
        if "group" in spec:
            value = _rebuild(spec["group"], spec.get("follows", {}), field)
            fields.append((field, type(value), dataclasses.field(default=value)))
            continue
        annotation = ANNOTATIONS[spec["type"]]
        default = tuple(spec["default"]) if isinstance(spec["default"], list) else spec["default"]
        metadata = {}
        if "rule" in spec:
            metadata["rule"] = Rule(**{key: tuple(v) if isinstance(v, list) else v for key, v in spec["rule"].items()})
        fields.append((field, annotation, dataclasses.field(default=default, metadata=metadata)))
    cls = dataclasses.make_dataclass(name, fields, frozen=True, namespace={"FOLLOWS": follows})
    return cls()


def _index() -> dict:
    try:
        return json.loads(INDEX.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no index (a partial checkout): callers fall back to the studies themselves


def settings(name: str, quick: bool):
    """The study's settings (its Config's fields, defaults and rules) as a plain frozen dataclass,
    without importing the study; None when the study is not in the index."""
    index = _index()
    if name not in index:
        return None
    return _rebuild(index[name]["quick" if quick else "full"], index[name]["follows"])


def rescorable() -> tuple[str, ...]:
    """The studies whose runs `toylab evaluate` can re-score (they rebuild their toy from the saved
    config: `Study.evaluation_source`), without importing them."""
    index = _index()
    if not index:
        from experiments.runner import registry

        return tuple(name for name in registry.EXPERIMENTS if registry.get(name).evaluation_source is not None)
    return tuple(name for name, spec in index.items() if spec["rescorable"])


def _check_tree(config, prefix: str = "") -> None:
    """Every rule of every level: a level's fixed rules, then its groups, then its rules bounded by
    other fields (`k ≤ toy.d · min(size_ratios)` is judged once `toy.d` itself is known good)."""
    check_fields(config, prefix, relative=(False,))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            _check_tree(value, f"{prefix}{field.name}.")
    check_fields(config, prefix, relative=(True,))


def check(name: str, quick: bool, seed: int | None, assignments: list[str]) -> None:
    """Refuse (ConfigError, the study's own one line) what the declared rules of `name`'s config
    refuse, without importing the study; nothing when the study is not in the index (its own
    checks still run)."""
    config = settings(name, quick)
    if config is not None:
        _check_tree(overrides.with_command_line(config, seed, assignments))


def check_saved(name: str, values: dict) -> None:
    """Refuse a run's saved settings (config.json's "config") as the study would — unknown keys,
    types (`overrides.from_dict`), declared rules — without importing it; nothing when the study
    is not in the index."""
    config = settings(name, quick=False)
    if config is not None:
        _check_tree(overrides.from_dict(type(config), values))


def serialise(index: dict) -> str:
    """The file's text: fields in declaration order (the order `check_fields` checks them)."""
    return json.dumps(index, indent=1) + "\n"


def main() -> None:
    INDEX.write_text(serialise(build()), encoding="utf-8")
    print(f"wrote {INDEX}")


if __name__ == "__main__":
    main()
