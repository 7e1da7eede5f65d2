"""What `toylab run NAME --help` prints: every settable key with its type, default, allowed
range or choices, and a one-line description.

Nothing is written twice and no source is read: the description and the allowed values are
the field's own declaration (`toys.engine.config.setting`: its doc and its `Rule`), the same
declaration `check_fields` enforces. Fields that mean the same in every study may leave the
doc out; the glossary below gives it.
"""

from __future__ import annotations

import dataclasses
import typing

from toys.engine.config import doc_of, rule_of

UNDECLARED = "undeclared"  # a field declared without `setting` (the registry's test refuses it)

# Fields that mean the same in every experiment are documented once, here.
GLOSSARY = {
    "seed": "master seed: every key of the run derives from it",
    "n_seeds": "seeds trained together (one vmapped call)",
    "kinds": "architectures trained",
    "sizes": "dictionary sizes m",
    "k": "active latents per sample (TopK/BatchTopK; baselines are read with it too)",
    "l1_coefficient": "λ of the L1 penalty (ReLU-type architectures)",
    "l0_coefficient": "λ of the L0 penalty (JumpReLU)",
    "learning_rate": "Adam learning rate",
    "steps": "training steps",
    "batch_size": "samples per training step",
    "n_eval": "fresh samples every dictionary is scored on",
    "aux_coefficient": "α of the AuxK dead-latent loss (architectures with AuxK; 0: off)",
}


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return f"list of {typing.get_args(annotation)[0].__name__}"
    if origin is not None:
        return " | ".join(getattr(a, "__name__", str(a)) for a in typing.get_args(annotation))
    return getattr(annotation, "__name__", str(annotation))


def describe(config, prefix: str = "") -> list[dict]:
    """One row per settable key of a (nested) config: key, type, default, allowed, description."""
    cls = type(config)
    hints = typing.get_type_hints(cls)
    rows = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            rows += describe(value, prefix + field.name + ".")
            continue
        default = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        rule = rule_of(field)
        if rule is not None:
            allowed = rule.describe(config, is_tuple=isinstance(value, tuple))
        else:
            allowed = "true or false" if hints[field.name] is bool else UNDECLARED
        rows.append(
            {
                "key": prefix + field.name,
                "type": _type_name(hints[field.name]),
                "default": default,
                "allowed": allowed,
                "description": doc_of(field) or GLOSSARY.get(field.name, ""),
            }
        )
    return rows


def help_text(experiment, quick: bool = False) -> str:
    config = experiment.Config.quick() if quick else experiment.Config()
    rows = describe(config)
    widths = {column: max(len(column), *(len(row[column]) for row in rows)) for column in ("key", "type", "default")}
    widths["default"] = min(widths["default"], 28)
    header = f"{'key':<{widths['key']}}  {'type':<{widths['type']}}  {'default':<{widths['default']}}  allowed  — description"
    lines = [
        f"toylab run {experiment.name}: {experiment.description}",
        f"settable keys (--set key=value; lists comma separated; defaults of the {'quick' if quick else 'full'} "
        f"variant{'' if quick else '; --quick changes some: `--help --quick` shows its defaults'}):",
        "",
        header,
        "-" * len(header),
    ]
    for row in rows:
        whole = len(row["default"]) <= widths["default"]
        default = row["default"] if whole else "(below)"
        description = f" — {row['description']}" if row["description"] else ""
        lines.append(
            f"{row['key']:<{widths['key']}}  {row['type']:<{widths['type']}}  {default:<{widths['default']}}  {row['allowed']}{description}"
        )
        if not whole:  # a long default in full on its own line, never cut
            lines.append(f"{'':<{widths['key']}}  default: {row['default']}")
    return "\n".join(lines)
