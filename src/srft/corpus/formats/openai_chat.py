"""OpenAI-style chat rows: `messages[]` with `tool_calls` (SWE-Gym, SWE-smith, nebius OpenHands).

Rows come from JSON arrays, JSONL, Parquet or Hugging Face datasets. `messages` (and `tools`)
may be stored as a JSON-encoded string (SWE-smith does). Tool-call `arguments` are JSON strings
in these sources and are parsed. SWE-smith's `xml` and `ticks` splits put the action in the
assistant text (`<function=bash><parameter=command>...` or a fenced block) and answer with `user`
messages: the text is kept verbatim (it is what the model wrote) and the style is recorded in
`metadata.extra.action_style`. The outcome is the row's `resolved` flag.
"""

from __future__ import annotations

import re
from typing import Any

from srft.corpus.formats import Origin
from srft.corpus.formats._chat import (
    expect_dict,
    expect_list,
    openai_message,
    optional_float,
    optional_str,
    parse_json_string,
    published_train_flags,
)
from srft.corpus.formats._mini import id_from_file
from srft.corpus.outcomes import in_file_outcome
from srft.files.corpus import Message, Metadata, Trajectory

# OpenHands (CodeAct) appends this line to command observations.
_EXIT_CODE = re.compile(r"\[Command finished with exit code (-?\d+)\]")
_XML_ACTION = re.compile(r"<function=[^>]+>")
_TICKS_ACTION = re.compile(r"```")


class OpenAIChat:
    name = "openai-chat"
    description = "OpenAI-style chat rows: messages[] with tool_calls (SWE-Gym, SWE-smith, nebius)"
    priority = 10

    def matches(self, record: Any) -> bool:
        return isinstance(record, dict) and isinstance(record.get("messages"), list | str)

    def has_run_id(self, record: Any) -> bool:
        """Rows that name their run (`id`, `traj_id`, `trajectory_id`) keep that id."""
        return isinstance(record, dict) and _first_str(record, *_RUN_ID_KEYS) is not None

    def convert(self, record: Any, origin: Origin) -> Trajectory:
        record = expect_dict(record, "row")
        raw_messages = expect_list(
            parse_json_string(record.get("messages"), "messages"), "messages"
        )
        messages = [openai_message(raw, n) for n, raw in enumerate(raw_messages)]
        flags = published_train_flags(raw_messages, messages)
        for message in messages:
            if message.role == "tool":
                codes = _EXIT_CODE.findall(message.content)
                message.exit_code = int(codes[-1]) if codes else None
        tools = parse_json_string(record.get("tools"), "tools")
        if tools is not None:
            tools = [
                expect_dict(t, f"tools[{n}]") for n, t in enumerate(expect_list(tools, "tools"))
            ]
        instance_id = optional_str(record.get("instance_id"), "instance_id")
        trajectory_id = (
            _first_str(record, *_RUN_ID_KEYS)
            or instance_id
            or f"{id_from_file(origin)}:{origin.record}"
        )
        return Trajectory.from_messages(
            id=trajectory_id,
            instance_id=instance_id,
            source=origin.source(self.name),
            outcome=in_file_outcome(record, "resolved", "target"),
            messages=messages,
            tools=tools or None,
            metadata=_metadata(record, messages, flags),
        )


_RUN_ID_KEYS = ("id", "traj_id", "trajectory_id")


def _first_str(record: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        if isinstance(record.get(key), str) and record[key]:
            return record[key]
    return None


def action_style(messages: list[Message]) -> str | None:
    """How the assistant states actions: `tool_calls`, `xml` (`<function=...>`) or `ticks`."""
    assistant = [m for m in messages if m.role == "assistant" and not m.demo]
    if any(m.tool_calls for m in assistant):
        return "tool_calls"
    if any(_XML_ACTION.search(m.content) for m in assistant):
        return "xml"
    if any(_TICKS_ACTION.search(m.content) for m in assistant):
        return "ticks"
    return None


def _metadata(
    record: dict[str, Any], messages: list[Message], flags: list[bool] | None
) -> Metadata:
    extra: dict[str, Any] = {}
    if flags is not None:
        extra["published_train"] = flags
    style = action_style(messages)
    if style:
        extra["action_style"] = style
    for key in ("run_id", "traj_id"):
        if isinstance(record.get(key), str):
            extra[key] = record[key]
    test_result = record.get("test_result") if isinstance(record.get("test_result"), dict) else {}
    patch = _first_str(record, "patch", "generated_patch", "git_patch") or _first_str(
        test_result, "git_patch"
    )
    return Metadata(
        model=_first_str(record, "model", "model_name"),
        exit_status=optional_str(record.get("exit_status"), "exit_status"),
        patch=patch,
        cost=optional_float(record.get("cost"), "cost"),
        extra=extra,
    )


FORMAT = OpenAIChat()
