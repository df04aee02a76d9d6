"""The bad-input table: every hostile file or option a user's corpus brings, one row each.

Each row runs the real `srft` command in a child process, under a timeout (a pipe, a device
or a link loop once hung ingest forever: a hang fails the row instead of the suite), and
asserts the exit status, that the message names the offending path, and that no Python
traceback reaches the user. Rows that read records are run a second time under
`--skip-invalid --json`, where the bad input must be a counted reject (or a file skipped with
its reason) and read = accepted + rejected must hold.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, PROJECT_ROOT

TIMEOUT_S = 60  # far above any row's normal run time (about a second): only a hang hits it
GOOD_RUN = FIXTURES / "mini-swe-agent-v2" / "strs__pad-3.traj.json"


@dataclass
class Case:
    """What one row runs and expects."""

    argv: list[str]
    exit_code: int
    names: str  # a path the message must name
    skip_invalid: dict | None = None  # under --skip-invalid --json: expected counts
    reason: str = ""  # a part of the message that says why
    user: int | None = None  # run as this uid (an unreadable file is readable to root)
    after: Callable[[], None] | None = None  # extra checks once the command has run


def run_srft(argv: list[str], cwd: Path, *, user: int | None = None) -> subprocess.CompletedProcess:
    """Run `python -m srft ARGV` in a child process, killed after TIMEOUT_S seconds."""
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT / "src"),
        "COLUMNS": "80",
        "HF_HUB_OFFLINE": "1",
    }
    prefix: list[str] = []
    if user is not None:
        # setpriv (util-linux) drops root for the child; Python's own `user=` cannot, here,
        # exec an interpreter that lives under root's home.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        env["HOME"] = str(cwd)
        prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    try:
        return subprocess.run(
            [*prefix, sys.executable, "-m", "srft", *argv],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"srft {' '.join(argv)} hung for {TIMEOUT_S}s")


# -- the rows ---------------------------------------------------------------------------------


def folder_with_good_run(tmp: Path) -> Path:
    folder = tmp / "runs"
    folder.mkdir()
    shutil.copy(GOOD_RUN, folder / GOOD_RUN.name)
    return folder


def symlink_loop_in_folder(tmp: Path) -> Case:
    folder = folder_with_good_run(tmp)
    (folder / "again").symlink_to(folder)
    return Case(
        ["ingest", "runs", "-o", "out.jsonl"],
        0,
        "runs/again",
        reason="symbolic link loop",
        skip_invalid={"accepted": 1, "rejected": 0},
    )


def symlink_loops_under_a_recursive_glob(tmp: Path) -> Case:
    folder = folder_with_good_run(tmp)
    (folder / "again").symlink_to(folder)  # two loops: glob.glob's `**` walks 2^depth paths
    (folder / "too").symlink_to(folder)
    return Case(
        ["ingest", "runs/**/*.json", "-o", "out.jsonl"],
        0,
        "out.jsonl",
        skip_invalid={"accepted": 1, "rejected": 0},
    )


def symlink_loop_named_directly(tmp: Path) -> Case:
    (tmp / "a.traj.json").symlink_to(tmp / "b.traj.json")
    (tmp / "b.traj.json").symlink_to(tmp / "a.traj.json")
    return Case(
        ["ingest", "a.traj.json", "-o", "out.jsonl"],
        1,
        "a.traj.json",
        reason="symbolic link loop",
        skip_invalid={"accepted": 0, "rejected": 1},
    )


def fifo_in_folder(tmp: Path) -> Case:
    folder = folder_with_good_run(tmp)
    os.mkfifo(folder / "live.jsonl")
    return Case(
        ["ingest", "runs", "-o", "out.jsonl"],
        0,
        "runs/live.jsonl",
        reason="named pipe",
        skip_invalid={"accepted": 1, "rejected": 0},
    )


def fifo_named_directly(tmp: Path) -> Case:
    os.mkfifo(tmp / "live.jsonl")
    return Case(
        ["ingest", "live.jsonl", "-o", "out.jsonl"],
        1,
        "live.jsonl",
        reason="named pipe",
        skip_invalid={"accepted": 0, "rejected": 1},
    )


def device_named_directly(tmp: Path) -> Case:
    return Case(
        ["ingest", "/dev/zero", "-o", "out.jsonl"],
        1,
        "/dev/zero",
        reason="device file",
        skip_invalid={"accepted": 0, "rejected": 1},
    )


def unreadable_file(tmp: Path) -> Case:
    folder = folder_with_good_run(tmp)
    locked = folder / "locked.traj.json"
    shutil.copy(GOOD_RUN, locked)
    locked.chmod(0)
    tmp.chmod(0o777)
    folder.chmod(0o777)
    return Case(
        ["ingest", "runs", "-o", "out.jsonl"],
        1,
        "runs/locked.traj.json",
        reason="cannot be read",
        skip_invalid={"accepted": 1, "rejected": 1},
        user=65534 if os.geteuid() == 0 else None,  # root reads any file: run as nobody
    )


def dangling_symlink(tmp: Path) -> Case:
    folder = folder_with_good_run(tmp)
    (folder / "gone.traj.json").symlink_to(tmp / "deleted.traj.json")
    return Case(
        ["ingest", "runs", "-o", "out.jsonl"],
        1,
        "runs/gone.traj.json",
        reason="dangling symbolic link",
        skip_invalid={"accepted": 1, "rejected": 1},
    )


def deep_json(tmp: Path) -> Case:
    (tmp / "deep.json").write_text('{"a":' * 10_000 + "1" + "}" * 10_000)
    return Case(
        ["ingest", "deep.json", "-o", "out.jsonl"],
        1,
        "deep.json",
        reason="nested too deeply",
        skip_invalid={"accepted": 0, "rejected": 1},
    )


def deep_json_array_line(tmp: Path) -> Case:
    (tmp / "deep.jsonl").write_text("[" * 10_000 + "]" * 10_000 + "\n")
    return Case(
        ["ingest", "deep.jsonl", "-o", "out.jsonl"],
        1,
        "deep.jsonl",
        reason="nested too deeply",
        skip_invalid={"accepted": 0, "rejected": 1},
    )


def empty_jsonl(tmp: Path) -> Case:
    (tmp / "empty.jsonl").touch()
    return Case(
        ["ingest", "empty.jsonl", "-o", "out.jsonl"],
        1,
        "empty.jsonl",
        reason="no trajectory accepted",
        skip_invalid={"accepted": 0, "rejected": 0},
        after=lambda: _absent(tmp / "out.jsonl"),
    )


def _absent(path: Path) -> None:
    assert not path.exists(), f"{path} was written although nothing was accepted"


def zero_byte_json(tmp: Path) -> Case:
    (tmp / "run.traj.json").touch()
    return Case(
        ["ingest", "run.traj.json", "-o", "out.jsonl"],
        1,
        "run.traj.json",
        reason="empty",
        skip_invalid={"accepted": 0, "rejected": 1},
    )


def gzip_jsonl_in_folder(tmp: Path) -> Case:
    folder = tmp / "runs"
    folder.mkdir()
    with gzip.open(folder / "runs.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps(json.loads(GOOD_RUN.read_text())) + "\n")
    return Case(
        ["ingest", "runs", "-o", "out.jsonl"],
        0,
        "out.jsonl",
        skip_invalid={"accepted": 1, "rejected": 0},
    )


def gzip_jsonl_named_directly(tmp: Path) -> Case:
    with gzip.open(tmp / "runs.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps(json.loads(GOOD_RUN.read_text())) + "\n")
    return Case(
        ["ingest", "runs.jsonl.gz", "-o", "out.jsonl"],
        0,
        "out.jsonl",
        skip_invalid={"accepted": 1, "rejected": 0},
    )


def truncated_gzip_member(tmp: Path) -> Case:
    data = gzip.compress((json.dumps(json.loads(GOOD_RUN.read_text())) + "\n").encode() * 3)
    (tmp / "runs.jsonl.gz").write_bytes(data[: len(data) // 2])
    return Case(
        ["ingest", "runs.jsonl.gz", "-o", "out.jsonl"],
        1,
        "runs.jsonl.gz",
        reason="truncated",
        skip_invalid={"rejected": 1},
    )


def fifo_as_the_corpus_of_critic(tmp: Path) -> Case:
    os.mkfifo(tmp / "corpus.jsonl")
    return Case(
        ["critic", "corpus.jsonl", "-o", "verdicts.jsonl", "--no-progress"],
        1,
        "corpus.jsonl",
        reason="named pipe",
    )


def fifo_as_the_corpus_of_stats(tmp: Path) -> Case:
    os.mkfifo(tmp / "corpus.jsonl")
    return Case(["stats", "corpus.jsonl"], 1, "corpus.jsonl", reason="named pipe")


def fifo_as_the_corpus_of_build(tmp: Path) -> Case:
    os.mkfifo(tmp / "corpus.jsonl")
    argv = ["build", "corpus.jsonl", "--policy", "sft", "--tokenizer", "./tok"]
    return Case([*argv, "--max-length", "64", "-o", "ds"], 1, "corpus.jsonl", reason="named pipe")


def device_as_the_verdicts_of_report(tmp: Path) -> Case:
    corpus_of_good_run(tmp)
    return Case(
        ["report", "-c", "corpus.jsonl", "-v", "/dev/zero", "-o", "r.html"],
        1,
        "/dev/zero",
        reason="device file",
    )


def rejects_without_skip_invalid(tmp: Path) -> Case:
    shutil.copy(GOOD_RUN, tmp / GOOD_RUN.name)
    return Case(
        ["ingest", GOOD_RUN.name, "-o", "out.jsonl", "--rejects", "rejects.jsonl"],
        1,
        "rejects.jsonl",
        reason="--skip-invalid",
    )


def folder_as_output(tmp: Path) -> Case:
    shutil.copy(GOOD_RUN, tmp / GOOD_RUN.name)
    (tmp / "out").mkdir()
    return Case(["ingest", GOOD_RUN.name, "-o", "out"], 1, "out", reason="is a folder, but a file")


def existing_corpus_output(tmp: Path) -> Case:
    shutil.copy(GOOD_RUN, tmp / GOOD_RUN.name)
    (tmp / "out.jsonl").write_text("yesterday's corpus\n")

    def kept() -> None:
        assert (tmp / "out.jsonl").read_text() == "yesterday's corpus\n"

    return Case(
        ["ingest", GOOD_RUN.name, "-o", "out.jsonl"],
        1,
        "out.jsonl",
        reason="--overwrite",
        after=kept,
    )


def corpus_of_good_run(tmp: Path) -> Path:
    from srft.corpus.ingest import ingest

    ingest([GOOD_RUN], output=tmp / "corpus.jsonl")
    return tmp / "corpus.jsonl"


def critic_llm(cache: str) -> list[str]:
    # Port 9 (discard) is never reached: the cache is opened before any request.
    return [
        "critic",
        "corpus.jsonl",
        "-o",
        "verdicts.jsonl",
        "--critic",
        "llm",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "--no-progress",
        "--cache",
        cache,
    ]


def cache_is_a_folder(tmp: Path) -> Case:
    corpus_of_good_run(tmp)
    (tmp / "cache").mkdir()
    return Case(critic_llm("cache"), 1, "cache", reason="is a folder")


def cache_is_corrupt(tmp: Path) -> Case:
    corpus_of_good_run(tmp)
    (tmp / "cache.sqlite").write_bytes(b"this is not SQLite at all" * 100)
    return Case(critic_llm("cache.sqlite"), 1, "cache.sqlite", reason="not a usable critic cache")


def critic_output_is_a_folder(tmp: Path) -> Case:
    corpus_of_good_run(tmp)
    (tmp / "verdicts").mkdir()
    return Case(
        ["critic", "corpus.jsonl", "-o", "verdicts", "--no-progress"],
        1,
        "verdicts",
        reason="is a folder",
    )


def tokenizer_path_missing(tmp: Path) -> Case:
    corpus_of_good_run(tmp)
    argv = ["build", "corpus.jsonl", "--policy", "sft", "--tokenizer", "./no/such/tokenizer"]
    return Case(
        [*argv, "--max-length", "512", "-o", "ds"],
        1,
        "./no/such/tokenizer",
        reason="no such file or folder",
    )


def stats_tokenizer_path_missing(tmp: Path) -> Case:
    corpus_of_good_run(tmp)
    return Case(
        ["stats", "corpus.jsonl", "--tokenizer", "/no/such/tokenizer"],
        1,
        "/no/such/tokenizer",
        reason="no such file or folder",
    )


def build_over_existing_dataset(tmp: Path) -> Case:
    corpus_of_good_run(tmp)
    (tmp / "ds").mkdir()
    (tmp / "ds" / "build.json").write_text("{}")
    argv = ["build", "corpus.jsonl", "--policy", "sft", "--tokenizer", "./tok"]

    def kept() -> None:
        assert (tmp / "ds" / "build.json").read_text() == "{}"

    return Case(
        [*argv, "--max-length", "512", "-o", "ds"], 1, "ds", reason="--overwrite", after=kept
    )


def build_verdicts_for_unknown_trajectories(tmp: Path) -> Case:
    from srft.files.corpus import CORPUS
    from srft.smollm2 import smollm2_dir

    good = next(CORPUS.read(corpus_of_good_run(tmp)))
    lines = [
        {"trajectory_id": i, "critic": {"name": "rules"}, "steps": steps}
        for i, steps in ((good.id, len(good.steps)), ("ghost", 1))
    ]
    for line in lines:
        line["steps"] = [{"index": k, "label": "good"} for k in range(line["steps"])]
    text = "".join(json.dumps({"format": "srft.verdicts", "version": 1, **v}) + "\n" for v in lines)
    (tmp / "verdicts.jsonl").write_text(text)
    argv = [
        "build",
        "corpus.jsonl",
        "--verdicts",
        "verdicts.jsonl",
        "--skip-invalid",
        "--policy",
        "sft",
    ]
    return Case(
        [*argv, "--tokenizer", str(smollm2_dir()), "--max-length", "4096", "-o", "ds"],
        0,
        "verdicts.jsonl",
        reason="rejected 1 verdicts for trajectories not in",
    )


def evaluate_model_path_missing(tmp: Path) -> Case:
    return Case(
        ["evaluate", "nll", "ds", "--model", "base=/no/such/model", "-o", "eval.json"],
        1,
        "/no/such/model",
        reason="no such file or folder",
    )


def handoff_name_escapes(tmp: Path) -> Case:
    (tmp / "run" / "model").mkdir(parents=True)

    def nothing_outside() -> None:
        assert not (tmp / "x").exists() and not (tmp / "run" / "x").exists()

    return Case(
        ["evaluate", "handoff", "run", "run/model", "--name", "../../x"],
        1,
        "../../x",
        reason="plain name",
        after=nothing_outside,
    )


def report_with_foreign_verdicts(tmp: Path) -> Case:
    corpus_of_good_run(tmp)
    ghost = {
        "format": "srft.verdicts",
        "version": 1,
        "trajectory_id": "ghost",
        "critic": {"name": "rules"},
        "steps": [],
    }
    (tmp / "verdicts.jsonl").write_text(json.dumps(ghost) + "\n")
    return Case(
        ["report", "-c", "corpus.jsonl", "-v", "verdicts.jsonl", "-o", "r.html"],
        1,
        "verdicts.jsonl",
        reason="1 of 1 verdicts are for trajectories not in",
    )


ROWS: list = [
    symlink_loop_in_folder,
    symlink_loop_named_directly,
    symlink_loops_under_a_recursive_glob,
    fifo_in_folder,
    fifo_named_directly,
    device_named_directly,
    unreadable_file,
    dangling_symlink,
    deep_json,
    deep_json_array_line,
    empty_jsonl,
    zero_byte_json,
    gzip_jsonl_in_folder,
    gzip_jsonl_named_directly,
    truncated_gzip_member,
    fifo_as_the_corpus_of_critic,
    fifo_as_the_corpus_of_stats,
    fifo_as_the_corpus_of_build,
    device_as_the_verdicts_of_report,
    rejects_without_skip_invalid,
    folder_as_output,
    existing_corpus_output,
    cache_is_a_folder,
    cache_is_corrupt,
    critic_output_is_a_folder,
    tokenizer_path_missing,
    stats_tokenizer_path_missing,
    build_over_existing_dataset,
    build_verdicts_for_unknown_trajectories,
    evaluate_model_path_missing,
    handoff_name_escapes,
    report_with_foreign_verdicts,
]


def _row_id(row: Callable) -> str:
    return row.__name__


@pytest.fixture
def workdir():
    """A fresh folder outside pytest's private (0700) tree, so a row may run as `nobody`."""
    folder = Path(tempfile.mkdtemp(prefix="srft-hostile-"))
    yield folder
    for path in folder.rglob("*"):  # give back what a row locked, then remove it all
        if not path.is_symlink():
            path.chmod(0o700)
    shutil.rmtree(folder)


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_bad_input_gets_one_clear_line_never_a_traceback(row, workdir):
    case = row(workdir)
    done = run_srft(case.argv, workdir, user=case.user)
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert done.returncode == case.exit_code, output
    assert case.names in output, output
    assert case.reason in output, output
    if case.exit_code:
        errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
        assert any(case.names in line for line in errors), "the error line names the path"
    if case.after is not None:
        case.after()


