"""What `toylab run NAME --help` prints: every settable key with its type, default, allowed
range or choices, and a one-line description.

Nothing is written twice: the description is the comment on the field's line in the
config dataclass (or the line above it), and the allowed range is read from the
`check_range` / `check_each` / `check_choice` calls of the config's `validate()` (their
source, parsed with `ast`). A key whose rule lives elsewhere says "see validate()".
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import textwrap
import tokenize
import typing


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


def _field_comments(cls) -> dict[str, str]:
    """{field: comment} from the class body: a trailing `# …` or a comment line just above."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments, pending = {}, []
    lines = source.splitlines()
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    trailing = {tok.start[0]: tok.string.lstrip("# ").strip() for tok in tokens if tok.type == tokenize.COMMENT}
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("# ").strip())
            continue
        name = stripped.split(":", 1)[0].strip()
        if ":" in stripped and name.isidentifier() and not stripped.startswith(("def ", "class ", "@", "return")):
            comments[name] = trailing.get(number) or " ".join(pending)
        pending = []
    return comments


def _value(expression: ast.expr, config, namespace: dict) -> str:
    """The expression's value for this config when it can be computed (module constants,
    self.fields, min(…)), else its source text."""
    text = ast.unparse(expression)
    try:
        value = eval(compile(ast.Expression(expression), "<validate>", "eval"), dict(namespace), {"self": config})
    except Exception:  # a local of validate(), for instance: show the source
        return text.replace("self.", "")
    if isinstance(value, (tuple, list)):
        return ", ".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _rules(config) -> dict[str, str]:
    """{field: allowed range or choices} from the check_* calls in config.validate."""
    cls = type(config)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls.validate)))
    except (OSError, TypeError, SyntaxError):
        return {}
    namespace = vars(inspect.getmodule(cls))
    rules = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
            continue
        kind = node.func.id
        if kind not in ("check_range", "check_each", "check_choice"):
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            name = first.value
        elif isinstance(first, ast.BinOp) and isinstance(first.right, ast.Constant):  # prefix + "name"
            name = first.right.value
        else:
            continue
        keywords = {k.arg: _value(k.value, config, namespace) for k in node.keywords}
        if kind == "check_choice":
            choices = _value(node.args[2], config, namespace) if len(node.args) > 2 else "?"
            rules[name] = f"one of {choices}"
            continue
        left = "(" if keywords.get("low_open") == "True" else "["
        right = ")" if keywords.get("high_open") == "True" else "]"
        low, high = keywords.get("low", "-inf"), keywords.get("high", "inf")
        rule = f"{left}{low}, {high}{right}".replace("[-inf", "(-inf").replace("inf]", "inf)")
        rules[name] = ("each in " if kind == "check_each" else "") + rule
    return rules


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
    comments, rules = _field_comments(cls), _rules(config)
    rows = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            rows += describe(value, prefix + field.name + ".")
            continue
        default = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        rows.append({
            "key": prefix + field.name,
            "type": _type_name(hints[field.name]),
            "default": default,
            "allowed": rules.get(field.name, "true or false" if hints[field.name] is bool else "see validate()"),
            "description": comments.get(field.name) or GLOSSARY.get(field.name, ""),
        })
    return rows


def help_text(experiment, quick: bool = False) -> str:
    config = experiment.Config.quick() if quick else experiment.Config()
    rows = describe(config)
    widths = {column: max(len(column), *(len(row[column]) for row in rows)) for column in ("key", "type", "default")}
    widths["default"] = min(widths["default"], 28)
    header = (f"{'key':<{widths['key']}}  {'type':<{widths['type']}}  {'default':<{widths['default']}}  "
              f"allowed  — description")
    lines = [f"toylab run {experiment.name}: {experiment.description}",
             f"settable keys (--set key=value; lists comma separated; defaults of the {'quick' if quick else 'full'} "
             f"variant{'' if quick else ', --quick changes some'}):", "", header, "-" * len(header)]
    for row in rows:
        default = row["default"] if len(row["default"]) <= widths["default"] else row["default"][: widths["default"] - 1] + "…"
        description = f" — {row['description']}" if row["description"] else ""
        lines.append(f"{row['key']:<{widths['key']}}  {row['type']:<{widths['type']}}  {default:<{widths['default']}}  "
                     f"{row['allowed']}{description}")
    return "\n".join(lines)
