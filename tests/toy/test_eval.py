"""`srft toy eval`: students paired on the same episodes, written as rollout results.

The statistics themselves are the product's (tests/evaluate/test_rollout_stats.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("srft.toy", reason="the toy testbed (srft/toy/) is not installed")

from srft.toy.eval import evaluate_students, format_table, merge_evaluations, write_eval
from srft.toy.probe import decision_cases

from .toy_students import ScriptedStudent, tiny_llama


def test_students_are_paired_on_the_same_episodes(toy_tokenizer: Any) -> None:
    students = {
        "oracle": (ScriptedStudent(toy_tokenizer), toy_tokenizer),
        "first-hit": (ScriptedStudent(toy_tokenizer, oracle=False), toy_tokenizer),
    }
    result = evaluate_students(students, episodes=12, seed=3, temperatures=(0.0,))
    greedy = result["modes"]["greedy"]
    oracle, first = greedy["students"]["oracle"], greedy["students"]["first-hit"]
    assert oracle["success"]["rate"] == 1.0
    assert oracle["per_level"]["1"]["rate"] == first["per_level"]["1"]["rate"] == 1.0
    diff = sum(oracle["outcomes"]) - sum(first["outcomes"])
    assert greedy["paired"]["oracle - first-hit"]["diff"] == diff / 12
    assert "oracle" in format_table(result)
    # Every failure of the first-hit student is a first-hit edit, and the kinds say so.
    assert oracle["wrong_edit_kinds"] == dict.fromkeys(oracle["wrong_edit_kinds"], 0.0)
    assert first["wrong_edit_kinds"]["first_hit"] == first["wrong_edit_episodes"] > 0
    assert first["wrong_edit_kinds"]["first_hit"] == 1 - first["success"]["rate"]
    assert "wrong edits: wrong_value 0%  first_hit" in format_table(result)


def test_decision_probes_pose_a_wrong_first_hit_and_a_visible_wrong_edit() -> None:
    cases = decision_cases(5, seed=11)
    assert [c["probe"] for c in cases] == ["first_hit", "after_wrong_edit"] * 5
    for c in cases:
        assert c["right"] != c["wrong"]
    for c in cases[1::2]:
        assert "->" in c["context"][-1]["content"]
        assert c["wrong"].endswith("```bash\nsubmit\n```")


def test_probe_margins_are_kept_per_case_so_students_pair_case_by_case(toy_tokenizer: Any) -> None:
    from srft.toy.probe import run_probes

    a, b = tiny_llama(toy_tokenizer, seed=0), tiny_llama(toy_tokenizer, seed=1)
    first = run_probes(a, toy_tokenizer, n=3, seed=21)
    again = run_probes(a, toy_tokenizer, n=3, seed=21)
    other = run_probes(b, toy_tokenizer, n=3, seed=21)
    assert first == again
    for name in ("first_hit", "after_wrong_edit"):
        margins = first[name]["margins"]
        assert first[name]["n"] == len(margins) == len(other[name]["margins"]) == 3
        assert first[name]["margin"] == pytest.approx(sum(margins) / 3)
        assert first[name]["prefers_right"] == sum(m > 0 for m in margins) / 3
        assert margins != other[name]["margins"]


def test_students_evaluated_one_at_a_time_merge_into_the_joint_evaluation(
    toy_tokenizer: Any,
) -> None:
    students = {
        "first-hit": (ScriptedStudent(toy_tokenizer, oracle=False), toy_tokenizer),
        "oracle": (ScriptedStudent(toy_tokenizer), toy_tokenizer),
    }
    joint = evaluate_students(students, episodes=10, seed=5, temperatures=(0.0,))
    apart = [
        evaluate_students({name: s}, episodes=10, seed=5, temperatures=(0.0,))
        for name, s in students.items()
    ]
    merged = merge_evaluations(apart)
    assert merged["modes"] == joint["modes"]
    assert list(merged["modes"]["greedy"]["students"]) == ["first-hit", "oracle"]


def test_evaluations_on_different_episodes_do_not_merge(toy_tokenizer: Any) -> None:
    student = {"oracle": (ScriptedStudent(toy_tokenizer), toy_tokenizer)}
    a = evaluate_students(student, episodes=4, seed=5, temperatures=(0.0,))
    b = evaluate_students(student, episodes=4, seed=6, temperatures=(0.0,))
    with pytest.raises(ValueError, match="same episodes"):
        merge_evaluations([a, b])


def test_a_student_in_two_evaluations_is_refused_not_overwritten(toy_tokenizer: Any) -> None:
    student = {"oracle": (ScriptedStudent(toy_tokenizer), toy_tokenizer)}
    a = evaluate_students(student, episodes=3, seed=5, temperatures=(0.0,))
    with pytest.raises(ValueError, match="more than one evaluation"):
        merge_evaluations([a, a])


def test_the_toy_writes_the_rollout_files_the_report_tests_read(
    toy_tokenizer: Any, tmp_path: Path
) -> None:
    # tests/fixtures/rollouts/ stands in for the toy where the report is tested without it.
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "rollouts"
    for name, oracle in (("base", False), ("srft", True)):
        student = {name: (ScriptedStudent(toy_tokenizer, oracle=oracle), toy_tokenizer)}
        result = evaluate_students(student, episodes=20, seed=7, temperatures=(0.0, 1.0))
        write_eval(result, tmp_path / f"{name}.json")
        assert (tmp_path / f"{name}.json").read_text() == (fixtures / f"{name}.json").read_text()
