"""The comparison table is computed from the stage files of a run folder alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srft.pipeline.compare import CompareError, compare, dataset_counts, final_loss


def write_dataset(folder: Path, rows: list[dict]) -> None:
    import datasets

    data = datasets.Dataset.from_list(
        [
            {
                "trajectory_id": f"t{i}",
                "outcome": r["outcome"],
                "num_tokens": r["tokens"],
                "num_trained": sum(e - s for s, e, trained in r["steps"] if trained),
                "steps": [
                    {"index": k, "start": s, "end": e, "trained": trained, "label": None}
                    for k, (s, e, trained) in enumerate(r["steps"])
                ],
            }
            for i, r in enumerate(rows)
        ]
    )
    data.save_to_disk(str(folder / "hf"))


def write_eval(path: Path, name: str, good: float, mistake: float | None) -> None:
    by_label = {"good": {"nll_per_token": good, "tokens": 10, "steps": 2}}
    if mistake is not None:
        by_label["mistake"] = {"nll_per_token": mistake, "tokens": 5, "steps": 1}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "format": "srft.eval",
                "version": 1,
                "dataset": {"path": "datasets/heldout", "rows_evaluated": 2},
                "models": {name: {"overall": {"nll_per_token": good}, "by_label": by_label}},
                "seconds": 1.0,
            }
        )
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    write_dataset(
        tmp_path / "datasets" / "sft",
        [
            {"outcome": "resolved", "tokens": 100, "steps": [(10, 20, True), (30, 40, True)]},
            {"outcome": "unresolved", "tokens": 80, "steps": [(10, 25, True), (30, 34, True)]},
        ],
    )
    write_dataset(
        tmp_path / "datasets" / "srft",
        [
            {"outcome": "resolved", "tokens": 100, "steps": [(10, 20, True), (30, 40, True)]},
            {"outcome": "unresolved", "tokens": 80, "steps": [(10, 25, True), (30, 34, False)]},
        ],
    )
    for policy, losses in (("sft", [2.0, 1.5]), ("srft", [2.1, 1.25])):
        run = tmp_path / "runs" / policy
        run.mkdir(parents=True)
        run.joinpath("metrics.jsonl").write_text(
            "".join(
                json.dumps({"step": i + 1, "loss": loss}) + "\n" for i, loss in enumerate(losses)
            )
        )
    write_eval(tmp_path / "eval" / "base.json", "base", 3.0, 3.5)
    write_eval(tmp_path / "eval" / "sft.json", "sft", 1.0, 1.2)
    write_eval(tmp_path / "eval" / "srft.json", "srft", 1.1, 2.4)
    return tmp_path


def test_masked_tokens_are_the_assistant_tokens_of_untrained_steps(run_dir: Path) -> None:
    counts = dataset_counts(run_dir / "datasets" / "srft")
    assert counts["trained_tokens"] == 10 + 10 + 15
    assert counts["masked_tokens"] == 4 and counts["masked_steps"] == 1
    assert (counts["trajectories"], counts["resolved"], counts["unresolved"]) == (2, 1, 1)


def test_the_final_loss_is_the_last_logged_optimizer_step(run_dir: Path) -> None:
    assert final_loss(run_dir / "runs" / "srft") == (1.25, 2)


def test_the_table_has_the_base_model_first_then_the_policies_in_config_order(
    run_dir: Path,
) -> None:
    table = compare(run_dir, ["srft", "sft"], base="base", evaluated=True)
    assert [r["policy"] for r in table["rows"]] == ["base", "srft", "sft"]
    srft = table["rows"][1]
    assert srft["nll"]["mistake"] == 2.4 and srft["nll"]["unnecessary"] is None
    assert srft["final_train_loss"] == 1.25 and srft["masked_tokens"] == 4


def test_the_markdown_table_shows_every_row_and_marks_missing_labels(run_dir: Path) -> None:
    compare(run_dir, ["sft", "srft"], base="base", evaluated=True)
    md = (run_dir / "comparison.md").read_text()
    assert "| srft | 2 | 35 | 4 | 1.250 | 1.100 | – | 2.400 | – | 1.100 |" in md
    assert md.splitlines()[2].startswith("| base |")


def test_the_eval_files_are_merged_with_the_base_model_first(run_dir: Path) -> None:
    compare(run_dir, ["sft", "srft"], base="base", evaluated=True)
    merged = json.loads((run_dir / "eval.json").read_text())
    assert merged["format"] == "srft.eval" and list(merged["models"]) == ["base", "sft", "srft"]


def test_a_missing_training_log_is_an_error_naming_the_file(run_dir: Path) -> None:
    (run_dir / "runs" / "sft" / "metrics.jsonl").unlink()
    with pytest.raises(CompareError, match=r"runs/sft/metrics\.jsonl: missing"):
        compare(run_dir, ["sft"], base=None, evaluated=False)
