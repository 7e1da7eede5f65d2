"""`toylab report [OUT]`: a static HTML page of every run under OUT, OUT/report/index.html.

No server and no network: links and images are paths relative to the page, so the
folder can be opened, copied or archived as it is. The page holds the runs table of
`toylab runs`, then per run its files, its config (settings that differ from the
experiment's defaults highlighted), its results table (`experiments.runner.table`, averaged over
seeds, beside chance), its summary (summary.txt) and its figures. Rendered
with Jinja2 from `experiments/runner/templates/report.html.j2` (autoescaped).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import urllib.parse
from pathlib import Path

import jinja2

from experiments.runner import records, registry, runfolder, settings_index, table
from toys.engine import guarded

TEMPLATE = "report.html.j2"


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return flat


def _defaults(experiment_name: str, quick: bool) -> dict:
    """The study's default settings, flattened: from the settings index (no study, and no JAX, to
    import), else from the study's Config."""
    if experiment_name not in registry.EXPERIMENTS:
        return {}
    default = settings_index.settings(experiment_name, quick)
    if default is None:
        config_class = registry.get(experiment_name).Config
        default = config_class.quick() if quick else config_class()
    return _flatten(json.loads(json.dumps(dataclasses.asdict(default))))


def _summary(path: Path) -> str:
    """A run's summary.txt through the guarded reader ("" when it cannot be read)."""
    try:
        return guarded.read_bytes(path, "summary.txt", limit=guarded.MAX_JSON_BYTES).decode("utf-8", "replace")
    except guarded.GuardedReadError:
        return ""


REPORT_TABLE_LINES = 400  # lines of a run's results table shown on the page (the rest stay in results.json)


def _table(folder: Path) -> tuple[list[dict], int]:
    """A run's results table (`experiments.runner.table`), averaged over seeds, as the page shows it:
    (lines, how many were left out); nothing when results.json is absent, unreadable or has no table."""
    path = folder / "results.json"
    if not path.is_file():
        return [], 0
    try:
        rows = table.read(guarded.read_json(path, "results.json"))
    except (guarded.GuardedReadError, ValueError, TypeError, AttributeError):
        return [], 0
    units = {(row.arm, row.size, row.reader, row.metric, row.coordinates()): row.unit for row in rows}
    show = lambda value: "—" if value is None else f"{value:.4g}"  # noqa: E731
    lines = [
        {
            "arm": arm,
            "size": "" if size is None else size,
            "reader": reader,
            "metric": metric,
            "setting": " ".join(f"{name}={value}" for name, value in setting),
            "unit": units[(arm, size, reader, metric, setting)],
            "n": summary["n"],
            "value": show(summary["mean"])
            if summary["n"] == 1
            else f"{show(summary['mean'])} [{show(summary['min'])}, {show(summary['max'])}]",
            "chance": show(summary["chance"]),
        }
        for (arm, size, reader, metric, setting), summary in table.mean_over_seeds(rows).items()
    ]
    return lines[:REPORT_TABLE_LINES], max(len(lines) - REPORT_TABLE_LINES, 0)


def _run_entry(row: dict, page_folder: Path) -> dict:
    folder = Path(row["folder"])
    # percent-encoded, so that names with #, ?, % or spaces still link (autoescape handles the HTML)
    relative = lambda path: urllib.parse.quote(os.path.relpath(path, page_folder))  # noqa: E731
    written = {}
    config_path = folder / "config.json"
    if os.path.lexists(config_path):
        try:
            written = guarded.read_json(config_path, "config.json")
        except guarded.GuardedReadError:
            written = {}
    if not isinstance(written, dict):  # an unreadable run (records.run_rows) still gets its section
        written = {}
    quick = bool(written.get("quick", False))
    values = _flatten(written.get("config", {})) if isinstance(written.get("config"), dict) else {}
    defaults = _defaults(row["experiment"], quick)
    config = [(key, value, defaults.get(key, "—")) for key, value in values.items()]
    summary_path = folder / "summary.txt"
    lines, left_out = _table(folder)
    figures = sorted((folder / "figures").glob("*.png")) if (folder / "figures").is_dir() else []
    files = [
        (name, relative(folder / name))
        for name in ("results.json", "config.json", "status.json", "summary.txt", "arrays.npz")
        if (folder / name).exists()
    ]
    if (folder / "dictionaries").is_dir():
        files.append(("dictionaries/", relative(folder / "dictionaries")))
    return {
        **row,
        "anchor": f"{row['experiment']}-{row['run']}",
        "anchor_href": urllib.parse.quote(f"{row['experiment']}-{row['run']}"),
        "quick": quick,
        "config": config,
        "changed": {key for key, value, default in config if default not in ("—", value)},
        "summary": _summary(summary_path),
        "figures": [(path.name, relative(path)) for path in figures],
        # interactive figures (self-contained HTML a study writes beside its PNGs), shown in a frame
        "interactive": [(path.name, relative(path)) for path in sorted((folder / "figures").glob("*.html"))]
        if (folder / "figures").is_dir()
        else [],
        "files": files,
        "table": lines,
        "table_left_out": left_out,
    }


def render(out: Path, report=lambda what, done, total: None) -> str:
    """The report's HTML for the runs under `out` (links relative to out/report/); report(what,
    done, total) after each run read (`toys.engine.progress.Progress.counter`)."""
    out = Path(out)
    page_folder = out / "report"
    rows = [row for row in records.run_rows(out) if Path(row["folder"]).parent.name != "report"]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    runs = []
    for row in rows:
        runs.append(_run_entry(row, page_folder))
        report("runs read", len(runs), len(rows))
    return environment.get_template(TEMPLATE).render(
        out=str(out),
        rows=rows,
        runs=runs,
        written=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write(out: Path, report=lambda what, done, total: None) -> Path:
    """Write out/report/index.html atomically; returns its path. ConfigError (nothing written) when
    out/report is there but not a folder, or index.html is there but not a file."""
    from toys.engine.config import ConfigError

    path = Path(out) / "report" / "index.html"
    if path.parent.exists() and not path.parent.is_dir():
        raise ConfigError(f"OUT: {path.parent} exists and is not a folder; move it to write the report")
    if path.exists() and not path.is_file():
        raise ConfigError(f"OUT: {path} exists and is not a file; move it to write the report")
    if not runfolder.can_create_in(path.parent if path.parent.is_dir() else Path(out)):  # before reading every run
        raise ConfigError(f"OUT: {runfolder.shown_path(str(path.parent))} cannot be written (the report goes there)")
    runfolder.write_text(path, render(out, report))
    return path
