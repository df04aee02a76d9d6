"""The word-level toy tokenizer: exact round trips, no unknown tokens, a normal HF folder."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("srft.toy", reason="the toy testbed (srft/toy/) is not installed")

from srft.toy.env import make_episode
from srft.toy.protocol import SYSTEM_PROMPT, assistant_message, observation_message, task_message
from srft.toy.teacher import EDIT_THOUGHT, FIND, SUBMIT_THOUGHT, TeacherConfig, teach


@pytest.fixture(scope="module")
def tokenizer(toy_tokenizer: Any) -> Any:
    return toy_tokenizer


def _messages(seed: int) -> list[dict[str, str]]:
    episode = make_episode(seed, 3)
    run = teach(episode, TeacherConfig.preset("sloppy"), seed)
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": task_message(episode.issue)},
    ]
    for step in run.steps:
        messages.append(
            {"role": "assistant", "content": assistant_message(step.thought, step.command)}
        )
        messages.append({"role": "user", "content": observation_message(step.observation)})
    return messages


def test_a_rendered_trajectory_decodes_to_the_same_text(tokenizer: Any) -> None:
    for seed in (1000, 2000, 3000):
        text = tokenizer.apply_chat_template(_messages(seed), tokenize=False)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text


def test_generated_text_has_no_unknown_tokens(tokenizer: Any) -> None:
    for seed in range(5000, 5040):
        text = tokenizer.apply_chat_template(_messages(seed), tokenize=False)
        assert tokenizer.unk_token_id not in tokenizer(text, add_special_tokens=False)["input_ids"]


def test_a_file_name_or_a_value_is_one_token(tokenizer: Any) -> None:
    assert tokenizer.tokenize("edit db.cfg pool_size 25") == [
        "edit", " ", "db", ".", "cfg", " ", "pool", "_", "size", " ", "25",
    ]  # fmt: skip


def test_a_word_is_the_same_token_in_an_observation_and_in_a_command(tokenizer: Any) -> None:
    # So that acting on a grep hit is a plain copy of its tokens.
    hit = tokenizer("db.cfg:pool_size = 7", add_special_tokens=False)["input_ids"]
    command = tokenizer("edit db.cfg pool_size 7", add_special_tokens=False)["input_ids"]
    assert hit[:3] == command[2:5]  # db . cfg
    assert hit[4:7] == command[6:9]  # pool _ size
    assert hit[-1] == command[-1]  # 7


def test_the_chat_template_is_chatml_with_a_generation_prompt(tokenizer: Any) -> None:
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.eos_token == "<|im_end|>"


def test_the_system_prompt_and_the_teachers_thoughts_are_one_token_each(tokenizer: Any) -> None:
    assert tokenizer.tokenize(SYSTEM_PROMPT) == [SYSTEM_PROMPT]
    reply = assistant_message(f"{FIND} pool_size .", "grep pool_size")
    assert tokenizer.tokenize(reply)[:6] == ["THOUGHT:", " ", FIND, " ", "pool", "_"]
    for thought in (EDIT_THOUGHT, SUBMIT_THOUGHT):
        assert tokenizer.tokenize(assistant_message(thought, "submit"))[2] == thought


def test_toy_trajectories_are_short(tokenizer: Any) -> None:
    lengths = []
    for seed in range(40):
        text = tokenizer.apply_chat_template(_messages(seed), tokenize=False)
        lengths.append(len(tokenizer(text, add_special_tokens=False)["input_ids"]))
    assert 100 < max(lengths) < 700
