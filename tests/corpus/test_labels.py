"""Outcome labels from every supported label-file shape, keyed by instance id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srft.corpus.outcomes import LabelBook, looks_like_labels, parse_label_file
from srft.files.corpus import CorpusError, Outcome


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_bare_report_takes_the_instance_id_from_its_folder(fixtures_dir):
    path = fixtures_dir / "mini-swe-agent-v1/logs/calc__div-2/report.json"
    assert parse_label_file(path) == [("calc__div-2", False)]


def test_report_keyed_by_instance_id(fixtures_dir):
    assert parse_label_file(fixtures_dir / "labels/report_keyed.json") == [("calc__add-1", True)]


def test_run_summary_resolved_unresolved_and_empty_patch_ids(fixtures_dir):
    entries = parse_label_file(fixtures_dir / "mini-swe-agent-v2/fixture-model.run_summary.json")
    assert sorted(entries) == [
        ("strs__never-run-9", False),
        ("strs__pad-3", True),
        ("strs__upper-4", False),
    ]


def test_instances_summary(fixtures_dir):
    assert parse_label_file(fixtures_dir / "labels/instances.json") == [
        ("strs__pad-3", True),
        ("strs__upper-4", False),
    ]


def test_csv_labels(fixtures_dir):
    assert ("calc__div-2", False) in parse_label_file(fixtures_dir / "labels/labels.csv")


def test_jsonl_labels(fixtures_dir):
    assert parse_label_file(fixtures_dir / "labels/labels.jsonl") == [
        ("strs__pad-3", True),
        ("strs__upper-4", False),
    ]


def test_swebench_eval_jsonl_lines_are_labels(tmp_path):
    path = tmp_path / "run.swebench_eval.jsonl"
    path.write_text(
        json.dumps({"instance_id": "a__b-1", "test_result": {"report": {"resolved": 1}}})
    )
    assert parse_label_file(path) == [("a__b-1", True)]


def test_trajectory_files_do_not_look_like_labels(fixtures_dir):
    assert not looks_like_labels(fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json")
    assert not looks_like_labels(fixtures_dir / "openai-chat/swe_gym_rows.jsonl")
    assert not looks_like_labels(fixtures_dir / "swe-agent/greet__typo-5.traj")


def test_label_files_look_like_labels(fixtures_dir):
    for name in ("labels.csv", "labels.jsonl", "instances.json", "report_keyed.json"):
        assert looks_like_labels(fixtures_dir / "labels" / name), name


def test_a_bad_resolved_flag_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("instance_id,resolved\na__b-1,maybe\n")
    with pytest.raises(CorpusError, match=r"labels\.csv:2: 'maybe' is not a resolved flag"):
        parse_label_file(path)


def test_agreeing_labels_from_two_files_are_fine(tmp_path):
    book = LabelBook()
    book.load(write(tmp_path / "a.json", {"resolved_ids": ["x__y-1"]}))
    book.load(
        write(tmp_path / "b.json", {"instances": [{"instance_id": "x__y-1", "resolved": True}]})
    )
    assert book.apply(Outcome(), "x__y-1").status == "resolved"


def test_the_outcome_names_the_label_file(tmp_path):
    book = LabelBook()
    path = write(tmp_path / "a.json", {"unresolved_ids": ["x__y-1"]})
    book.load(path)
    assert book.apply(Outcome(), "x__y-1") == Outcome(status="unresolved", source=str(path))


def test_unused_labels_are_the_unknown_instances(tmp_path):
    book = LabelBook()
    book.load(write(tmp_path / "a.json", {"resolved_ids": ["x__y-1", "x__y-2"]}))
    book.apply(Outcome(), "x__y-1")
    assert book.unknown_instances() == ["x__y-2"]


def test_label_files_among_the_inputs_label_the_trajectories(ingest_one, fixtures_dir):
    corpus = ingest_one(fixtures_dir / "mini-swe-agent-v1")
    assert corpus["calc__add-1"].outcome.status == "resolved"
    assert corpus["calc__div-2"].outcome.status == "unresolved"
    assert corpus["calc__div-2"].outcome.source.endswith("logs/calc__div-2/report.json")


def test_explicit_labels_label_the_trajectories(ingest_one, fixtures_dir):
    corpus = ingest_one(
        fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json",
        labels=[fixtures_dir / "labels/labels.jsonl"],
    )
    assert corpus["strs__pad-3"].outcome.status == "resolved"


def test_a_labels_folder_contributes_every_labels_file_in_it(ingest_one, fixtures_dir):
    corpus = ingest_one(
        *sorted((fixtures_dir / "mini-swe-agent-v1").rglob("*.traj.json")),
        labels=[fixtures_dir / "mini-swe-agent-v1" / "logs"],
    )
    assert corpus["calc__add-1"].outcome.status == "resolved"
    assert corpus["calc__div-2"].outcome.status == "unresolved"


def test_a_labels_folder_without_labels_is_an_error_naming_it(ingest_one, fixtures_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no outcome-label files"):
        ingest_one(
            fixtures_dir / "mini-swe-agent-v2/strs__pad-3.traj.json", labels=[tmp_path / "empty"]
        )
