"""The agent protocol of the toy environment, in mini-swe-agent v1's shape.

The agent answers with a THOUGHT and exactly one fenced ```bash block; the environment answers
with `<returncode>`/`<output>`, or with a format error when the reply holds no single block. The
teacher, the trajectory writer and the student rollouts all use these functions, so what the
student is trained on and what it is rolled out in are the same text.

Prompts are short on purpose: a toy trajectory should fit in about 1k SmolLM2 tokens.
"""

from __future__ import annotations

import re

from srft.toy.env import Observation

SYSTEM_PROMPT = (
    "You fix one value in the config files of a repository . "
    "Reply with THOUGHT : and exactly one ```bash block holding one command . "
    "Commands : ls , grep WORD , cat FILE , edit FILE KEY VALUE , submit ."
)
FORMAT_ERROR = "Please always provide EXACTLY ONE action in triple backticks , found {n} actions ."
STEP_LIMIT = 12

_ACTION = re.compile(r"```bash\s*\n(.*?)\n```", re.DOTALL)


def task_message(issue: str) -> str:
    """The first user message: the issue, in mini-swe-agent's `<pr_description>` wrapper."""
    return f"<pr_description>\n{issue}\n</pr_description>"


def assistant_message(thought: str, command: str) -> str:
    """An agent reply: THOUGHT, then the command in one bash block."""
    return f"THOUGHT: {thought}\n\n```bash\n{command}\n```"


def parse_action(reply: str) -> str | None:
    """The command of a reply, or None unless the reply holds exactly one bash block."""
    actions = _ACTION.findall(reply)
    return actions[0].strip() if len(actions) == 1 else None


def count_actions(reply: str) -> int:
    """How many bash blocks a reply holds (for the format-error message)."""
    return len(_ACTION.findall(reply))


def observation_message(obs: Observation) -> str:
    """mini-swe-agent's action-observation template."""
    return f"<returncode>{obs.returncode}</returncode>\n<output>\n{obs.output}\n</output>"


def format_error_message(reply: str) -> str:
    """mini-swe-agent's format-error observation (shortened)."""
    return FORMAT_ERROR.format(n=count_actions(reply))
