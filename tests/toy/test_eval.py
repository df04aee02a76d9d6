"""The statistics of `srft toy eval`: Wilson intervals and paired differences."""

from __future__ import annotations

from typing import Any

import pytest

from srft.toy.eval import (
    evaluate_students,
    format_table,
    merge_evaluations,
    paired_difference,
    wilson,
)
from srft.toy.probe import decision_cases
from srft.toy.stats import seed_level_difference, t975

from .toy_students import ScriptedStudent, tiny_llama


def test_wilson_interval_matches_known_values() -> None:
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4)
    assert hi == pytest.approx(0.7634, abs=1e-4)


def test_wilson_interval_at_zero_successes_is_not_degenerate() -> None:
    lo, hi = wilson(0, 10)
    assert lo == 0.0
    assert hi == pytest.approx(0.2775, abs=1e-4)


def test_wilson_interval_without_trials_is_everything() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


def test_paired_difference_of_identical_outcomes_is_exactly_zero() -> None:
    d = paired_difference([True, False, True], [True, False, True])
    assert (d["diff"], d["lo"], d["hi"]) == (0.0, 0.0, 0.0)


def test_paired_difference_is_the_mean_of_per_episode_differences() -> None:
    a = [True] * 30 + [False] * 70
    b = [False] * 10 + [True] * 10 + [False] * 80
    d = paired_difference(a, b)
    assert d["diff"] == pytest.approx(0.20)
    assert d["lo"] < 0.20 < d["hi"]
    assert d["lo"] > 0


def test_paired_difference_of_margins_keeps_fractions() -> None:
    d = paired_difference([1.5, -0.25, 2.0], [0.5, -0.75, 1.0])
    assert d["diff"] == pytest.approx((1.0 + 0.5 + 1.0) / 3)
    assert d["lo"] < d["diff"] < d["hi"]


def test_paired_difference_needs_equal_lengths() -> None:
    with pytest.raises(ValueError, match="equally long"):
        paired_difference([True], [True, False])


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


def test_students_t_quantiles_match_the_tables_and_approach_the_normal() -> None:
    assert t975(1) == pytest.approx(12.706, abs=1e-3)
    assert t975(7) == pytest.approx(2.365, abs=1e-3)
    assert t975(40) == pytest.approx(2.021, abs=1e-3)
    assert t975(120) == pytest.approx(1.980, abs=1e-3)
    assert t975(31) < t975(30)
    with pytest.raises(ValueError, match="degree of freedom"):
        t975(0)


def test_a_seed_level_interval_is_wider_when_seeds_disagree() -> None:
    # Same mean difference, but one policy only wins in some seeds.
    steady = seed_level_difference([0.3, 0.4, 0.3, 0.4])
    split = seed_level_difference([-0.9, 1.2, -0.3, 1.4])
    assert steady["diff"] == pytest.approx(split["diff"])
    assert steady["lo"] > 0
    assert split["lo"] < 0 < split["hi"]
    # Known value: mean 0.35, sd 0.0577, t(3) = 3.182 -> half-width 0.0919.
    assert steady["hi"] - steady["diff"] == pytest.approx(3.182 * 0.057735 / 2, abs=1e-4)
    with pytest.raises(ValueError, match="two seeds"):
        seed_level_difference([1.0])
