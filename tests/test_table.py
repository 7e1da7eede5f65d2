"""The results table (experiments.runner.table): its rows refuse what is not a number, chance is the
chance arm's mean at the same size, and the summary, headline, panels and report read the table —
shown by editing a written table and seeing each of them change."""

import json

import numpy as np
import pytest
import test_sphere_run  # a sibling test module: the tiny sphere settings
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.recovery import headline
from experiments.runner import cli, panels, report, table
from experiments.studies import sphere

# the sphere run test's tiny settings with its last two (steps, batch size) replaced: the table, not the recovery
TINY_SPHERE = [*test_sphere_run.TINY_SPHERE[:-4], "--set", "steps=60", "--set", "batch_size=64"]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"value": float("nan")}, "value: got nan"),
        ({"chance": float("inf")}, "chance: got inf"),
        ({"value": "0.5"}, "value: got str"),
        ({"size": -1}, "size: got -1"),
        ({"seed": 1.5}, "seed: got 1.5"),
        ({"arm": ""}, "arm must be a non-empty string"),
        ({"setting": {"k": [1]}}, "setting must map names to strings or numbers"),
        ({"setting": "k=1"}, "setting must map names to strings or numbers"),
    ],
)
def test_a_row_refuses_what_is_not_a_number_naming_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        table.Row(**{"arm": "topk", "metric": "mmcs", "value": 0.5, **fields})


def test_rows_with_the_same_key_and_a_table_of_another_shape_are_refused():
    row = table.Row("topk", "mmcs", 0.5, size=16, seed=0)
    with pytest.raises(ValueError, match="two rows"):
        table.to_json([row, row])
    written = table.to_json([row])
    assert table.read({"table": written}) == [row]
    with pytest.raises(ValueError, match=r"table\[0\]"):
        table.read({"table": [{**written[0], "extra": 1}]})


def test_chance_is_the_chance_arms_mean_at_the_same_size():
    entries = [{"kind": "random", "size": 16, "seed": s, "metrics": {"mmcs": v, "nested": {"a": 1}}} for s, v in enumerate((0.2, 0.4))]
    entries += [
        {"kind": "random", "size": 32, "seed": 0, "metrics": {"mmcs": 0.9}},
        {"kind": "topk", "size": 16, "seed": 0, "metrics": {"mmcs": 0.8, "live": True}},
    ]
    rows = table.from_entries(entries)
    (trained,) = table.select(rows, arm="topk")  # the bool and the nested dict are not numbers of the table
    assert trained.chance == pytest.approx(0.3) and trained.value == 0.8
    assert table.select(rows, arm="random", size=32)[0].chance == 0.9
    tagged = table.from_entries(entries, setting=lambda entry: {"k": 2, "circle": f"c{entry['size']}"})
    assert {row.size for row in table.select(tagged, {"circle": "c32"})} == {32} and not table.select(tagged, {"k": 3})
    summary = table.mean_over_seeds(rows)[("random", 16, table.STREAMED, "mmcs", ())]
    assert (summary["mean"], summary["min"], summary["max"], summary["n"]) == (pytest.approx(0.3), 0.2, 0.4, 2)


def test_a_standard_study_reads_its_summary_headline_panels_and_report_from_the_table(tmp_path):
    assert cli.main(["run", "sphere", "--quick", "--out", str(tmp_path), *TINY_SPHERE]) == 0
    (folder,) = (tmp_path / "sphere").iterdir()
    results = json.loads((folder / "results.json").read_text())
    rows = table.read(results)
    # every dictionary's every streamed metric is a row, graders' rows named as such, chance beside each
    assert len(table.select(rows, metric="mmcs")) == len(results["dictionaries"])
    assert {row.reader for row in table.select(rows, metric="sphere_latents")} == {"grader"}
    random_16 = np.mean([e["metrics"]["mmcs"] for e in results["dictionaries"] if e["kind"] == "random" and e["size"] == 16])
    assert all(row.chance == pytest.approx(random_16) for row in table.select(rows, metric="mmcs", size=16))

    # edit the table, not the entries: what reads it must move with it
    edited = [table.Row(**{**row.__dict__, "value": 0.123456}) if (row.arm, row.metric) == ("topk", "mmcs") else row for row in rows]
    results["table"] = table.to_json(edited)
    assert "0.123" in sphere.STUDY.summary(results) and "MMCS 0.123 topk" in headline(results)
    sizes, means, _, _ = panels.by_kind_and_size(table.read(results), "mmcs")["topk"]
    assert sizes == [16, 32] and means == [pytest.approx(0.123456)] * 2
    (folder / "results.json").write_text(json.dumps(results))
    page = report.render(tmp_path)
    assert "results table" in page and "0.1235" in page


def test_every_study_returns_a_results_table():
    # the runner refuses a run whose table is empty (every study's run test goes through it); this
    # reads each study's run for the table it hands over
    import inspect

    from experiments.runner import registry

    without = set()
    for name in registry.EXPERIMENTS:
        source = inspect.getsource(inspect.getmodule(registry.get(name).run))
        if "table=" not in source:
            without.add(name)
    assert without == set()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from([*table.FIELDS, "x"]), inner, max_size=10),
    max_leaves=12,
)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(
    st.one_of(
        JSON,
        st.lists(st.fixed_dictionaries({name: JSON for name in table.FIELDS}), max_size=3),
    )
)
def test_any_hand_edited_table_reads_as_rows_or_is_one_value_error(value):
    # the one reader of a results.json table (report, evaluate): rows, or a ValueError naming the place
    try:
        rows = table.read({"table": value})
    except ValueError as error:
        assert "\n" not in str(error) and str(error).startswith(("results.json: table", "table row"))
        return
    assert all(isinstance(row, table.Row) for row in rows)
    if len({row.key() for row in rows}) == len(rows):  # what reads also writes back unchanged
        assert table.read({"table": table.to_json(rows)}) == rows


def test_the_text_table_lists_only_the_lines_that_hold_its_metrics():
    rows = [
        table.Row("topk", "mmcs", 0.5, size=8, seed=0),
        table.Row("topk", "mmcs", 0.7, size=8, seed=1),
        table.Row("topk", "symptom_gap", 0.1, size=8, seed=0, reader="edge absorption", setting={"parent": 0}),
        table.Row("linkage", "edge_recall", 0.2, reader="splitting ladder"),
    ]
    lines = table.text(rows, ("mmcs", "l0")).splitlines()
    assert len(lines) == 4  # header, rule, one line, the seed count
    assert lines[2].split() == ["topk", "8", "0.600", "—"]
    assert "parent" not in table.text(rows, ("mmcs",)) and "linkage" not in table.text(rows, ("mmcs",))
