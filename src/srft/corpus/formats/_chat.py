"""Pieces shared by the readers of chat-shaped formats (OpenAI-style messages and their kin).

Every reader validates the raw record by hand rather than through a pydantic model of each
source format: the sources are loosely specified and vary by version, and the errors must name
the exact message and field that is wrong, in the words of the source format.
"""

from __future__ import annotations

import json
import re
from typing import Any

from srft.files.corpus import CorpusError, Message, ToolCall

CHAT_ROLES = frozenset({"system", "user", "assistant", "tool"})

_RETURNCODE = re.compile(r"^\s*<returncode>\s*(-?\d+)\s*</returncode>")


def fail(reason: str) -> CorpusError:
    """A `CorpusError` for the record being converted (the caller adds file and record)."""
    return CorpusError(reason)


def expect_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(f"{what} must be a JSON object, got {type_name(value)}")
    return value


def expect_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise fail(f"{what} must be a JSON array, got {type_name(value)}")
    return value


def first_of(record: Any, key: str) -> Any:
    """The first item of the list `record[key]` (None when record is no dict, the field no
    list, or the list empty): what a format's `matches` peeks at to recognise a record."""
    items = record.get(key) if isinstance(record, dict) else None
    return items[0] if isinstance(items, list) and items else None


def optional_str(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise fail(f"{what} must be a string, got {type_name(value)}")


def optional_float(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"{what} must be a number, got {type_name(value)}")
    return float(value)


def type_name(value: Any) -> str:
    """JSON's name for the type of a parsed value (for error messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def text_of(content: Any, what: str) -> str:
    """Message content as text: a string, null, or a list of typed parts (`{type, text}`).

    Parts are concatenated as the OpenAI API does. Non-text parts (images) are an error rather
    than silently dropped: the corpus is text-only and the trajectory would be misrepresented.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for n, part in enumerate(content):
            if isinstance(part, str):
                texts.append(part)
                continue
            part = expect_dict(part, f"{what} part {n}")
            kind = part.get("type", "text")
            if kind not in ("text", "input_text", "output_text") or not isinstance(
                part.get("text"), str
            ):
                raise fail(f"{what} part {n} has type {kind!r}: only text parts are supported")
            texts.append(part["text"])
        return "".join(texts)
    raise fail(f"{what} must be a string or a list of parts, got {type_name(content)}")


def parse_arguments(raw: Any) -> tuple[Any, bool]:
    """Tool-call arguments as a parsed object when they parse as one, else the raw value.

    Returns (arguments, valid). OpenAI-style sources store arguments as a JSON *string*.
    """
    if isinstance(raw, dict):
        return raw, True
    if raw is None:
        return {}, True
    if isinstance(raw, str):
        if not raw.strip():
            return {}, True
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            return raw, False
        if isinstance(parsed, dict):
            return parsed, True
        return raw, False
    return raw, False


def tool_calls_of(raw: Any, what: str) -> list[ToolCall]:
    """OpenAI-style `tool_calls` (`{id, type, function: {name, arguments}}`) as `ToolCall`s."""
    if raw is None:
        return []
    calls = []
    for n, call in enumerate(expect_list(raw, f"{what} tool_calls")):
        call = expect_dict(call, f"{what} tool call {n}")
        function = call.get("function", call)
        function = expect_dict(function, f"{what} tool call {n} function")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise fail(f"{what} tool call {n} has no function name")
        arguments, valid = parse_arguments(function.get("arguments"))
        call_id = call.get("id")
        if call_id is not None and not isinstance(call_id, str):
            raise fail(f"{what} tool call {n} id must be a string, got {type_name(call_id)}")
        calls.append(ToolCall(id=call_id, name=name, arguments=arguments, arguments_valid=valid))
    return calls


def reasoning_of(raw: dict[str, Any]) -> str | None:
    """Separate reasoning text where the source keeps one (field names vary by provider)."""
    for key in ("reasoning_content", "reasoning", "thinking"):
        value = raw.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def response_reasoning(extra: Any) -> str | None:
    """Reasoning from a saved raw model response (`extra.response.choices[0].message`)."""
    try:
        message = extra["response"]["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return None
    return reasoning_of(message) if isinstance(message, dict) else None


def returncode_in(text: str) -> int | None:
    """The exit code of a mini-swe-agent text observation (`<returncode>N</returncode>...`)."""
    match = _RETURNCODE.match(text)
    return int(match.group(1)) if match else None


def openai_message(raw: Any, n: int, *, roles: dict[str, str] | None = None) -> Message:
    """One OpenAI-style chat message (`role`, `content`, `tool_calls`, `tool_call_id`, `name`).

    `roles` maps source role names onto canonical ones (e.g. `ai` -> `assistant`).
    """
    what = f"message {n}"
    raw = expect_dict(raw, what)
    role = raw.get("role")
    if roles and role in roles:
        role = roles[role]
    if role not in CHAT_ROLES:
        raise fail(f"{what} has unknown role {raw.get('role')!r}")
    tool_call_id = optional_str(raw.get("tool_call_id"), f"{what} tool_call_id")
    calls = tool_calls_of(raw.get("tool_calls"), what) if role == "assistant" else []
    if role == "tool" and tool_call_id is None:
        ids = raw.get("tool_call_ids")
        if isinstance(ids, list) and ids and isinstance(ids[0], str):
            tool_call_id = ids[0]
    return Message(
        role=role,
        content=text_of(raw.get("content"), f"{what} content"),
        reasoning=reasoning_of(raw) if role == "assistant" else None,
        tool_calls=calls,
        tool_call_id=tool_call_id if role == "tool" else None,
        name=optional_str(raw.get("name"), f"{what} name") if role == "tool" else None,
    )


def parse_json_string(value: Any, what: str) -> Any:
    """A field some datasets store JSON-encoded (e.g. SWE-smith `messages`); else unchanged."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise fail(f"{what} is a string but not valid JSON: {e}") from e
    return value


def train_flag(raw: Any) -> bool | None:
    """A message's published train flag, or None when it has none.

    OpenAI fine-tuning rows put `weight` (0 or 1) on assistant messages; other datasets use a
    boolean `train`, and nebius SWE-agent-trajectories a boolean `mask` (true = trained).
    """
    if not isinstance(raw, dict):
        return None
    for key in ("weight", "train", "mask"):
        value = raw.get(key)
        if isinstance(value, bool):
            return value
        if key == "weight" and isinstance(value, int | float) and value in (0, 1):
            return bool(value)
    return None


def published_train_flags(raw_messages: list[Any], messages: list[Message]) -> list[bool] | None:
    """Per step, the published train flag of its assistant message (`metadata.extra`
    `published_train`), or None when no assistant message has one.

    `raw_messages[i]` must be the source of `messages[i]`. A step without a flag gets None, so
    the `published` critic can refuse to guess it.
    """
    flags = [
        train_flag(raw)
        for raw, message in zip(raw_messages, messages, strict=True)
        if message.role == "assistant" and not message.demo
    ]
    return flags if any(flag is not None for flag in flags) else None