# The rows that read records: under --skip-invalid each must be counted, not fatal.
COUNTED: list = [
    symlink_loop_in_folder,
    symlink_loop_named_directly,
    symlink_loops_under_a_recursive_glob,
    fifo_in_folder,
    fifo_named_directly,
    device_named_directly,
    unreadable_file,
    dangling_symlink,
    deep_json,
    deep_json_array_line,
    empty_jsonl,
    zero_byte_json,
    *[row for row in ROWS if getattr(row, "marks", None)],  # the compressed rows
]


@pytest.mark.parametrize("row", COUNTED, ids=_row_id)
def test_under_skip_invalid_bad_input_is_counted_and_read_equals_accepted_plus_rejected(
    row, workdir
):
    case = row(workdir)
    argv = [*case.argv, "--skip-invalid", "--json", "--rejects", "rejects.jsonl"]
    done = run_srft(argv, workdir, user=case.user)
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    summary = json.loads(done.stdout)
    assert summary["read"] == summary["accepted"] + summary["rejected"]
    for key, value in case.skip_invalid.items():
        assert summary[key] == value, output
    assert done.returncode == (0 if summary["accepted"] else 1), output
    if summary["rejected"]:
        rejects = [json.loads(line) for line in (workdir / "rejects.jsonl").open()]
        assert len(rejects) == summary["rejected"]
        assert any(case.names in r["file"] for r in rejects)
    else:
        assert case.names in output, output
