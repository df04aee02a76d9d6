"""The offline rule critic: labels from what the observations say, no model and no network.

It is the SWE-Lego-style baseline ("mask the steps whose tool call errored") and the default
critic when no LLM is at hand. Each label's reason names the rule that fired, so a user can
see, and argue with, every decision:

- `mistake` when the step's observation shows its action failed: a non-zero exit code (the
  message's `exit_code`, else the `<returncode>` tag mini-swe-agent writes or the
  "exit code N" trailer OpenHands writes), a Python traceback whose exception says the command
  itself was broken, "command not found", invalid tool arguments, an edit the tool rejected
  (SWE-agent's and OpenHands' "introduced new syntax error(s)"), or a framework interrupt such
  as mini-swe-agent's `FormatError`; text signs of failure (traceback, "not found") are only
  read when the format records no exit code, since a command that exited 0 did not fail;
- `unnecessary` when the step repeats an earlier step's action and got the same observation;
- `good` otherwise.

One exception to the exit-code rule, because it would otherwise mask a large share of every
trajectory: a search (`grep`, `rg`, `find ... | grep`, `diff`, `test`) that exits 1 reports
"nothing found / different", which is information, not a failure.
"""

from __future__ import annotations

import json
import re

from srft.files.corpus import Message, Trajectory
from srft.files.verdicts import CriticInfo, StepVerdict, Verdict

RULES_VERSION = "rules-1"

_RETURNCODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>")
_EXIT_TRAILER = re.compile(r"(?:exit code|exit status|exited with code)[ :=]+(-?\d+)", re.I)
_TRACEBACK = "Traceback (most recent call last)"
# Exceptions that say the command was wrong, not that the code under test misbehaved (a
# reproduction script that shows the reported bug is a *good* step).
_COMMAND_EXCEPTIONS = re.compile(
    r"^(SyntaxError|IndentationError|TabError|ModuleNotFoundError|ImportError|"
    r"FileNotFoundError|NameError|PermissionError|IsADirectoryError|NotADirectoryError)\b",
    re.M,
)
_INLINE_FRAME = re.compile(r'File "<(?:string|stdin)>"')
_NOT_FOUND = re.compile(
    r"(?:command not found|: not found\b|No such file or directory|"
    r"can't open file)",
    re.I,
)
_FORMAT_ERROR_TEXT = (
    "Please always provide EXACTLY ONE action",
    "Please provide EXACTLY ONE bash code block",
    "format error",
)
_INVALID_ARGS_TEXT = re.compile(
    r"(?:invalid (?:tool )?arguments|Failed to parse tool call|Unknown tool|not a valid tool)",
    re.I,
)
_EDIT_REJECTED = re.compile(r"edit has introduced new syntax error", re.I)
_SEARCH_COMMAND = re.compile(r"(?:^|[|;&]\s*)(?:grep|egrep|fgrep|rg|diff|cmp|test|\[)\b[^|;&]*$")


def judge_rules(trajectory: Trajectory) -> Verdict:
    """Label every step of `trajectory` by the rules above; always an `ok` verdict."""
    seen: dict[tuple[str, str], int] = {}
    steps: list[StepVerdict] = []
    for step in trajectory.steps:
        assistant = trajectory.step_assistant(step.index)
        observations = trajectory.step_observations(step.index)
        action = action_key(assistant)
        failure = failure_reason(assistant, observations)
        if failure is not None:
            steps.append(StepVerdict(index=step.index, label="mistake", reason=failure))
        else:
            key = (action, observation_text(observations))
            if action and key in seen:
                reason = f"rules/repeat: repeats step {seen[key]} with the same observation"
                steps.append(StepVerdict(index=step.index, label="unnecessary", reason=reason))
            else:
                steps.append(StepVerdict(index=step.index, label="good", reason="rules/no-error"))
        seen.setdefault((action, observation_text(observations)), step.index)
    return Verdict(trajectory_id=trajectory.id, critic=rules_info(), steps=steps)


