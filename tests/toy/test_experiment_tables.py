"""The toy experiment's tables when each student trains in its own process and folder (the CPU
recipe): folders merge by (episodes, teacher, seed, step), and students pair over shared seeds."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("srft.toy", reason="the toy testbed (srft/toy/) is not installed")

from srft.toy.eval import evaluate_students

from .toy_students import ScriptedStudent

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "toy" / "toy_results.py"


@pytest.fixture(scope="module")
def tables() -> Any:
    spec = importlib.util.spec_from_file_location("toy_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def evaluations(toy_tokenizer: Any) -> dict[str, dict[str, Any]]:
    """One evaluation per student on the same 6 episodes: `rft` plays perfectly, `srft-true`
    always edits the first grep hit (so it fails on the levels with decoys)."""
    scripts = {"rft": True, "srft-true": False}
    return {
        name: evaluate_students(
            {name: (ScriptedStudent(toy_tokenizer, oracle=oracle), toy_tokenizer)},
            episodes=6,
            seed=5,
            temperatures=(0.0,),
            probes=0,
        )
        for name, oracle in scripts.items()
    }


def write_results(folder: Path, name: str, ev: dict[str, Any], at: list[tuple[int, int]]) -> None:
    """A `results.jsonl` of one student, one record per (seed, step), as `run` writes it."""
    folder.mkdir()
    with (folder / "results.jsonl").open("w") as f:
        for seed, step in at:
            record = {
                "setting": "default",
                "seed": seed,
                "step": step,
                "train_episodes": 100,
                "datasets": {name: {}},
                "final_loss": {name: 0.5},
                "eval": ev,
            }
            f.write(json.dumps(record) + "\n")


def test_folders_of_one_student_each_merge_into_paired_records(
    tables: Any, evaluations: dict[str, Any], tmp_path: Path
) -> None:
    write_results(tmp_path / "rft", "rft", evaluations["rft"], [(0, 10), (1, 10)])
    write_results(tmp_path / "srft", "srft-true", evaluations["srft-true"], [(0, 10), (1, 10)])
    records = tables.merged_results([tmp_path / "rft", tmp_path / "srft"])
    assert [(r["seed"], r["step"]) for r in records] == [(0, 10), (1, 10)]
    for r in records:
        assert list(tables.students(r)) == ["rft", "srft-true"]
        assert set(r["final_loss"]) == {"rft", "srft-true"}
    rft = evaluations["rft"]["modes"]["greedy"]["students"]["rft"]["success"]["rate"]
    first = evaluations["srft-true"]["modes"]["greedy"]["students"]["srft-true"]
    assert rft == 1.0 and first["success"]["rate"] < 1.0
    table = tables.summarise(records)
    # Two seeds pair: the pooled interval and the interval over seeds are both printed.
    row = next(x for x in table.splitlines() if x.startswith("| srft-true - rft | 2 |"))
    assert f"{first['success']['rate'] - 1.0:+.1%}" in row
    assert row.endswith("| 0 of 2 |")
    assert "| - |" not in row


def test_a_student_is_shown_at_a_step_only_with_all_its_seeds(
    tables: Any, evaluations: dict[str, Any], tmp_path: Path
) -> None:
    write_results(tmp_path / "rft", "rft", evaluations["rft"], [(0, 10), (1, 10), (0, 20)])
    write_results(
        tmp_path / "srft",
        "srft-true",
        evaluations["srft-true"],
        [(0, 10), (1, 10), (0, 20), (1, 20)],
    )
    records = tables.merged_results([tmp_path / "rft", tmp_path / "srft"])
    by_step = tables.by_experiment(records)[(100, "default")]
    assert set(by_step[10]) == {"rft", "srft-true"}
    assert set(by_step[20]) == {"srft-true"}  # rft's seed 1 has not reached step 20
    assert [r["seed"] for r in by_step[20]["srft-true"]] == [0, 1]
    # The learning curve compares both students over the steps both reached.
    curves = tables.learning_curves(records)
    assert "| 100 | default | 10-10 (1) | rft | 2 | 100.0% |" in curves
    assert "| 100 | default | srft-true - rft | 2 |" in curves
    # The same over a rung of the skill ladder: the first-hit student edits the right line only
    # where the first hit is right, the perfect one always.
    files = tables.learning_curves(records, measure="edit_right_line")
    assert "| 100 | default | 10-10 (1) | rft | 2 | 100.0% | 100.0%, 100.0% |" in files
    first_hit = evaluations["srft-true"]["modes"]["greedy"]["students"]["srft-true"]
    right_line = first_hit["skills"]["edit_right_line"]
    assert right_line < 1.0
    assert f"| srft-true - rft | 2 | {right_line - 1.0:+.1%} | " in files
    with pytest.raises(ValueError, match="unknown measure"):
        tables.learning_curves(records, measure="edit_wrong_line")
    # When each copy came: the perfect student shows every rung at its first evaluation.
    copies = tables.copy_steps(records)
    assert "| 100 | default | rft | 1 | 10 | 10 | 10 | 10 | 100% |" in copies
    assert "| 100 | default | srft-true | 1 | " in copies


def test_one_student_trained_twice_for_the_same_seed_is_refused(
    tables: Any, evaluations: dict[str, Any], tmp_path: Path
) -> None:
    write_results(tmp_path / "a", "rft", evaluations["rft"], [(0, 10)])
    write_results(tmp_path / "b", "rft", evaluations["rft"], [(0, 10)])
    with pytest.raises(ValueError, match="more than one evaluation"):
        tables.merged_results([tmp_path / "a", tmp_path / "b"])


def test_the_compact_table_has_columns_for_the_students_trained_only(
    tables: Any, evaluations: dict[str, Any], tmp_path: Path
) -> None:
    # An ablation student (rft's rows, mistakes masked) pairs with rft like the students.
    masked = json.loads(json.dumps(evaluations["srft-true"]).replace('"srft-true"', '"rft-masked"'))
    write_results(tmp_path / "rft", "rft", evaluations["rft"], [(0, 10), (1, 10)])
    write_results(tmp_path / "masked", "rft-masked", masked, [(0, 10), (1, 10)])
    table = tables.across(tables.merged_results([tmp_path / "rft", tmp_path / "masked"]))
    # The evaluations ran without probes: the probe table is its head only.
    head, _, _, success_head, _, success_row = table.splitlines()
    assert head == (
        "| episodes | teacher | step | seeds | probe | rft | rft-masked | rft-masked - rft |"
    )
    assert success_head == "| episodes | teacher | step | mode | rft | rft-masked |"
    assert success_row.startswith("| 100 | default | 10 | greedy | 100.0% ")
    assert "srft-true" not in table
