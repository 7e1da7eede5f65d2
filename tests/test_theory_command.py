"""`toylab theory`: the table, results.json and figures; a failing claim exits 1; every claim is tested."""

import json
import re
from pathlib import Path

from experiments import theory as theory_command
from experiments.runner import cli
from theory import absorption, catalogue, clock
from theory.claims import Claim, compare


def _shrink(monkeypatch, topics):
    monkeypatch.setattr(theory_command, "TOPICS", topics)
    monkeypatch.setattr(theory_command, "TRADEOFF_SIZES", {"circle": [4, 8], "sphere": [6, 12], "torus": [8, 12]})


def test_theory_writes_the_claims_table_and_figures(tmp_path, monkeypatch, capsys):
    _shrink(monkeypatch, {"modular clock": clock.CLAIMS, "absorption": absorption.CLAIMS})
    assert cli.main(["theory", "--quick", "--out", str(tmp_path)]) == 0
    (folder,) = (tmp_path / "theory").iterdir()
    results = json.loads((folder / "results.json").read_text())
    assert [row["id"] for row in results["claims"]] == ["ideal_clock", "absorption_l1_saving", "matryoshka_preference"]
    for row in results["claims"]:
        assert {"id", "statement", "predicted", "measured", "holds", "source", "relation"} <= set(row)
        assert row["holds"] and compare(row["predicted"], row["measured"], row["relation"], row["tolerance"])
    assert results["all_hold"]
    assert sorted(path.name for path in (folder / "figures").iterdir()) == [
        "coherence.png",
        "compatible_structures.png",
        "paley_zygmund.png",
    ]
    printed = capsys.readouterr().out
    assert "3 of 3 claims hold" in printed and "matryoshka_preference" in printed


def test_a_failing_claim_is_reported_and_exits_1(tmp_path, monkeypatch, capsys):
    wrong = Claim(
        id="one_is_two",
        statement="1 = 2",
        source="nobody",
        relation="=",
        predict=lambda inst: 2.0,
        measure=lambda inst: 1.0,
        instance=lambda quick, seed: {},
        describe=lambda inst: "",
    )
    _shrink(monkeypatch, {"wrong": [wrong]})
    assert cli.main(["theory", "--quick", "--out", str(tmp_path)]) == 1
    (folder,) = (tmp_path / "theory").iterdir()
    results = json.loads((folder / "results.json").read_text())
    assert results["all_hold"] is False and results["claims"][0]["holds"] is False
    assert "FAILING: one_is_two" in capsys.readouterr().out


def test_every_claim_has_a_property_test_and_a_statement():
    tests = "".join(path.read_text() for path in Path(__file__).parent.glob("test_theory_*.py"))
    mentioned = set(re.findall(r'"([a-z0-9_]+)"', tests))
    for claim in catalogue.CLAIMS:
        assert claim.statement and claim.source, claim.id
        # the compatible-structure claims are named f"{structure}_exact_sparse_code"
        assert claim.id in mentioned or claim.id.endswith("_exact_sparse_code"), f"no test names {claim.id}"
