"""`srft run` end to end on real trajectories (../shared/data): two policies, a tiny model.

One run folder goes through three invocations: the first does everything, the second nothing,
and the third, with one policy added, only that policy's build, train and evaluation plus the
comparison and the report.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from srft.pipeline.run import RunResult, run_config

pytestmark = [pytest.mark.slow, pytest.mark.shared]

DEEPSEEK = "mini-swe-agent-v2-deepseek"


def write_config(folder: Path, data_dir: Path, student: Path, policies: list[str]) -> Path:
    config = {
        "name": "e2e on DeepSeek trajectories",
        "run_dir": "run",
        "inputs": [str(data_dir / DEEPSEEK)],  # its run summary carries the outcomes
        "critic": {"name": "rules"},
        "policies": policies,
        # Long enough to reach a `mistake` step in training and in the held-out trajectory.
        "build": {"max_length": 6144, "overlong": "truncate"},
        "train": {
            "model": str(student),
            "options": {
                "max_steps": 2,
                "full": True,
                "learning_rate": 1e-3,
                "per_device_train_batch_tokens": 8192,
                "progress": False,
            },
        },
        "evaluate": {"heldout_fraction": 0.25, "seed": 0},
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def first(run_folder: Path, shared_trajectories: Path, tiny_student: Path) -> RunResult:
    config = write_config(run_folder, shared_trajectories, tiny_student, ["sft", "srft"])
    return run_config(config, log=lambda m: None)


@pytest.fixture(scope="module")
def second(first: RunResult, run_folder: Path) -> RunResult:
    return run_config(run_folder / "run.yaml", log=lambda m: None)


@pytest.fixture(scope="module")
def third(
    second: RunResult, run_folder: Path, shared_trajectories: Path, tiny_student: Path
) -> RunResult:
    config = write_config(run_folder, shared_trajectories, tiny_student, ["sft", "srft", "rft"])
    return run_config(config, log=lambda m: None)


def comparison(result: RunResult) -> dict[str, dict]:
    table = json.loads((result.run_dir / "comparison.json").read_text())
    assert table["format"] == "srft.comparison"
    return {row["policy"]: row for row in table["rows"]}


def test_the_first_run_does_every_stage_and_records_it_in_the_manifest(first: RunResult) -> None:
    assert first.ran == [
        "ingest",
        "critic",
        "split",
        "build/sft",
        "train/sft",
        "build/srft",
        "train/srft",
        "build/heldout",
        "eval/base",
        "eval/sft",
        "eval/srft",
        "compare",
        "report",
    ]
    manifest = json.loads((first.run_dir / "manifest.json").read_text())
    assert manifest["format"] == "srft.run"
    assert {s["status"] for s in manifest["stages"].values()} == {"done"}


def test_the_comparison_has_a_row_per_policy_and_the_base_model(first: RunResult) -> None:
    rows = comparison(first)
    assert list(rows) == ["base", "sft", "srft"]
    assert rows["sft"]["trajectories"] == rows["srft"]["trajectories"] == 3
    for policy in ("sft", "srft"):
        assert rows[policy]["optimizer_steps"] == 2
        assert math.isfinite(rows[policy]["final_train_loss"])
    assert "| srft | 3 |" in first.comparison.read_text()


def test_srft_masks_the_mistake_steps_that_sft_trains(first: RunResult) -> None:
    rows = comparison(first)
    assert rows["sft"]["masked_tokens"] == 0
    assert rows["srft"]["masked_tokens"] > 0
    assert (
        rows["srft"]["trained_tokens"] + rows["srft"]["masked_tokens"]
        == rows["sft"]["trained_tokens"]
    )


def test_heldout_nll_is_reported_per_label_for_every_model(first: RunResult) -> None:
    rows = comparison(first)
    for name in ("base", "sft", "srft"):
        nll = rows[name]["nll"]
        assert nll["good"] is not None and nll["mistake"] is not None
        assert all(v is None or math.isfinite(v) for v in nll.values())
    merged = json.loads((first.run_dir / "eval.json").read_text())
    assert list(merged["models"]) == ["base", "sft", "srft"]


def test_the_report_is_written_with_every_policy(first: RunResult) -> None:
    assert first.report is not None
    html = first.report.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert '"srft"' in html and '"sft"' in html


def test_a_second_run_with_nothing_changed_does_no_work(second: RunResult) -> None:
    assert second.ran == []
    assert {o.decision for o in second.outcomes} == {"skip"}


def test_adding_a_policy_reruns_only_its_build_train_eval_and_the_comparison(
    third: RunResult,
) -> None:
    assert third.ran == ["build/rft", "train/rft", "eval/rft", "compare", "report"]
    rows = comparison(third)
    assert list(rows) == ["base", "sft", "srft", "rft"]
    assert (
        rows["rft"]["unresolved"] == 0 and rows["rft"]["trajectories"] < rows["sft"]["trajectories"]
    )
