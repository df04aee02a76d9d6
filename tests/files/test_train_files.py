"""build.json, train.json and metrics.jsonl: one reader each, errors that name the file."""

from __future__ import annotations

import json

import pytest

from srft.files.base import FileFormatError
from srft.files.dataset_manifest import DatasetFolder, read_dataset_manifest
from srft.files.train_run import TRAIN_METRICS, is_train_run, read_train_metrics


def test_a_metrics_line_is_written_as_json_has_always_spaced_it():
    record = {"loss": 1.5, "lr": 1e-4, "grad_norm": None, "step": 3, "epoch": 0}
    assert TRAIN_METRICS.dumps(record) == json.dumps(record)


def test_a_bad_metrics_line_names_the_file_and_the_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 1}\n\n{"loss": 2}\n')
    with pytest.raises(FileFormatError, match=r"metrics.jsonl:3: step: Field required"):
        read_train_metrics(tmp_path)


def test_a_run_folder_is_one_holding_train_json_and_its_model(tmp_path):
    (tmp_path / "train.json").write_text("{}")
    assert not is_train_run(tmp_path)
    (tmp_path / "model").mkdir()
    assert is_train_run(tmp_path)


def test_a_folder_whose_manifest_is_of_another_format_is_refused_by_name(tmp_path):
    (tmp_path / "build.json").write_text('{"format": "something-else"}')
    with pytest.raises(FileFormatError, match=r"build.json: not an srft dataset \(format="):
        read_dataset_manifest(tmp_path)


def test_a_dataset_folder_without_build_json_reads_as_no_manifest_fields(tmp_path):
    assert DatasetFolder(tmp_path).manifest_fields() == {}
    with pytest.raises(FileFormatError, match=r"build\.json: no such file"):
        read_dataset_manifest(tmp_path)


def test_a_folder_with_neither_form_of_the_rows_says_so(tmp_path):
    folder = DatasetFolder(tmp_path)
    assert folder.rows_missing() == "not a dataset folder (no hf/ and no data.parquet)"
    folder.parquet.write_bytes(b"")
    assert folder.rows_missing() is None
