"""eval.json, handoff.json, comparison.json and manifest.json through their specs."""

from __future__ import annotations

import json
import math

import pytest

from srft.files.base import FileFormatError
from srft.files.comparison import Comparison, ComparisonRow
from srft.files.evaluation import EVALUATION
from srft.files.handoff import HANDOFF, Handoff
from srft.files.run_manifest import Manifest, ManifestError, StageRecord


def test_reading_an_eval_file_of_another_format_is_an_error(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"format": "something", "version": 1}))
    with pytest.raises(FileFormatError, match="not an srft eval file"):
        EVALUATION.read(path)


def test_an_eval_file_never_holds_a_nan(tmp_path):
    with pytest.raises(ValueError, match="not JSON compliant"):
        EVALUATION.write(tmp_path / "eval.json", {"format": "srft.eval", "seconds": math.nan})
    assert not (tmp_path / "eval.json").exists()


def test_a_partial_eval_file_reads_back_as_it_was_written(tmp_path):
    data = {
        "format": "srft.eval",
        "version": 1,
        "dataset": {"path": "held-out", "rows_evaluated": 2},
        "models": {"base": {"by_label": {"good": {"nll_per_token": 1.5, "tokens": 4}}}},
    }
    (tmp_path / "eval.json").write_text(json.dumps(data))
    evaluation = EVALUATION.read(tmp_path / "eval.json")
    assert evaluation.models["base"].by_label["good"].steps == 0  # a default for the reader
    assert evaluation.as_written() == data  # but none added to what is passed on


def test_the_base_row_of_a_comparison_holds_its_name_and_nll_only():
    table = Comparison(
        heldout_trajectories=3,
        rows=[
            ComparisonRow(policy="base", nll={"good": 1.0}),
            ComparisonRow(policy="sft", trajectories=2, final_train_loss=None),
        ],
    ).as_written()
    assert table["format"] == "srft.comparison" and table["version"] == 1
    assert table["rows"] == [
        {"policy": "base", "nll": {"good": 1.0}},
        {"policy": "sft", "trajectories": 2, "final_train_loss": None},
    ]


def test_a_handoff_is_written_with_its_header_first(tmp_path):
    h = Handoff(
        name="s",
        model_dir="/m",
        merged=False,
        served_name="srft-s",
        port=8000,
        subset="lite",
        split="test",
        workers=2,
        agent_output="/o",
        run_id="srft-s",
    )
    HANDOFF.write(tmp_path / "handoff.json", h)
    text = (tmp_path / "handoff.json").read_text()
    assert text.startswith('{\n  "format": "srft.handoff",\n  "version": 1,\n  "name": "s",')
    assert HANDOFF.read(tmp_path / "handoff.json") == h


def test_a_run_manifest_round_trips_and_a_foreign_one_names_its_path(tmp_path):
    manifest = Manifest(
        srft_version="0",
        stages={"critic": StageRecord(kind="critic", status="done", input_hash="h")},
    )
    manifest.save(tmp_path)
    assert Manifest.load(tmp_path) == manifest
    assert (tmp_path / "manifest.json").read_text().endswith("}\n")
    (tmp_path / "manifest.json").write_text('{"format": "srft.eval", "version": 1}')
    with pytest.raises(ManifestError, match=r"manifest.json: not an srft run manifest"):
        Manifest.load(tmp_path)


def test_a_missing_run_manifest_is_an_empty_one(tmp_path):
    assert Manifest.load(tmp_path / "new") == Manifest()
