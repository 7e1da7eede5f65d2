"""Run records and reliability: status.json, summary.txt, file modes, Ctrl-C / SIGTERM,
`toylab runs`, and bad input of every kind (one line, exit 2, nothing written), fuzzed."""

import json
import os
import signal
import subprocess
import sys
import time
from unittest import mock

import pytest
from cli_args import sets
from hypothesis import given
from hypothesis import strategies as st

from experiments.runner import cli, overrides, records, registry, runfolder, settings_index
from toys.engine import files
from toys.engine.config import ConfigError

TINY = sets("toy.n_features=16", "toy.d=8", "toy.mean_l0=1", "sizes=16,32", "k=2", "steps=60", "batch_size=64")


def _only_run(tmp_path, name="superposition"):
    (folder,) = (tmp_path / name).iterdir()
    return folder


def test_a_finished_run_records_its_state_duration_summary_and_modes(tmp_path, capsys):
    assert cli.main(["run", "superposition", "--quick", "--out", str(tmp_path), *TINY]) == 0
    printed = capsys.readouterr().out
    folder = _only_run(tmp_path)
    status = json.loads((folder / "status.json").read_text())
    assert status["state"] == "finished" and status["duration_s"] > 0 and status["ended"] >= status["started"]
    assert {"host", "device", "command", "pid"} <= set(status)
    results = json.loads((folder / "results.json").read_text())
    assert results["duration_s"] > 0
    summary = (folder / "summary.txt").read_text()
    assert summary.strip() and summary.strip() in printed
    expected = files.file_mode()
    for path in (folder / "results.json", folder / "status.json", folder / "summary.txt", folder / "config.json"):
        assert os.stat(path).st_mode & 0o777 == expected, path


def test_a_diverged_run_is_recorded_and_listed(tmp_path, capsys):
    argv = ["run", "superposition", "--quick", "--out", str(tmp_path), *TINY, "--set", "toy.noise_std=1e30"]
    assert cli.main(argv) == 1
    status = json.loads((_only_run(tmp_path) / "status.json").read_text())
    assert status["state"] == "diverged" and status["step"] == 0 and "NaN/inf" in status["error"]
    (row,) = records.run_rows(tmp_path)
    assert row["state"] == "diverged"


def _start(tmp_path, *extra):
    argv = [
        sys.executable,
        "-m",
        "experiments.runner.entry",
        "run",
        "superposition",
        "--quick",
        "--out",
        str(tmp_path),
        *TINY[:-4],
        "--set",
        "steps=2000000",
        "--set",
        "batch_size=64",
        *extra,
    ]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_within_a_second_with_one_line(tmp_path, signum):
    process = _start(tmp_path)
    deadline = time.time() + 120
    folder = None
    while time.time() < deadline:  # wait until training has recorded a step
        runs = list((tmp_path / "superposition").glob("*/status.json")) if (tmp_path / "superposition").exists() else []
        if runs:
            folder = runs[0].parent
            time.sleep(4.0)
            break
        time.sleep(0.2)
    assert folder is not None, "the run never started"
    sent = time.time()
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    elapsed = time.time() - sent
    assert process.returncode == records.EXIT_INTERRUPTED
    assert elapsed < 1.5, elapsed
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"toylab: interrupted ({signal.Signals(signum).name}) at ") and last.endswith("; no results written"), last
    status = json.loads((folder / "status.json").read_text())
    assert status["state"] == "interrupted" and status["signal"] == signal.Signals(signum).name
    assert not (folder / "results.json").exists()
    (row,) = records.run_rows(tmp_path)
    assert row["state"] == "interrupted"


