"""Student rollouts: the loop's plumbing, with scripted students and a real tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("srft.toy", reason="the toy testbed (srft/toy/) is not installed")

from srft.toy.env import ConfigRepo
from srft.toy.generate import episodes as make_episodes
from srft.toy.rollout import EpisodeRollout, load_student, rollout

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


def played(episode: Any, commands: list[str]) -> EpisodeRollout:
    """An episode rollout of fixed commands, run in the environment."""
    run = EpisodeRollout(episode=episode, repo=ConfigRepo(episode), messages=[])
    for c in commands:
        run.commands.append(c)
        run.observations.append(run.repo.run(c))
    return run


def test_each_wrong_edit_is_named_by_the_line_it_changed(tokenizer: Any) -> None:
    e = next(x for x in make_episodes(60, seed=6, levels=(3,)) if len(x.files) > 2)
    grep = ConfigRepo(e).run(f"grep {e.target_key}").output.splitlines()
    hits = [line.split(" = ")[0].split(":") for line in grep]
    first, other = hits[0], next(h for h in hits[1:] if h != [e.target_file, e.target_key])
    assert first != [e.target_file, e.target_key]  # level 3: the key is in other files too
    plain_file, lines = next(
        (n, lines) for n, lines in e.files.items() if all(e.target_key not in k for k, _ in lines)
    )
    wrong_value = str(int(e.new_value) + 1)
    run = played(
        e,
        [
            f"grep {e.target_key}",
            f"edit {first[0]} {first[1]} {e.new_value}",
            f"edit {other[0]} {other[1]} {e.new_value}",
            f"edit {plain_file} {lines[0][0]} {e.new_value}",
            f"edit {e.target_file} {e.target_key} {wrong_value}",
            f"edit {e.target_file} no_such_key {e.new_value}",  # fails: not an edit
            f"edit {e.target_file} {e.target_key} {e.new_value}",  # the right edit
        ],
    )
    assert run.wrong_edit_kinds() == ["first_hit", "other_hit", "other_line", "wrong_value"]
    assert run.wrong_edits == 4
    right = played(
        e, [f"grep {e.target_key}", f"edit {e.target_file} {e.target_key} {e.new_value}"]
    )
    assert right.wrong_edit_kinds() == []


def test_a_first_hit_students_wrong_edits_are_all_first_hits(tokenizer: Any) -> None:
    eps = make_episodes(30, seed=6, levels=(3,))
    runs = rollout(ScriptedStudent(tokenizer, oracle=False), tokenizer, eps)
    kinds = [k for r in runs for k in r.wrong_edit_kinds()]
    assert kinds and set(kinds) == {"first_hit"}
    assert len(kinds) == sum(not r.resolved for r in runs)


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
