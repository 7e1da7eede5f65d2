"""Fuzz of what `evaluate`, `runs` and `report` read from disk, and of `--out` paths.

Saved folders: one JSON value of a finished run (its config.json, status.json, or a saved
dictionary's cfg.json) is replaced by an arbitrary JSON value. `evaluate` then scores the run
or refuses it with one line and exit code 2, writing nothing; `runs` and `report` always finish
and list the run (as "unreadable" where its records cannot be read). Never a traceback.

Paths: an `--out` built from hostile parts — names past NAME_MAX, paths past PATH_MAX,
symbolic-link loops, dangling links, files, read-only folders — is either usable (a folder is
then really made there) or refused with one line, nothing created.
"""

import json
import os
import shutil

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from experiments.runner import cli, records, runfolder
from toys.engine.config import ConfigError

TINY = [
    "--set",
    "toy.n_features=12",
    "--set",
    "toy.d=6",
    "--set",
    "toy.mean_l0=1",
    "--set",
    "sizes=8",
    "--set",
    "k=2",
    "--set",
    "steps=20",
    "--set",
    "batch_size=32",
    "--set",
    "heatmap_size=8",
    "--set",
    "n_seeds=1",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.integers(10**18, 10**400)
    | st.sampled_from([1e300, -1e300, 2**63, "true", "1e999"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert cli.main(["run", "superposition", "--quick", "--out", str(out), *TINY]) == 0
    return next((out / "superposition").iterdir())


def _paths(value, prefix=()):
    """Every (key path) of a JSON object, nested objects included."""
    for key, inner in value.items():
        yield (*prefix, key)
        if isinstance(inner, dict):
            yield from _paths(inner, (*prefix, key))


def _replace(document: dict, path: tuple, value) -> dict:
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


FILES = ["config.json", "status.json", "dictionaries/topk-8-seed0/cfg.json"]


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sampled_from(FILES), st.data(), json_values)
def test_an_edited_saved_value_is_scored_or_refused_in_one_line(finished_run, tmp_path_factory, capsys, name, data, value):
    out = tmp_path_factory.mktemp("edited")
    copy = out / "superposition" / finished_run.name
    shutil.copytree(finished_run, copy)
    path = copy / name
    document = json.loads(path.read_text())
    key_path = data.draw(st.sampled_from(sorted(_paths(document))), label="key")
    path.write_text(json.dumps(_replace(document, key_path, value)))
    written = copy / "dictionaries" / "results.json"

    capsys.readouterr()
    code = cli.main(["evaluate", str(copy)])
    error = capsys.readouterr().err.strip()
    event(f"evaluate exit {code}")
    assert code in (0, 2)
    assert "Traceback" not in error, error
    if code == 2:
        assert not written.exists()
        # refused in one line that names what was wrong, and the file it was read from or its field
        assert error.startswith("toylab: error: ") and "\n" not in error, error
    # the listing never fails, and always names the run
    rows = records.run_rows(out)
    assert [row["run"] for row in rows] == [finished_run.name]
    assert cli.main(["report", str(out)]) == 0
    assert finished_run.name in (out / "report" / "index.html").read_text()


def test_an_edited_value_refused_by_evaluate_prints_one_line(finished_run, tmp_path, capsys):
    # the one-line form, on one edit the fuzz above reaches (a count given as text)
    copy = tmp_path / "superposition" / finished_run.name
    shutil.copytree(finished_run, copy)
    path = copy / "dictionaries" / "topk-8-seed0" / "cfg.json"
    path.write_text(json.dumps(_replace(json.loads(path.read_text()), ("d_sae",), "many")))
    capsys.readouterr()
    assert cli.main(["evaluate", str(copy)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("toylab: error: ") and "\n" not in error, error


PART = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=12),
    st.integers(250, 300).map(lambda n: "x" * n),  # around NAME_MAX
    st.sampled_from(["loop", "dangling", "file", "readonly", "..", "."]),
)


@settings(max_examples=60)
@given(st.lists(PART, min_size=1, max_size=4), st.sampled_from([0, 1, 20]))
@example(["x" * 256, "\n"], 0)  # found by this test: a newline in the path split the one-line message
def test_any_out_path_is_usable_or_refused_in_one_line(tmp_path_factory, parts, repeat):
    base = tmp_path_factory.mktemp("out")
    (base / "loop").symlink_to(base / "loop")
    (base / "dangling").symlink_to(base / "missing")
    (base / "file").write_text("")
    (base / "readonly").mkdir()
    os.chmod(base / "readonly", 0o555)
    before = sorted(base.rglob("*"))
    text = str(base.joinpath(*parts)) + "/deep" * repeat * 200  # repeat 20: past PATH_MAX
    try:
        try:
            path = runfolder.check_out_dir(text)
        except ConfigError as error:
            event("refused")
            assert "\n" not in str(error) and str(error).startswith("--out: ")
            assert sorted(base.rglob("*")) == before  # refused: nothing created
            return
        # accepted: a run folder can really be made there (root ignores 0o555: can_create_in tries)
        event("accepted")
        folder = runfolder.new_run_folder(path, "probe", 0, True)
        assert folder.is_dir()
    finally:
        os.chmod(base / "readonly", 0o755)


# whole-file replacements: what a hostile folder puts where a record should be
SPECIAL = {
    "a FIFO": lambda path: os.mkfifo(path),
    "a directory": lambda path: path.mkdir(),
    "a link to /dev/zero": lambda path: path.symlink_to("/dev/zero"),
    "empty": lambda path: path.write_bytes(b""),
    "not UTF-8": lambda path: path.write_bytes(b"\xff\xfe{"),
    "nested 100,000 deep": lambda path: path.write_text("[" * 100_000 + "]" * 100_000),
    "an integer of 401 digits": lambda path: path.write_text('{"x": ' + "7" * 401 + "}"),
    "a float past float64": lambda path: path.write_text('{"x": 1e999}'),
}


@settings(
    max_examples=16, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(st.sampled_from(FILES + ["results.json"]), st.sampled_from(sorted(SPECIAL)))
def test_a_special_file_where_a_record_should_be_is_refused_or_listed_never_hangs(finished_run, tmp_path_factory, name, kind):
    import signal as signals

    out = tmp_path_factory.mktemp("special")
    copy = out / "superposition" / finished_run.name
    shutil.copytree(finished_run, copy)
    (copy / name).unlink()
    SPECIAL[kind](copy / name)
    event(f"{name}: {kind}")

    def hang(signum, frame):
        raise TimeoutError(f"{name} as {kind}: a command blocked")

    previous = signals.signal(signals.SIGALRM, hang)
    signals.alarm(60)
    try:
        code = cli.main(["evaluate", str(copy)])
        assert code in (0, 2)
        rows = records.run_rows(out)
        assert [row["run"] for row in rows] == [finished_run.name]
        assert cli.main(["report", str(out)]) == 0
    finally:
        signals.alarm(0)
        signals.signal(signals.SIGALRM, previous)
