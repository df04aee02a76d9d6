"""Every count `srft` prints (ingest, critic, build, export) equals what its files hold."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from srft.cli import app


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def srft(*args: str) -> str:
    """Run a command; its output with rich's line wrapping undone."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def number(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in {text!r}"
    return int(found.group(1))


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path):
    """Ingest three formats with their outcome labels, then judge them with the rules critic."""
    out = tmp_path_factory.mktemp("counts")
    f = fixtures_dir
    printed = {
        "ingest": srft(
            "ingest",
            str(f / "mini-swe-agent-v1" / "trajs"),
            str(f / "swe-agent"),
            str(f / "openhands"),
            "--labels",
            str(f / "mini-swe-agent-v1" / "logs"),
            "-o",
            str(out / "corpus.jsonl"),
        )
    }
    printed["critic"] = srft(
        "critic", str(out / "corpus.jsonl"), "-o", str(out / "v.jsonl"), "--critic", "rules"
    )
    return out, printed


def test_ingest_prints_the_records_it_wrote_and_their_outcomes(corpus_run):
    out, printed = corpus_run
    corpus = lines_of(out / "corpus.jsonl")
    text = printed["ingest"]
    assert number(r"accepted (\d+)", text) == len(corpus)
    assert number(r"read (\d+)", text) == len(corpus) + number(r"rejected (\d+)", text)
    outcomes = Counter(t["outcome"]["status"] for t in corpus)
    for status, n in outcomes.items():
        assert number(rf"outcomes.*?\b{status} (\d+)", text) == n
    steps = sum(len(t["steps"]) for t in corpus)
    assert number(r"(\d+) steps", text) == steps


def test_critic_prints_the_verdicts_it_wrote_and_their_labels(corpus_run):
    out, printed = corpus_run
    verdicts = lines_of(out / "v.jsonl")
    text = printed["critic"]
    assert number(r"(\d+) trajectories:", text) == len(verdicts)
    assert number(r"(\d+) ok", text) == sum(v["status"] == "ok" for v in verdicts)
    assert number(r"(\d+) failed", text) == sum(v["status"] != "ok" for v in verdicts)
    labels = Counter(s["label"] for v in verdicts for s in v["steps"])
    printed_labels = json.loads(re.search(r"labels (\{[^}]*\})", text).group(1))
    assert printed_labels == dict(labels)


def test_build_and_export_print_the_rows_they_wrote_per_outcome(corpus_run, smollm2_path: Path):
    out, _ = corpus_run
    # 300 tokens leaves one resolved run too long: it must be counted as skipped, not as kept.
    text = srft(
        "build", str(out / "corpus.jsonl"), "--verdicts", str(out / "v.jsonl"), "--policy",
        "srft", "--tokenizer", "smollm2", "--max-length", "300", "--overlong", "skip",
        "-o", str(out / "ds"),
    )  # fmt: skip
    rows = pq.read_table(out / "ds" / "data.parquet").to_pylist()
    assert number(r"rows (\d+)", text) == len(rows)
    assert number(r"skipped_overlong (\d+)", text) >= 1
    kept = Counter(r["outcome"] for r in rows)
    printed_kept: Counter[str] = Counter()
    for outcome, _reason, n in re.findall(r"(\w+): (?:[^:]*?, )?kept:([\w:]+) (\d+)", text):
        printed_kept[outcome] += int(n)
    assert printed_kept == kept
    corpus = lines_of(out / "corpus.jsonl")
    per_outcome = Counter(t["outcome"]["status"] for t in corpus)
    for outcome, n in per_outcome.items():
        segment = re.search(rf"\b{outcome}: ((?:[\w:]+ \d+(?:, )?)+)", text).group(1)
        assert sum(int(x) for x in re.findall(r" (\d+)", " " + segment)) == n

    exported = srft("export", str(out / "ds"), "--to", "trl", "-o", str(out / "ex"))
    data = pq.read_table(out / "ex" / "data.parquet")
    assert number(r"wrote (\d+) rows", exported) == data.num_rows == len(rows)
