"""Parsing actions that agents write as text (fenced blocks, SWE-smith XML functions)."""

from __future__ import annotations

from srft.corpus.actions import fenced_actions, text_actions, xml_actions
from srft.files.corpus import Message


def test_xml_function_with_parameters():
    text = "Look.\n\n<function=bash>\n<parameter=command>grep -n x a.py</parameter>\n</function>"
    (call,) = xml_actions(text)
    assert (call.name, call.arguments) == ("bash", {"command": "grep -n x a.py"})


def test_xml_function_without_parameters():
    (call,) = xml_actions("Submitting.\n\n<function=submit>\n</function>")
    assert (call.name, call.arguments) == ("submit", {})


def test_fenced_bash_block_is_a_bash_command():
    (call,) = fenced_actions("THOUGHT: look\n\n```bash\nls -la\ncat x\n```")
    assert (call.name, call.arguments) == ("bash", {"command": "ls -la\ncat x"})


def test_a_fence_without_language_defaults_to_bash():
    (call,) = fenced_actions("```\nsubmit\n```")
    assert call.arguments == {"command": "submit"}


def test_two_blocks_are_two_actions():
    assert len(fenced_actions("```bash\nls\n```\n\n```bash\npwd\n```")) == 2


def test_prose_without_actions_has_none():
    assert text_actions(Message(role="assistant", content="I am done.")) == []


def test_a_language_filter_ignores_other_fences():
    text = "```python\nprint(1)\n```\n\n```bash\nls\n```"
    (call,) = fenced_actions(text, language="bash")
    assert call.arguments == {"command": "ls"}
