"""Prompt rendering: what the critic is shown, within the budget, in each mode."""

from __future__ import annotations

import pytest

from srft.critic.prompt import (
    AnswerError,
    Hindsight,
    PromptBuilder,
    PromptTemplate,
    PromptTooLong,
    parse_answer,
)

from .helpers import shell_step, simple, trajectory


def user_text(request):
    return request.messages[1]["content"]


def test_whole_mode_shows_the_task_and_every_numbered_step_and_asks_for_all_keys():
    t = simple("a", 3, task="Make parse() accept empty strings.", mistake_at=1)
    [req] = PromptBuilder().plan(t, "whole")
    text = user_text(req)
    assert "Make parse() accept empty strings." in text
    assert all(f"## Step {i}" in text for i in range(3))
    assert "pyhton run.py" in text and "command not found" in text and "(exit code 127)" in text
    assert req.schema["required"] == ["0", "1", "2"]


def test_hindsight_shows_outcome_and_patch_and_records_what_was_used():
    t = trajectory([shell_step("ls", "a", 0)], status="unresolved", patch="--- a\n+++ b\n+fix")
    builder = PromptBuilder()
    text = user_text(builder.plan(t, "whole")[0])
    assert "unresolved" in text and "+fix" in text
    assert builder.used(t) == {
        "outcome": True,
        "patch": True,
        "evaluation": False,
        "reference_patch": False,
    }


def test_each_hindsight_input_can_be_switched_off():
    t = trajectory([shell_step("ls", "a", 0)], status="unresolved", patch="+fix")
    builder = PromptBuilder(hindsight=Hindsight(outcome=False, patch=False))
    text = user_text(builder.plan(t, "whole")[0])
    assert "unresolved" not in text and "+fix" not in text
    assert builder.used(t)["outcome"] is False and builder.used(t)["patch"] is False


def test_a_reference_patch_is_shown_as_privileged_information():
    t = trajectory([shell_step("ls", "a", 0)], tid="x")
    builder = PromptBuilder(hindsight=Hindsight(reference_patches={"inst-x": "+gold line"}))
    text = user_text(builder.plan(t, "whole")[0])
    assert "reference solution" in text and "+gold line" in text
    assert builder.used(t)["reference_patch"] is True


def test_a_long_observation_is_cut_head_and_tail_with_a_marker_within_the_budget():
    long = "HEAD " + "y" * 40_000 + " TAIL"
    t = trajectory([shell_step("cat big.log", long, 0), shell_step("ls", "a", 0)])
    builder = PromptBuilder(max_prompt_tokens=2_000)
    [req] = builder.plan(t, "whole")
    text = user_text(req)
    assert "HEAD" in text and "TAIL" in text and "characters omitted" in text
    assert req.estimated_tokens <= 2_000


def test_a_trajectory_too_long_for_whole_mode_says_to_use_window_mode():
    t = simple("a", 60, output_chars=400)
    with pytest.raises(PromptTooLong, match="in windows"):
        PromptBuilder(max_prompt_tokens=1_000).plan(t, "whole")


def test_window_mode_labels_every_step_once_and_always_shows_the_task():
    t = simple("a", 40, task="THE TASK", output_chars=400)
    builder = PromptBuilder(max_prompt_tokens=2_000, window_overlap=2)
    requests = builder.plan(t, "window")
    labelled = [k for r in requests for k in r.window.keys]
    assert len(requests) > 1 and labelled == [str(i) for i in range(40)]
    assert all("THE TASK" in user_text(r) for r in requests)
    assert all(r.estimated_tokens <= 2_000 for r in requests)
    second = requests[1]
    assert second.window.context == second.window.start - 2
    assert f"## Step {second.window.start - 1}" in user_text(second).split("# Steps to judge")[0]


def test_per_step_mode_asks_once_per_step_with_the_steps_before_it():
    t = simple("a", 5)
    requests = PromptBuilder().plan(t, "per-step")
    assert [r.window.keys for r in requests] == [["0"], ["1"], ["2"], ["3"], ["4"]]
    assert all(r.window.context == 0 for r in requests)
    assert "## Step 3" in user_text(requests[4]) and "## Step 4" in user_text(requests[4])


def test_a_user_template_replaces_the_shipped_one_and_gets_its_own_version(tmp_path):
    (tmp_path / "system.j2").write_text("Judge.")
    (tmp_path / "user.j2").write_text(
        "{{ task }}|{{ keys }}{% for s in steps %}{{ s }}{% endfor %}"
    )
    builder = PromptBuilder(template=PromptTemplate.from_dir(tmp_path))
    [req] = builder.plan(simple("a", 2, task="T"), "whole")
    assert req.messages[0]["content"] == "Judge." and user_text(req).startswith('T|["0", "1"]')
    assert builder.template.version.startswith("custom-")


def test_an_answer_in_a_code_fence_is_accepted():
    steps = parse_answer('```json\n{"0": {"label": "mistake", "reason": "typo"}}\n```', ["0"])
    assert [(s.index, s.label, s.reason) for s in steps] == [(0, "mistake", "typo")]


def test_an_answer_with_missing_and_extra_steps_says_which():
    with pytest.raises(AnswerError, match="steps 1 are missing; keys 7 are not steps"):
        parse_answer(
            '{"0": {"label": "good", "reason": ""}, "7": {"label": "good", "reason": ""}}',
            ["0", "1"],
        )


def test_an_unknown_label_is_rejected_naming_the_step():
    with pytest.raises(AnswerError, match="step 0: label"):
        parse_answer('{"0": {"label": "fine", "reason": ""}}', ["0"])


def test_a_raw_newline_inside_a_reason_does_not_make_the_answer_invalid():
    steps = parse_answer('{"0": {"label": "good", "reason": "reads\nthe file"}}', ["0"])
    assert steps[0].reason == "reads\nthe file"