def test_runs_lists_every_state_newest_first(tmp_path, capsys):
    for name, state, pid in (
        ("20260101-000000-seed0", "finished", os.getpid()),
        ("20260102-000000-seed0", "interrupted", os.getpid()),
        ("20260103-000000-seed0", "running", 2**22 + 12345),
    ):  # a pid that does not exist
        folder = tmp_path / "superposition" / name
        folder.mkdir(parents=True)
        record = {
            "state": state,
            "experiment": "superposition",
            "started": name,
            "duration_s": 1.0,
            "host": __import__("platform").node(),
            "pid": pid,
        }
        runfolder.write_json(folder / "status.json", record)
    assert cli.main(["runs", str(tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()[2:]
    assert [line.split()[2] for line in table] == ["killed", "interrupted", "finished"]


BAD = [
    (["run", "superposition", "--out", ""], "--out: got an empty path"),
    (["run", "superposition", "--out", "pyproject.toml"], "--out: pyproject.toml exists and is not a directory"),
    (["run", "superposition", "--out", "/proc/toylab"], "--out: /proc/toylab cannot be created"),
    (["theory", "--out", "pyproject.toml"], "--out: pyproject.toml exists"),
    (["run", "superposition", "--seed", str(2**63)], "seed: got 9223372036854775808, allowed range [0, 9223372036854775807]"),
    (["theory", "--seed", "-1"], "--seed: got -1"),
    (["run", "superposition", "--set", "toy.nosuch=1"], "--set toy.nosuch: unknown key; known keys: toy.n_features"),
    (["run", "superposition", "--set", "sizes=1,,2"], "sizes: got '1,,2', an empty item"),
    (
        ["run", "superposition", "--set", "sizes=256,512", "--set", "heatmap_size=1024"],
        "heatmap_size: got 1024, allowed values 256, 512 (one of sizes)",
    ),
    (["run", "circles", "--set", "figure_size=7"], "figure_size: got 7"),
    (["runs", "pyproject.toml"], "OUT: pyproject.toml is not a directory"),
    (["run", "superposition", "--set", "toy.n_features=100000000"], "toy.n_features: this config needs about"),
    (["run", "superposition", "--set", "sizes=100000000"], "sizes: this config needs about"),
    (["run", "superposition", "--set", "toy.d=2000000000"], "toy.d: this config needs about"),
    (["run", "sweep", "--set", "size=50000000"], "size: this config needs about"),
    (["run", "sweep", *sets("arch=relu", "hyperparameter=k", "values=2,4")], "hyperparameter: relu does not read k"),
    (["run", "sweep", "--set", "arch=topk", "--set", "hyperparameter=l1_coefficient"], "topk does not read l1_coefficient"),
    (["run", "pizza-clock", "--set", "architectures=additive,additive"], "architectures: additive given more than once"),
    (["run", "superposition", "--seed", "3", "--set", "seed=4"], "seed: --seed 3 and --set seed=4 disagree"),
    (["run", "superposition", "--out", "x" * 300], "(300 characters): too long"),
    (["run", "superposition", "--out", "/tmp/" + "b/" * 2500], "too long (each name ≤ 255 bytes, the whole path ≤ 4096)"),
    (
        ["run", "superposition", "--distributed", "--coordinator", "nohost:abc", "--num-processes", "1", "--process-id", "0"],
        "--coordinator: got 'nohost:abc', expected HOST:PORT",
    ),
    (
        [
            "run",
            "superposition",
            "--distributed",
            "--coordinator",
            "no-such-host.invalid:1234",
            "--num-processes",
            "1",
            "--process-id",
            "0",
        ],
        "--coordinator: cannot resolve the host",
    ),
    (
        ["run", "superposition", "--distributed", "--coordinator", "localhost:1234", "--num-processes", "2", "--process-id", "2"],
        "--process-id: got 2, allowed range [0, 1]",
    ),
    (["run", "superposition", "--distributed", "--coordinator", "localhost:1234"], "give all of --coordinator"),
    (["run", "superposition", "--num-processes", "2"], "--num-processes: only with --distributed"),
    (["sweep", "--coordinator", "localhost:1234"], "--coordinator: only with --distributed"),
]


@pytest.mark.parametrize("argv, message", BAD)
def test_bad_input_is_one_line_exit_2_nothing_written(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))  # paths relative to the repository
    before = sorted(os.listdir("."))
    if "--out" not in argv and argv[0] in ("run", "theory"):
        argv = [*argv, "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err
    assert sorted(os.listdir(".")) == before and not (tmp_path / "out").exists()


def test_dependent_sizes_follow_their_source_when_not_set():
    _, config = cli.resolve_config("superposition", False, None, ["sizes=256,512"])
    assert config.heatmap_size == 512
    _, config = cli.resolve_config("circles", True, None, ["sizes=64,128"])
    assert config.figure_size == 128


def test_large_seeds_do_not_collide():
    import jax

    from experiments.runner import seeding

    keys = [seeding.root_key(s) for s in (5, 5 + 2**32, 2**63 - 1)]
    data = [tuple(jax.random.key_data(k).tolist()) for k in keys]
    assert len(set(data)) == 3
    assert data[0] == tuple(jax.random.key_data(jax.random.key(5)).tolist())  # below 2³²: as before


KEYS = sorted({key for name in registry.EXPERIMENTS for key in overrides.known_keys(registry.get(name).Config())})
values = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True).map(str),
    st.lists(st.integers(-5, 5000).map(str), max_size=4).map(",".join),
    st.sampled_from(["none", "true", "", "inf", "-inf", "nan", "1e400"]),
)


@given(st.sampled_from(list(registry.EXPERIMENTS)), st.lists(st.tuples(st.sampled_from(KEYS + ["nosuch", "toy"]), values), max_size=3))
def test_any_set_either_validates_or_is_one_line(name, assignments):
    # A fuzz of `--set` keys and values: resolving the config (everything `run` does before any
    # work) either succeeds or raises ConfigError with a one-line message — never another error.
    argv = [f"{key}={value}" for key, value in assignments]
    try:
        cli.resolve_config(name, True, None, argv)
    except ConfigError as error:
        assert "\n" not in str(error) and str(error)


@pytest.mark.parametrize("name", list(registry.EXPERIMENTS))
def test_run_help_lists_every_settable_key(name, capsys):
    assert cli.main(["run", name, "--help"]) == 0
    text = capsys.readouterr().out
    body = text.split("\n-")[1].split("\n", 1)[1]  # the rows after the header's rule
    rows = [line for line in body.splitlines() if line.strip()]
    lines = {line.split()[0] for line in rows if not line.lstrip().startswith("default:")}
    assert lines == set(overrides.known_keys(registry.get(name).Config()))
    assert "…" not in text  # no default is cut: a long one has its own line
    for row, following in zip(rows, rows[1:] + [""]):
        if "(below)" in row.split("  ")[2:4] or " (below) " in row:
            assert following.lstrip().startswith("default: ")
    assert "[0, 9223372036854775807]" in text  # the seed's range, read from validate()


def test_the_report_shows_every_run_and_every_link_resolves(tmp_path, capsys):
    from html.parser import HTMLParser

    assert cli.main(["run", "superposition", "--quick", "--out", str(tmp_path), *TINY]) == 0
    assert cli.main(["run", "superposition", "--quick", "--out", str(tmp_path), *TINY, "--set", "toy.noise_std=1e30"]) == 1
    assert cli.main(["report", str(tmp_path)]) == 0
    page = tmp_path / "report" / "index.html"

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.targets, self.anchors, self.ids = [], [], set()

        def handle_starttag(self, tag, attributes):
            attributes = dict(attributes)
            if "id" in attributes:
                self.ids.add(attributes["id"])
            for name in ("href", "src"):
                value = attributes.get(name)
                if value is None:
                    continue
                (self.anchors if value.startswith("#") else self.targets).append(value)

    parser = Links()
    parser.feed(page.read_text())
    assert parser.targets and all(not t.startswith(("http:", "https:", "/")) for t in parser.targets)
    for target in parser.targets:
        assert (page.parent / target).exists(), target
    for anchor in parser.anchors:
        assert anchor[1:] in parser.ids, anchor
    runs = {row["run"] for row in records.run_rows(tmp_path)}
    assert len(runs) == 2 and all(f"superposition-{run}" in parser.ids for run in runs)
    assert sum(t.endswith(".png") for t in parser.targets) >= 2  # the finished run's figures
    assert "diverged" in page.read_text() and "toy.noise_std" in page.read_text()


def _declared_rules(config, prefix=""):
    """(dotted key, Rule, value, the config holding it) of every field that declares a bound or choices."""
    import dataclasses

    from toys.engine.config import rule_of

    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            yield from _declared_rules(value, prefix + field.name + ".")
            continue
        rule = rule_of(field)
        if rule is not None and (rule.allowed is None or (rule.low, rule.high, rule.choices) != (None, None, None)):
            yield prefix + field.name, rule, value, config


def _outside(rule, value, config) -> list[str]:
    """Texts just outside the declared rule (one per bound, fixed or a formula over other fields
    evaluated in `config`, or a foreign choice)."""
    if isinstance(rule.choices, str):  # one of another field's values: one past the largest
        return [str(max(rule.bound(config, rule.choices)) + 1)]
    if rule.choices is not None:
        return ["no-such-choice"]
    example = value[0] if isinstance(value, tuple) else value
    integer = isinstance(example, int) and not isinstance(example, bool)
    out = []
    for bound, is_open, step in ((rule.low, rule.low_open, -1), (rule.high, rule.high_open, +1)):
        if bound is None:
            continue
        bound = rule.bound(config, bound)
        out.append(bound if is_open else (bound + step if integer else bound + step * max(abs(bound), 1) * 1e-3))
    return [str(int(v)) if integer else repr(float(v)) for v in out]


PROBES = [
    (name, key, text)
    for name in registry.EXPERIMENTS
    for key, rule, value, config in _declared_rules(registry.get(name).Config.quick())
    for text in _outside(rule, value, config)
]


@pytest.mark.parametrize("name, key, text", PROBES)
def test_every_declared_bound_is_enforced_by_the_config_it_is_declared_on(name, key, text):
    # The probe reads the same declarations `--help` prints (toys.engine.config.setting): a value
    # just outside each declared range (a formula's evaluated at the quick defaults), or a foreign
    # choice, is refused with a line naming the key, by the settings index and by the study.
    with pytest.raises(ConfigError) as error:
        cli.resolve_config(name, True, None, [f"{key}={text}"])
    assert str(error.value).startswith(key.split(".")[-1]) or key in str(error.value), str(error.value)
    with mock.patch.object(settings_index, "check", lambda *args: None), pytest.raises(ConfigError) as late:
        cli.resolve_config(name, True, None, [f"{key}={text}"])  # the study's own checks, imported
    assert str(late.value).startswith(key.split(".")[-1]) or key in str(late.value), str(late.value)


def test_every_settable_key_declares_its_rule():
    from experiments.runner import help_text

    undeclared = [
        (name, row["key"])
        for name in registry.EXPERIMENTS
        for row in help_text.describe(registry.get(name).Config())
        if row["allowed"] == help_text.UNDECLARED
    ]
    assert undeclared == []


@pytest.mark.parametrize("kind", ["loop", "loop/inside", "dangling", "dangling/inside"])
def test_out_through_a_bad_symbolic_link_is_one_line(kind, tmp_path, capsys):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing" / "target")
    out = tmp_path / kind.replace("loop", "a")
    before = sorted(os.listdir(tmp_path))
    assert cli.main(["run", "superposition", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("toylab: error: --out:"), err
    assert ("loop" in err) if "loop" in kind else ("missing target" in err or "cannot be created" in err), err
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize(
    "record, content",
    [("status.json", "[1, 2]"), ("config.json", '"hello"'), ("config.json", '{"experiment": ["x"]}'), ("status.json", "{broken")],
)
def test_an_unreadable_run_is_listed_as_such_and_the_rest_still_listed(record, content, tmp_path, capsys):
    for name in ("20260101-000000-seed0", "20260102-000000-seed0"):
        folder = tmp_path / "superposition" / name
        folder.mkdir(parents=True)
        runfolder.write_json(
            folder / "status.json", {"state": "finished", "experiment": "superposition", "started": name, "duration_s": 1.0}
        )
    broken = tmp_path / "superposition" / "20260102-000000-seed0"
    if record == "config.json":  # without a status, the run's config names its experiment
        (broken / "status.json").unlink()
    (broken / record).write_text(content)
    assert cli.main(["runs", str(tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()[2:]
    states = [line.split()[2] for line in table]
    assert states == ["unreadable", "finished"], table
    assert cli.main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "report" / "index.html").is_file()


@pytest.mark.parametrize("blocker", ["report is a file", "index.html is a folder"])
def test_report_refuses_a_path_it_cannot_write_with_one_line(blocker, tmp_path, capsys):
    if blocker == "report is a file":
        (tmp_path / "report").write_text("mine")
    else:
        (tmp_path / "report" / "index.html").mkdir(parents=True)
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "exists and is not a" in err, err


def test_report_links_are_url_encoded(tmp_path, capsys):
    folder = tmp_path / "superposition" / "20260101-a#b?c%20d e"
    folder.mkdir(parents=True)
    runfolder.write_json(folder / "status.json", {"state": "finished", "experiment": "superposition"})
    runfolder.write_json(folder / "config.json", {"experiment": "superposition", "config": {}})
    assert cli.main(["report", str(tmp_path)]) == 0
    page = (tmp_path / "report" / "index.html").read_text()
    assert 'href="../superposition/20260101-a%23b%3Fc%2520d%20e/config.json"' in page
    assert 'href="#superposition-20260101-a%23b%3Fc%2520d%20e"' in page


def test_a_closed_stdout_ends_quietly():
    # `toylab list | head -0`: the reader is gone before the first line
    reader_gone = subprocess.run(
        f"{sys.executable} -m experiments.runner.cli list | (exec 0<&-; true)",
        shell=True,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert reader_gone.stderr == "", reader_gone.stderr


def test_a_backend_that_is_not_there_is_one_line(tmp_path):
    environment = {**os.environ, "JAX_PLATFORMS": "cuda"}
    result = subprocess.run(
        [sys.executable, "-m", "experiments.runner.cli", "run", "two-feature", "--quick", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=environment,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert result.returncode == 2 and result.stderr.startswith("toylab: error: JAX_PLATFORMS: 'cuda'"), result.stderr
    assert "\n" not in result.stderr.strip() and not (tmp_path / "out").exists()


def test_a_disk_that_fills_mid_run_is_one_line_and_the_run_marked_failed(tmp_path, capsys, monkeypatch):
    import errno

    def full(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(runfolder, "write_text", full)  # summary.txt: after training, before results.json
    argv = ["run", "two-feature", "--quick", "--out", str(tmp_path), "--set", "steps=20", "--set", "n_seeds=2"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("toylab: error: no space left on device while writing") and err.endswith("no results written")
    (folder,) = (tmp_path / "two-feature").iterdir()
    assert json.loads((folder / "status.json").read_text())["state"] == "failed"
    assert not (folder / "results.json").exists()


def test_a_model_folder_without_its_weights_is_refused_before_any_folder(tmp_path, capsys):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "synthetic_model_config.json").write_text("{}")
    argv = ["run", "synthsaebench", "--quick", "--set", f"model_folder={tmp_path / 'model'}", "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 2
    assert "holds no synthetic_model.safetensors" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_long_host_side_loop_reports_progress_at_most_every_few_seconds(capsys):
    from toys.engine.progress import Progress

    progress = Progress(show=True)
    with progress.task("manifold finder"):
        report = progress.counter(every_s=3600)
        for done in range(1, 6):
            report("groups refined", done, 5)
            assert progress.current() == ("manifold finder", done, 5)  # what an interruption would name
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["  manifold finder: groups refined 5/5"]  # rate-limited: only the end within the hour
    quiet = Progress(show=False)
    quiet.counter(every_s=0)("groups", 1, 2)
    assert capsys.readouterr().err == ""


def test_a_signal_stops_the_other_commands_within_a_second_with_one_line(tmp_path):
    # bench stands for evaluate, report and runs: all go through the same interruptible worker
    argv = [sys.executable, "-m", "experiments.runner.cli", "bench", "--profile", "--repeats", "1", "--out", str(tmp_path)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6.0)  # imported and measuring
    assert process.poll() is None, "bench ended before the signal"
    sent = time.time()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == records.EXIT_INTERRUPTED
    assert time.time() - sent < 1.5
    assert err.strip().splitlines()[-1] == "toylab: bench interrupted (SIGINT); nothing more written", err
    assert not (tmp_path / "bench").exists()


def test_the_progress_bar_appears_on_a_terminal(tmp_path):
    # under a pseudo-terminal of 120 columns (as tmux gives) training shows tqdm's bar, not plain lines
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    argv = [
        sys.executable,
        "-m",
        "experiments.runner.cli",
        "run",
        "two-feature",
        "--quick",
        "--out",
        str(tmp_path),
        "--set",
        "steps=400",
        "--set",
        "n_seeds=2",
    ]
    process = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, cwd=os.path.dirname(os.path.dirname(__file__)))
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the run ended
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=120) == 0
    text = seen.decode(errors="replace")
    assert "step/s" in text and "%|" in text, text[-500:]  # tqdm's bar
    assert " step 100/400 loss " not in text  # not the plain lines of a log file


def test_list_runs_report_and_a_refused_seed_start_without_loading_jax(tmp_path):
    # `list` reads the studies' descriptions from source, `runs` a finished run's headline from
    # its status.json, `report` the defaults from the settings index, and a bad --seed or
    # experiment name is refused before any study is imported
    run = tmp_path / "two-feature" / "20260101-000000-seed0"
    run.mkdir(parents=True)
    (run / "status.json").write_text(
        json.dumps({"state": "finished", "experiment": "two-feature", "duration_s": 1.0, "headline": "the recorded headline"})
    )
    (run / "results.json").write_text("{}")
    probe = "import sys; from experiments.runner import cli; codes = [cli.main(a) for a in ({})]; print(codes, 'jax' in sys.modules)"
    argvs = repr([["list"], ["runs", str(tmp_path)], ["report", str(tmp_path)], ["run", "nosuch"], ["theory", "--seed", "-1"]])
    result = subprocess.run(
        [sys.executable, "-c", probe.format(argvs)], capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__))
    )
    assert result.stdout.strip().splitlines()[-1] == "[0, 0, 0, 2, 2] False", result.stdout + result.stderr
    assert "the recorded headline" in result.stdout
