"""The offline rule critic: which observations make a step a mistake, a repeat, or good."""

from __future__ import annotations

from srft.critic.registry import get_critic
from srft.critic.rules import judge_rules
from srft.files.corpus import Message, ToolCall

from .helpers import shell_step, trajectory


def labels_and_reasons(t):
    v = judge_rules(t)
    return [(s.label, s.reason) for s in v.steps]


def test_a_clean_step_is_good():
    t = trajectory([shell_step("ls", "a.py b.py", 0)])
    assert labels_and_reasons(t) == [("good", "rules/no-error")]


def test_a_nonzero_exit_code_is_a_mistake_naming_the_rule():
    t = trajectory([shell_step("make build", "make: *** [all] Error 2", 2)])
    [(label, reason)] = labels_and_reasons(t)
    assert label == "mistake" and reason.startswith("rules/nonzero-exit") and "2" in reason


def test_a_search_that_finds_nothing_is_not_a_mistake():
    t = trajectory([shell_step("grep -rn 'def parse' src/", "", 1)])
    assert labels_and_reasons(t)[0][0] == "good"


def test_the_exit_code_is_read_from_the_returncode_tag_when_the_field_is_absent():
    t = trajectory(
        [shell_step("python x.py", "<returncode>1</returncode>\n<output>\nboom\n</output>", None)]
    )
    assert labels_and_reasons(t)[0][1].startswith("rules/nonzero-exit")


def test_a_traceback_from_a_broken_command_is_a_mistake_when_no_exit_code_is_recorded():
    out = (
        'Traceback (most recent call last):\n  File "<string>", line 1\nSyntaxError: invalid syntax'
    )
    t = trajectory([shell_step("python -c 'print(('", out, None)])
    [(label, reason)] = labels_and_reasons(t)
    assert label == "mistake" and reason.startswith("rules/traceback") and "SyntaxError" in reason


def test_a_traceback_printed_by_a_command_that_exited_zero_is_not_a_mistake():
    out = 'Traceback (most recent call last):\n  File "<string>", line 1\nImportError: x\nok'
    t = trajectory([shell_step("pylint --version", out, 0)])
    assert labels_and_reasons(t)[0][0] == "good"


def test_command_not_found_is_a_mistake():
    t = trajectory([shell_step("pyhton x.py", "bash: pyhton: command not found", None)])
    assert labels_and_reasons(t)[0][1].startswith("rules/not-found")


def test_invalid_tool_arguments_are_a_mistake():
    t = trajectory([shell_step('{"command": "ls', "error", None, arguments_valid=False)])
    assert labels_and_reasons(t)[0][1].startswith("rules/invalid-tool-arguments")


def test_a_format_error_interrupt_is_a_mistake():
    step = [
        Message(role="assistant", content="I will think more."),
        Message(
            role="user",
            content="Please always provide EXACTLY ONE action in triple backticks.",
            interrupt="FormatError",
        ),
    ]
    t = trajectory([step])
    [(label, reason)] = labels_and_reasons(t)
    assert label == "mistake" and "FormatError" in reason


def test_a_repeated_action_with_the_same_observation_is_unnecessary():
    t = trajectory(
        [
            shell_step("cat a.py", "x = 1", 0),
            shell_step("ls", "a.py", 0),
            shell_step("cat a.py", "x = 1", 0),
        ]
    )
    assert labels_and_reasons(t)[2] == (
        "unnecessary",
        "rules/repeat: repeats step 0 with the same observation",
    )


def test_a_repeated_action_with_a_new_observation_is_good():
    t = trajectory([shell_step("pytest -q", "1 failed", 0), shell_step("pytest -q", "1 passed", 0)])
    assert [lab for lab, _ in labels_and_reasons(t)] == ["good", "good"]


def test_a_repeated_failing_action_stays_a_mistake():
    t = trajectory(
        [shell_step("pyhton a.py", "not found", 127), shell_step("pyhton a.py", "not found", 127)]
    )
    assert [lab for lab, _ in labels_and_reasons(t)] == ["mistake", "mistake"]


def test_the_registry_gives_the_rule_critic_by_name():
    critic = get_critic("rules")
    t = trajectory([shell_step("ls", "a", 0)])
    assert critic.judge(t) == judge_rules(t)
    assert critic.info().name == "rules"


def test_every_step_gets_exactly_one_label():
    calls = [
        ToolCall(id="a", name="bash", arguments={"command": "ls"}),
        ToolCall(id="b", name="bash", arguments={"command": "pwd"}),
    ]
    step = [
        Message(role="assistant", content="", tool_calls=calls),
        Message(role="tool", content="a", tool_call_id="a", exit_code=0),
        Message(role="tool", content="/", tool_call_id="b", exit_code=0),
    ]
    t = trajectory([step, shell_step("ls", "a", 0)])
    v = judge_rules(t)
    assert [s.index for s in v.steps] == [0, 1] and v.status == "ok"