def rules_info() -> CriticInfo:
    """The identity of the rule critic (it sees no hindsight: no outcome, patch or tests)."""
    return CriticInfo(
        name="rules",
        model=None,
        prompt_version=RULES_VERSION,
        mode=None,
        used={"outcome": False, "patch": False, "evaluation": False, "reference_patch": False},
    )


class RulesCritic:
    """The rule critic behind the registry name `rules`."""

    name = "rules"

    def info(self) -> CriticInfo:
        """See `rules_info`."""
        return rules_info()

    def judge(self, trajectory: Trajectory) -> Verdict:
        """See `judge_rules`."""
        return judge_rules(trajectory)


def failure_reason(assistant: Message, observations: list[Message]) -> str | None:
    """The reason (naming the rule) why the step's action failed, or None if nothing shows it."""
    for call in assistant.tool_calls:
        if not call.arguments_valid:
            return f"rules/invalid-tool-arguments: call to {call.name!r} has unparseable arguments"
    command = shell_command(assistant)
    for obs in observations:
        text = obs.content or ""
        if obs.interrupt:
            return f"rules/interrupt: the framework interrupted with {obs.interrupt}"
        if any(marker in text for marker in _FORMAT_ERROR_TEXT[:2]):
            return "rules/interrupt: the framework rejected the action's format (FormatError)"
        if _INVALID_ARGS_TEXT.search(text[:500]):
            return "rules/invalid-tool-arguments: the tool rejected the call's arguments"
        code = obs.exit_code if obs.exit_code is not None else _text_exit_code(text)
        if code is not None and code != 0:
            if code == 1 and command is not None and _SEARCH_COMMAND.search(command.strip()):
                continue  # a search that found nothing: information, not failure
            return f"rules/nonzero-exit: the command exited with code {code}"
        # A traceback in a command that still exited 0 (e.g. a warning printed while Python
        # starts) was not caused by the command.
        if (
            code is None
            and _TRACEBACK in text
            and (_COMMAND_EXCEPTIONS.search(text) or _INLINE_FRAME.search(text))
        ):
            exc = _COMMAND_EXCEPTIONS.search(text)
            name = exc.group(1) if exc else "an error in the inline code"
            return f"rules/traceback: the command raised {name}"
        if _EDIT_REJECTED.search(text[:300]):
            return "rules/edit-rejected: the tool rejected the edit (it introduced syntax errors)"
        if code is None and _NOT_FOUND.search(text[:2000]) and len(text) < 2000:
            return "rules/not-found: the command or file was not found"
    return None


def _text_exit_code(text: str) -> int | None:
    match = _RETURNCODE.search(text[:200]) or _EXIT_TRAILER.search(text[-200:])
    return int(match.group(1)) if match else None


def shell_command(assistant: Message) -> str | None:
    """The shell command the step ran, when it can be told (tool argument or ```bash block)."""
    for call in assistant.tool_calls:
        if isinstance(call.arguments, dict):
            for key in ("command", "cmd", "bash"):
                if isinstance(call.arguments.get(key), str):
                    return call.arguments[key]
    blocks = re.findall(r"```(?:bash|sh)?\s*\n(.*?)```", assistant.content or "", re.S)
    return blocks[-1] if blocks else None


def action_key(assistant: Message) -> str:
    """What the step did, normalised so two identical actions compare equal (thought ignored)."""
    if assistant.tool_calls:
        return json.dumps(
            [[c.name, c.arguments] for c in assistant.tool_calls], sort_keys=True, default=str
        )
    command = shell_command(assistant)
    return command.strip() if command is not None else (assistant.content or "").strip()


def observation_text(observations: list[Message]) -> str:
    """The observations of a step as one string (for comparing repeats)."""
    return "\n".join(o.content or "" for o in observations)
