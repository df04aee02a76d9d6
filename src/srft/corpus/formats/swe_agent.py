"""SWE-agent `.traj`: one JSON object with `history` (the chat), `trajectory` (per step) and `info`.

The corpus is built from `history`, the chat the model actually saw: demonstration messages
(`is_demo`) become `demo=True` messages (prompt material, never steps); assistant messages carry
the action either as text (classic SWE-agent) or as `tool_calls` (function calling), and tool
messages name the calls they answer in `tool_call_ids`. Format-error requeries are not in
`history` (SWE-agent drops them), so they cannot appear here either.

Some SWE-agent versions save `history` before the last step: `trajectory` then has a final step
(typically the `submit`) that `history` lacks. Such trailing steps are appended from
`trajectory` (its `response`, with the `action` added when the response does not hold it, and
its `observation` as the answering user message), and counted in
`metadata.extra.steps_from_trajectory`, so the run keeps the step that ended it.
"""

from __future__ import annotations

import json
from typing import Any

from srft.corpus.formats import Origin
from srft.corpus.formats._chat import (
    expect_dict,
    expect_list,
    openai_message,
    optional_float,
    optional_str,
)
from srft.corpus.formats._mini import id_from_file_and_record
from srft.files.corpus import Message, Metadata, Trajectory


class SweAgent:
    name = "swe-agent"
    description = "SWE-agent .traj (history, trajectory, info)"
    priority = 90

    def matches(self, record: Any) -> bool:
        return (
            isinstance(record, dict)
            and isinstance(record.get("history"), list)
            and isinstance(record.get("trajectory"), list)
            and ("info" in record or "environment" in record)
        )

    def convert(self, record: Any, origin: Origin) -> Trajectory:
        record = expect_dict(record, "trajectory")
        messages: list[Message] = []
        for n, raw in enumerate(expect_list(record.get("history"), "history")):
            message = openai_message(raw, n)
            message.demo = bool(raw.get("is_demo", False))
            messages.append(message)
        turns = sum(1 for m in messages if m.role == "assistant" and not m.demo)
        steps = expect_list(record.get("trajectory"), "trajectory")
        missing = [expect_dict(step, f"trajectory[{n}]") for n, step in enumerate(steps)][turns:]
        for step in missing:
            messages.extend(_step_messages(step))
        metadata = _metadata(record)
        if missing:
            metadata.extra["steps_from_trajectory"] = len(missing)
        trajectory_id = id_from_file_and_record(origin)
        return Trajectory.from_messages(
            id=trajectory_id,
            instance_id=trajectory_id,
            source=origin.source(self.name),
            messages=messages,
            metadata=metadata,
        )


def _step_messages(step: dict[str, Any]) -> list[Message]:
    """The assistant turn and observation of a `trajectory` step that `history` lacks."""
    response = optional_str(step.get("response"), "trajectory.response") or ""
    thought = optional_str(step.get("thought"), "trajectory.thought") or ""
    action = optional_str(step.get("action"), "trajectory.action") or ""
    text = response or thought
    if action.strip() and action.strip() not in text:
        text = f"{text}\n\n{action.strip()}" if text else action.strip()
    observation = optional_str(step.get("observation"), "trajectory.observation") or ""
    return [Message(role="assistant", content=text), Message(role="user", content=observation)]


def _metadata(record: dict[str, Any]) -> Metadata:
    info = record.get("info") if isinstance(record.get("info"), dict) else {}
    stats = info.get("model_stats") if isinstance(info.get("model_stats"), dict) else {}
    extra = {
        key: stats[key]
        for key in ("api_calls", "tokens_sent", "tokens_received")
        if stats.get(key) is not None
    }
    if isinstance(record.get("environment"), str):
        extra["environment"] = record["environment"]
    return Metadata(
        model=_model_name(record.get("replay_config")),
        exit_status=optional_str(info.get("exit_status"), "info.exit_status"),
        patch=optional_str(info.get("submission"), "info.submission") or None,
        cost=optional_float(stats.get("instance_cost"), "info.model_stats.instance_cost"),
        extra=extra,
    )


def _model_name(replay_config: Any) -> str | None:
    """The model name from `replay_config` (a JSON string or object in SWE-agent >= 1.0)."""
    if isinstance(replay_config, str):
        try:
            replay_config = json.loads(replay_config)
        except json.JSONDecodeError:
            return None
    try:
        name = replay_config["agent"]["model"]["name"]
    except (KeyError, TypeError):
        return None
    return name if isinstance(name, str) else None


FORMAT = SweAgent()
