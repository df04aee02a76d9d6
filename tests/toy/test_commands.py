"""The `srft toy` commands and the toy data through the product's builder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("srft.toy", reason="the toy testbed (srft/toy/) is not installed")

from srft.cli import app
from srft.corpus.ingest import ingest
from srft.critic.run import run_critic
from srft.files.corpus import CORPUS
from srft.files.verdicts import load_verdicts


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy-cli")
    result = CliRunner().invoke(
        app, ["toy", "generate", "-o", str(out), "--episodes", "24", "--teacher", "sloppy"]
    )
    assert result.exit_code == 0, result.output
    return out


def test_generate_reports_the_teachers_success_and_labels(generated: Path) -> None:
    manifest = json.loads((generated / "toy.json").read_text())
    assert manifest["format"] == "srft.toy-data"
    assert manifest["episodes"] == 24
    assert manifest["teacher"]["first_hit"] == 0.85
    assert sum(manifest["labels"].values()) == manifest["steps"]


def test_generate_rejects_an_unknown_teacher(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["toy", "generate", "-o", str(tmp_path), "--teacher", "nope"])
    assert result.exit_code != 0
    assert "unknown teacher preset" in result.output


def test_eval_names_a_folder_without_a_model(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["toy", "eval", "--model", str(tmp_path), "--episodes", "2"])
    assert result.exit_code != 0
    assert "no model here" in result.output


def test_the_srft_dataset_masks_exactly_the_true_mistakes_of_unresolved_runs(
    generated: Path, toy_tokenizer_dir: Path, tmp_path: Path
) -> None:
    from srft.dataset.build import build_dataset, load_dataset_folder

    corpus = tmp_path / "corpus.jsonl"
    ingest([generated / "trajs"], labels=[generated / "toy.teacher.json"], output=corpus)
    # The teacher's labels are keyed by instance; the file critic gives them to the runs.
    run_critic(corpus, tmp_path / "verdicts.jsonl", "file", labels_from=generated / "labels.jsonl")
    instance_of = {t.id: t.instance_id for t in CORPUS.read(corpus)}
    build_dataset(
        corpus,
        tmp_path / "verdicts.jsonl",
        policy="srft",
        tokenizer=str(toy_tokenizer_dir),
        output=tmp_path / "ds",
        max_length=1024,
    )
    verdicts = load_verdicts(generated / "labels.jsonl")
    summary = json.loads((generated / "toy.teacher.json").read_text())
    rows = load_dataset_folder(tmp_path / "ds")
    assert len(rows) == 24
    for row in rows:
        instance = instance_of[row["trajectory_id"]]
        labels = verdicts[instance].labels()
        resolved = instance in summary["resolved_ids"]
        trained = [s["trained"] for s in row["steps"]]
        assert trained == [resolved or label != "mistake" for label in labels]
