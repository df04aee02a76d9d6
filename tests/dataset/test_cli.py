"""`srft build` and `srft export` from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from srft.cli import app
from srft.files.corpus import CORPUS
from srft.files.verdicts import VERDICTS

from .conftest import trajectory, verdict

TURNS = [{"say": "Look.", "obs": "a.py"}, {"say": "Oops.", "obs": "error"}, {"say": "Done."}]


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    corpus, verdicts = tmp_path / "corpus.jsonl", tmp_path / "verdicts.jsonl"
    CORPUS.write(corpus, [trajectory(TURNS, id="u1")])
    VERDICTS.write(verdicts, [verdict("u1", ["good", "unnecessary", "good"])])
    return corpus, verdicts


def test_build_with_policy_options_then_export(smollm2_path, tmp_path):
    corpus, verdicts = _inputs(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "build",
            str(corpus),
            "--verdicts",
            str(verdicts),
            "--policy",
            "srft",
            "--option",
            'mask=["mistake","unnecessary"]',
            "--tokenizer",
            str(smollm2_path),
            "--max-length",
            "2048",
            "-o",
            str(tmp_path / "ds"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "unnecessary" in result.output and "tokens trained" in result.output
    manifest = json.loads((tmp_path / "ds" / "build.json").read_text())
    assert manifest["policy"]["options"]["mask"] == ["mistake", "unnecessary"]
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert stats["steps_by_label"]["unnecessary"] == {"trained": 0, "masked": 1}

    result = CliRunner().invoke(
        app, ["export", str(tmp_path / "ds"), "--to", "axolotl", "-o", str(tmp_path / "ax")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ax" / "data.jsonl").exists()


def test_build_errors_are_one_clear_line_and_exit_code_1(smollm2_path, tmp_path):
    corpus, _ = _inputs(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "build",
            str(corpus),
            "--policy",
            "srft",
            "--tokenizer",
            str(smollm2_path),
            "--max-length",
            "2048",
            "-o",
            str(tmp_path / "ds"),
        ],
    )
    assert result.exit_code == 1
    assert "error: policy 'srft' needs critic verdicts" in result.output


def test_export_to_an_unknown_trainer_names_the_choices(smollm2_path, tmp_path):
    corpus, verdicts = _inputs(tmp_path)
    CliRunner().invoke(
        app,
        [
            "build",
            str(corpus),
            "--verdicts",
            str(verdicts),
            "--tokenizer",
            str(smollm2_path),
            "--max-length",
            "2048",
            "-o",
            str(tmp_path / "ds"),
        ],
    )
    result = CliRunner().invoke(
        app, ["export", str(tmp_path / "ds"), "--to", "unsloth", "-o", str(tmp_path / "x")]
    )
    assert result.exit_code == 1
    assert (
        "unknown export target 'unsloth'; choose one of axolotl, llamafactory, trl" in result.output
    )


def test_build_caps_the_resolved_runs_of_each_instance(smollm2_path, tmp_path):
    runs = []
    for n in range(3):
        run = trajectory(TURNS, id=f"a__b-1@{n}", outcome="resolved", task=f"Fix it ({n}).")
        run.instance_id = "a__b-1"
        runs.append(run)
    CORPUS.write(tmp_path / "corpus.jsonl", runs)
    result = CliRunner().invoke(
        app,
        [
            "build", str(tmp_path / "corpus.jsonl"), "--policy", "sft",
            "--option", "max-resolved-per-instance=2",
            "--tokenizer", str(smollm2_path), "--max-length", "2048", "-o", str(tmp_path / "ds"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    from srft.dataset.build import load_dataset_folder

    rows = load_dataset_folder(tmp_path / "ds")
    assert list(rows["trajectory_id"]) == ["a__b-1@0", "a__b-1@1"]
    manifest = json.loads((tmp_path / "ds" / "build.json").read_text())
    assert manifest["policy"]["options"]["max_resolved_per_instance"] == 2


def _build(smollm2_path: Path, corpus: Path, verdicts: Path, out: Path, *extra: str) -> Any:
    argv = ["build", str(corpus), "--verdicts", str(verdicts), "--tokenizer", str(smollm2_path)]
    return CliRunner().invoke(app, [*argv, "--max-length", "2048", "-o", str(out), *extra])


def test_verdicts_for_unknown_trajectories_are_counted_rejects_under_skip_invalid(
    smollm2_path, tmp_path
):
    corpus, verdicts = _inputs(tmp_path)
    VERDICTS.write(
        verdicts, [verdict("u1", ["good", "unnecessary", "good"]), verdict("ghost", ["good"])]
    )
    strict = _build(smollm2_path, corpus, verdicts, tmp_path / "strict")
    assert strict.exit_code == 1 and "verdicts for 1 trajectories not in" in strict.output
    result = _build(smollm2_path, corpus, verdicts, tmp_path / "ds", "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert f"{verdicts}: rejected 1 verdicts for trajectories not in" in result.output
    manifest = json.loads((tmp_path / "ds" / "build.json").read_text())
    assert manifest["counts"]["unknown_verdicts"] == 1 and manifest["counts"]["rows"] == 1
    rejected = [json.loads(x) for x in (tmp_path / "ds" / "rejected.jsonl").open()]
    assert [r["trajectory_id"] for r in rejected] == ["ghost"]


def test_an_existing_dataset_is_replaced_only_with_overwrite_leaving_no_temporary_folder(
    smollm2_path, tmp_path
):
    corpus, verdicts = _inputs(tmp_path)
    out = tmp_path / "ds"
    assert _build(smollm2_path, corpus, verdicts, out).exit_code == 0
    first = (out / "build.json").read_text()
    again = _build(smollm2_path, corpus, verdicts, out)
    assert again.exit_code == 1 and f"{out}: exists; pass --overwrite" in again.output
    assert _build(smollm2_path, corpus, verdicts, out, "--overwrite").exit_code == 0
    assert (out / "build.json").read_text() == first
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name] == []


def test_build_shards_concatenated_hold_the_rows_of_one_build(smollm2_path, tmp_path):
    import pyarrow.parquet as pq

    corpus, verdicts = tmp_path / "corpus.jsonl", tmp_path / "verdicts.jsonl"
    ids = [f"u{n}" for n in range(7)]
    CORPUS.write(corpus, [trajectory(TURNS, id=i) for i in ids])
    VERDICTS.write(verdicts, [verdict(i, ["good", "mistake", "good"]) for i in ids])
    assert _build(smollm2_path, corpus, verdicts, tmp_path / "all").exit_code == 0
    for k in range(3):
        shard = _build(smollm2_path, corpus, verdicts, tmp_path / f"s{k}", "--shard", f"{k}/3")
        assert shard.exit_code == 0, shard.output
    whole = pq.read_table(tmp_path / "all" / "data.parquet").to_pylist()
    parts = [pq.read_table(tmp_path / f"s{k}" / "data.parquet").to_pylist() for k in range(3)]
    assert [len(p) for p in parts] == [3, 2, 2]
    joined = [row for part in parts for row in part]
    assert sorted(joined, key=lambda r: r["trajectory_id"]) == sorted(
        whole, key=lambda r: r["trajectory_id"]
    )
