"""Store a `toylab run circle-null` run's null as a stratum of `sae/readers/circle_null.json`.

    .venv/bin/python tools/store_circle_null.py RUN_FOLDER [--source TEXT]

The run's `results.json` `record` (its stratum, seed, learning rate and per-cell, per-k top
evidences) replaces the stored stratum with the same steps, batch size and sample count, or is
added beside the others. The file is what `sae.readers.manifold_ranking.stored_null` reads;
`tests/test_circle_null_reproduced.py` recomputes a slice of each stratum with the current code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sae.readers import manifold_ranking


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished circle-null run folder")
    parser.add_argument("--source", default="", help="how the run was made (command, commit, machine)")
    args = parser.parse_args(argv)
    results_path = args.run / "results.json"
    if not results_path.is_file():
        print(f"store_circle_null: {results_path}: no results.json (the run did not finish)", file=sys.stderr)
        return 2
    record = json.loads(results_path.read_text(encoding="utf-8")).get("record")
    if not isinstance(record, dict) or "stratum" not in record:
        print(f"store_circle_null: {results_path}: no null record (not a circle-null run)", file=sys.stderr)
        return 2
    record = {**record, "source": args.source or str(args.run)}
    path = manifold_ranking.NULL_FILE
    stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"strata": []}
    stored["strata"] = [s for s in stored["strata"] if s["stratum"] != record["stratum"]] + [record]
    path.write_text(json.dumps(stored, indent=1) + "\n", encoding="utf-8")
    print(f"stored stratum {record['stratum']} ({len(record['cells'])} cells) in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
