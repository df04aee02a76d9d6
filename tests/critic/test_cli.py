"""`srft critic`, `srft critic-eval` and `srft critic-bench` as commands."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from srft.cli import app
from srft.files.verdicts import load_verdicts

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "critic" / "small-corpus.jsonl"
runner = CliRunner()


def test_the_rules_critic_labels_the_fixture_corpus(tmp_path):
    out = tmp_path / "v.jsonl"
    result = runner.invoke(app, ["critic", str(FIXTURE), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    verdicts = load_verdicts(out)
    assert verdicts["calc__div-zero"].labels() == ["good", "mistake", "mistake", "good", "good"]
    assert verdicts["text__strip-title"].labels() == ["good", "unnecessary", "mistake", "good"]
    assert json.loads((tmp_path / "v.summary.json").read_text())["trajectories"]["ok"] == 2


def test_a_bad_corpus_line_is_an_error_naming_file_and_line(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(FIXTURE.read_text().splitlines()[0] + "\n{not json\n")
    result = runner.invoke(app, ["critic", str(corpus), "-o", str(tmp_path / "v.jsonl")])
    assert result.exit_code == 1
    assert f"{corpus}:2: not valid JSON" in result.output
    assert not (tmp_path / "v.jsonl").exists()


def test_the_llm_critic_needs_a_server_and_a_model(tmp_path):
    result = runner.invoke(
        app, ["critic", str(FIXTURE), "-o", str(tmp_path / "v.jsonl"), "--critic", "llm"]
    )
    assert result.exit_code != 0 and "--base-url and --model" in result.output


def test_bench_then_eval_reports_the_rules_critics_recall(tmp_path):
    bench = tmp_path / "bench.jsonl"
    result = runner.invoke(
        app, ["critic-bench", str(FIXTURE), "-o", str(bench), "--steps-per-trajectory", "2"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["corrupted_steps"] == 2  # only the resolved trajectory
    runner.invoke(app, ["critic", str(bench), "-o", str(tmp_path / "v.jsonl"), "--no-progress"])
    result = runner.invoke(
        app,
        [
            "critic-eval",
            "--pred",
            str(tmp_path / "v.jsonl"),
            "--gold",
            str(tmp_path / "bench.gold.jsonl"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "mistake-vs-rest" in result.output and "R 1.000" in result.output
