"""What the three mini-swe-agent formats share: the `info` block and the message walk.

mini-swe-agent saves `{info, messages, trajectory_format}`; v1 (`mini-swe-agent-1`) puts the
action in assistant text and answers with `user` observations (`<returncode>` + `<output>`), v2
(`mini-swe-agent-1.1`) uses tool calls answered by `tool` messages with `extra.returncode`, marks
framework complaints with `extra.interrupt_type` and ends with an `exit` message that carries the
exit status and submission (it is not a chat message: dropped, its data goes to metadata).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from srft.corpus.compression import strip_compression
from srft.corpus.formats import Origin
from srft.corpus.formats._chat import (
    expect_dict,
    expect_list,
    fail,
    openai_message,
    optional_float,
    optional_str,
    response_reasoning,
    returncode_in,
)
from srft.files.corpus import Message, Metadata, Trajectory


def id_from_file(origin: Origin) -> str:
    """A trajectory id from the file name (`<id>.traj.json` -> `<id>`), for files without one."""
    name = strip_compression(PurePath(origin.file).name)
    for suffix in (".traj.json", ".traj", ".json", ".jsonl"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def id_from_file_and_record(origin: Origin) -> str:
    """`id_from_file`, suffixed with `:<record>` when the file holds more than one record."""
    name = id_from_file(origin)
    return name if origin.record in ("", "0") else f"{name}:{origin.record}"


# mini-swe-agent 1.x's default templates for framework complaints, by interrupt kind. v1 saves
# them as plain `user` messages, so they are recognised by their text (the run's own templates,
# from `info.config.agent`, take precedence).
DEFAULT_INTERRUPT_TEMPLATES = {
    "FormatError": "Please always provide EXACTLY ONE action in triple backticks",
    "ExecutionTimeoutError": "The last command <command>",
}
_TEMPLATE_KEYS = {
    "FormatError": "format_error_template",
    "ExecutionTimeoutError": "timeout_template",
}


def interrupt_prefixes(info: Any) -> dict[str, str]:
    """Literal text that starts each interrupt message (templates cut at their first `{`)."""
    prefixes = dict(DEFAULT_INTERRUPT_TEMPLATES)
    config = info.get("config") if isinstance(info, dict) else None
    agent = config.get("agent") if isinstance(config, dict) else None
    if isinstance(agent, dict):
        for kind, key in _TEMPLATE_KEYS.items():
            template = agent.get(key)
            if isinstance(template, str):
                literal = template.split("{", 1)[0].strip()
                if len(literal) >= 10:
                    prefixes[kind] = literal
    return prefixes


def walk_messages(
    raw_messages: list[Any], prefixes: dict[str, str] | None = None
) -> tuple[list[Message], dict[str, Any]]:
    """Canonical messages of a mini-swe-agent message list, and what `exit` messages carried.

    `prefixes` recognise interrupts saved as plain text (v1): kind -> start of the message.
    """
    prefixes = DEFAULT_INTERRUPT_TEMPLATES if prefixes is None else prefixes
    messages: list[Message] = []
    exit_info: dict[str, Any] = {}
    seen_assistant = False
    for n, raw in enumerate(raw_messages):
        raw = expect_dict(raw, f"message {n}")
        if raw.get("role") == "exit":
            extra = raw.get("extra") if isinstance(raw.get("extra"), dict) else {}
            exit_info = {
                "exit_status": extra.get("exit_status"),
                "submission": extra.get("submission", raw.get("content")),
            }
            continue
        message = openai_message(raw, n)
        extra = raw.get("extra")
        extra = extra if isinstance(extra, dict) else {}
        if message.role == "assistant":
            seen_assistant = True
            if message.reasoning is None:
                message.reasoning = response_reasoning(extra)
        elif message.role in ("user", "tool") and seen_assistant:
            code = extra.get("returncode")
            if isinstance(code, bool) or not isinstance(code, int):
                code = returncode_in(message.content)
            message.exit_code = code
            interrupt = extra.get("interrupt_type")
            if isinstance(interrupt, str) and interrupt:
                message.interrupt = interrupt
            elif message.role == "user" and code is None:
                text = message.content.lstrip()
                for kind, prefix in prefixes.items():
                    if text.startswith(prefix):
                        message.interrupt = kind
                        break
        messages.append(message)
    return messages, exit_info


def metadata_of(info: Any, exit_info: dict[str, Any], trajectory_format: str | None) -> Metadata:
    """Model, exit status, submission and cost from mini-swe-agent's `info` block."""
    info = expect_dict(info if info is not None else {}, "info")
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    model_config = config.get("model") if isinstance(config.get("model"), dict) else {}
    stats = info.get("model_stats") if isinstance(info.get("model_stats"), dict) else {}
    extra: dict[str, Any] = {}
    if trajectory_format:
        extra["trajectory_format"] = trajectory_format
    for key in ("mini_version",):
        if info.get(key) is not None:
            extra[key] = info[key]
    if stats.get("api_calls") is not None:
        extra["api_calls"] = stats["api_calls"]
    exit_status = exit_info.get("exit_status") or info.get("exit_status")
    patch = exit_info.get("submission") or info.get("submission")
    return Metadata(
        model=optional_str(model_config.get("model_name"), "info.config.model.model_name"),
        exit_status=optional_str(exit_status, "info.exit_status"),
        patch=optional_str(patch, "info.submission") or None,
        cost=optional_float(stats.get("instance_cost"), "info.model_stats.instance_cost"),
        extra=extra,
    )


def convert_saved_run(record: Any, origin: Origin, format_name: str) -> Trajectory:
    """A `{info, messages, trajectory_format}` record (v1 or v2) as a canonical trajectory."""
    record = expect_dict(record, "trajectory")
    raw_messages = expect_list(record.get("messages"), "messages")
    messages, exit_info = walk_messages(raw_messages, interrupt_prefixes(record.get("info")))
    instance_id = optional_str(record.get("instance_id"), "instance_id") or id_from_file(origin)
    if not instance_id:
        raise fail("no instance_id and no file name to take one from")
    return Trajectory.from_messages(
        id=instance_id,
        instance_id=instance_id,
        source=origin.source(format_name),
        messages=messages,
        metadata=metadata_of(record.get("info"), exit_info, record.get("trajectory_format")),
    )


class SavedRun:
    """A mini-swe-agent saved-run format: v1 and v2 differ only in their `trajectory_format`
    tag (`walk_messages` reads either kind of message), so each is one instance of this."""

    priority = 100

    def __init__(self, name: str, description: str, trajectory_format: str) -> None:
        self.name = name
        self.description = description
        self.trajectory_format = trajectory_format

    def matches(self, record: Any) -> bool:
        return (
            isinstance(record, dict) and record.get("trajectory_format") == self.trajectory_format
        )

    def convert(self, record: Any, origin: Origin) -> Trajectory:
        return convert_saved_run(record, origin, self.name)
