"""`srft ingest` and `srft stats` from the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from srft.cli import app
from srft.corpus.stats import compute_stats, estimate_tokens
from srft.files.corpus import CORPUS

runner = CliRunner()


def test_ingest_writes_the_corpus_and_prints_read_accepted_rejected(tmp_path, format_fixtures):
    output = tmp_path / "corpus.jsonl"
    result = runner.invoke(app, ["ingest", *map(str, format_fixtures), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "read 14 = accepted 14 + rejected 0" in " ".join(result.output.split())
    assert len(list(CORPUS.read(output))) == 14


def test_ingest_json_summary(tmp_path, fixtures_dir):
    output = tmp_path / "corpus.jsonl"
    result = runner.invoke(
        app, ["ingest", str(fixtures_dir / "nebius-swe-agent"), "-o", str(output), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["formats"] == {"nebius-swe-agent": 2}
    assert summary["outcomes"] == {"resolved": 1, "unresolved": 1}


def test_ingest_error_exits_nonzero_naming_file_and_record(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [\n')
    result = runner.invoke(app, ["ingest", str(bad), "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 1
    assert "bad.jsonl: record line 1: not valid JSON" in " ".join(result.output.split())


def test_ingest_skip_invalid_writes_rejects(tmp_path, fixtures_dir):
    bad = tmp_path / "bad.jsonl"
    good = (fixtures_dir / "openai-chat/swe_gym_rows.jsonl").read_text()
    bad.write_text(good + '{"messages": [\n')
    rejects = tmp_path / "rejects.jsonl"
    result = runner.invoke(
        app,
        [
            "ingest",
            str(bad),
            "-o",
            str(tmp_path / "o.jsonl"),
            "--skip-invalid",
            "--rejects",
            str(rejects),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "read 3 = accepted 2 + rejected 1" in " ".join(result.output.split())
    assert json.loads(rejects.read_text())["record"] == "line 3"


def test_labels_option_is_repeatable(tmp_path, fixtures_dir):
    output = tmp_path / "corpus.jsonl"
    args = ["ingest", str(fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json")]
    args += ["-o", str(output), "--labels", str(fixtures_dir / "labels/labels.jsonl")]
    args += ["--labels", str(fixtures_dir / "labels/instances.json")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (trajectory,) = CORPUS.read(output)
    assert trajectory.outcome.status == "resolved"


def test_stats_prints_a_table_per_format(tmp_path, format_fixtures):
    output = tmp_path / "corpus.jsonl"
    runner.invoke(app, ["ingest", *map(str, format_fixtures), "-o", str(output)])
    result = runner.invoke(app, ["stats", str(output)])
    assert result.exit_code == 0, result.output
    for name in ("mini-swe-agent-v1", "openhands", "nebius-swe-agent", "total"):
        assert name in result.output


def test_stats_counts_steps_outcomes_and_tokens(tmp_path, fixtures_dir):
    output = tmp_path / "corpus.jsonl"
    runner.invoke(app, ["ingest", str(fixtures_dir / "mini-swe-agent-v1"), "-o", str(output)])
    stats = compute_stats(output).to_dict()["by_format"]["mini-swe-agent-v1"]
    assert (stats["trajectories"], stats["steps"]) == (2, 8)
    assert (stats["steps_min"], stats["steps_median"], stats["steps_max"]) == (3, 4, 5)
    assert (stats["resolved"], stats["unresolved"], stats["unknown"]) == (1, 1, 0)
    assert stats["tokens"] == sum(estimate_tokens(t) for t in CORPUS.read(output))


def test_stats_with_a_real_tokenizer_counts_exactly(tmp_path, fixtures_dir):
    output = tmp_path / "corpus.jsonl"
    runner.invoke(app, ["ingest", str(fixtures_dir / "mini-swe-agent-legacy"), "-o", str(output)])
    stats = compute_stats(output, count_tokens=lambda text: len(text.split()))
    assert stats.tokens_exact
    (trajectory,) = CORPUS.read(output)
    words = sum(len(m.content.split()) for m in trajectory.messages)
    assert stats.total.tokens == words
