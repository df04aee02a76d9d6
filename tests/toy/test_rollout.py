"""Student rollouts: the loop's plumbing, with scripted students and a real tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from srft.toy.generate import episodes as make_episodes
from srft.toy.rollout import load_student, rollout

from .toy_students import Babbler, ScriptedStudent, WrongFileStudent, tiny_llama


@pytest.fixture(scope="module")
def tokenizer(toy_tokenizer: Any) -> Any:
    return toy_tokenizer


def test_an_oracle_student_resolves_every_episode(tokenizer: Any) -> None:
    runs = rollout(ScriptedStudent(tokenizer), tokenizer, make_episodes(12, seed=5), batch_size=5)
    assert all(r.resolved for r in runs)
    assert all(r.stop == "submitted" and r.steps == 3 for r in runs)
    assert sum(r.errors for r in runs) == 0
    assert sum(r.wrong_edits for r in runs) == 0


def test_a_first_hit_student_fails_where_the_first_hit_is_wrong(tokenizer: Any) -> None:
    eps = make_episodes(30, seed=6, levels=(3,))
    runs = rollout(ScriptedStudent(tokenizer, oracle=False), tokenizer, eps)
    for r in runs:
        assert r.resolved == (r.wrong_edits == 0)
    assert 0 < sum(r.resolved for r in runs) < 30


def test_partial_skills_credit_what_a_student_got_right_on_the_way(tokenizer: Any) -> None:
    oracle = rollout(ScriptedStudent(tokenizer), tokenizer, make_episodes(6, seed=5))
    assert all(r.skills() == dict.fromkeys(r.skills(), True) for r in oracle)
    eps = make_episodes(30, seed=6, levels=(3,))
    first_hit = rollout(ScriptedStudent(tokenizer, oracle=False), tokenizer, eps)
    for r in first_hit:
        skills = r.skills()
        assert skills["grep_key"] and skills["write_right_value"]
        assert skills["edit_right_line"] == r.resolved  # it edits the first hit, with the new value
    babble = rollout(Babbler(tokenizer), tokenizer, make_episodes(3, seed=7), max_steps=2)
    assert not any(any(r.skills().values()) for r in babble)


def test_the_key_rung_counts_an_edit_of_the_issues_key_even_in_the_wrong_file(
    tokenizer: Any,
) -> None:
    # What the CPU-scale students do: copy the key from the issue, but not the file from the hit.
    runs = rollout(WrongFileStudent(tokenizer), tokenizer, make_episodes(6, seed=5), max_steps=3)
    for r in runs:
        assert r.skills() == {
            "grep_key": True,
            "edit_key": True,
            "edit_right_line": False,
            "write_right_value": False,
        }
        assert not r.resolved


def test_a_reply_without_a_bash_block_gets_a_format_error_until_the_step_limit(
    tokenizer: Any,
) -> None:
    runs = rollout(Babbler(tokenizer), tokenizer, make_episodes(3, seed=7), max_steps=4)
    for r in runs:
        assert r.stop == "step_limit"
        assert r.steps == r.errors == 4
        assert "EXACTLY ONE action" in r.messages[-1]["content"]
        assert not r.resolved


@pytest.mark.slow
def test_a_tiny_random_model_rolls_out_greedy_and_sampled(tokenizer: Any, tmp_path: Path) -> None:
    tiny_llama(tokenizer, max_positions=512).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    model, tok = load_student(tmp_path)
    eps = make_episodes(4, seed=8)
    for temperature in (0.0, 1.0):
        runs = rollout(model, tok, eps, temperature=temperature, max_steps=2, max_new_tokens=8)
        assert [r.episode for r in runs] == eps
        assert all((r.steps == 2 and r.stop == "step_limit") or r.done for r in runs)
        assert not any(r.resolved for r in runs)


def test_loading_a_folder_without_a_model_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_student(tmp_path)
