"""Actions written as text: what a text-action agent asked to run in one assistant message.

mini-swe-agent v1, SWE-agent (classic) and SWE-smith's `ticks` split put the action in a fenced
block; SWE-smith's `xml` split writes `<function=NAME><parameter=KEY>VALUE</parameter></function>`.
The corpus keeps such text verbatim (it is what the model wrote, and what training must
reproduce); this module parses it on demand, e.g. for critics that check an action's form.
Each fenced block or function element is one action, so `len(text_actions(...)) != 1` is the
"exactly one action" format error of these agents.
"""

from __future__ import annotations

import re

from srft.files.corpus import Message, ToolCall

_XML_FUNCTION = re.compile(r"<function=([^>\s]+)>(.*?)</function>", re.DOTALL)
_XML_PARAMETER = re.compile(r"<parameter=([^>\s]+)>(.*?)</parameter>", re.DOTALL)
_FENCE = re.compile(r"^```([\w+-]*)[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def xml_actions(text: str) -> list[ToolCall]:
    """`<function=NAME><parameter=KEY>VALUE</parameter>...</function>` elements, in order."""
    calls = []
    for name, body in _XML_FUNCTION.findall(text):
        arguments = {key: value.strip("\n") for key, value in _XML_PARAMETER.findall(body)}
        calls.append(ToolCall(name=name, arguments=arguments))
    return calls


def fenced_actions(text: str, language: str | None = None) -> list[ToolCall]:
    """Fenced code blocks as commands: the fence's language (default `bash`) is the tool.

    `language` keeps only fences of that language, as mini-swe-agent does (it reads only
    ```bash blocks, so a ```python snippet in the reasoning is not an action).
    """
    return [
        ToolCall(name=lang or "bash", arguments={"command": body.rstrip("\n")})
        for lang, body in _FENCE.findall(text)
        if language is None or lang == language
    ]


def text_actions(message: Message, language: str | None = None) -> list[ToolCall]:
    """The actions an assistant message states in its text (XML style first, then fences)."""
    return xml_actions(message.content) or fenced_actions(message.content, language)
