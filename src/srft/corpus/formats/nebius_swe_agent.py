"""nebius/SWE-agent-trajectories rows: `trajectory` of `{role: system/user/ai, text, mask}`.

`ai` turns are the assistant; the system turn keeps its text in `system_prompt`. `mask` is true
on every `ai` turn, so it says nothing about quality and is not kept. `target` is the outcome.
"""

from __future__ import annotations

from typing import Any

from srft.corpus.formats import Origin
from srft.corpus.formats._chat import (
    CHAT_ROLES,
    expect_dict,
    expect_list,
    fail,
    first_of,
    optional_str,
    published_train_flags,
    text_of,
)
from srft.corpus.formats._mini import id_from_file
from srft.corpus.outcomes import in_file_outcome
from srft.files.corpus import Message, Metadata, Trajectory

_ROLES = {"ai": "assistant"}


class NebiusSweAgent:
    name = "nebius-swe-agent"
    description = "nebius/SWE-agent-trajectories rows (trajectory of {role, text, mask}, target)"
    priority = 80

    def matches(self, record: Any) -> bool:
        first = first_of(record, "trajectory")
        return isinstance(first, dict) and "role" in first and ("text" in first or "mask" in first)

    def convert(self, record: Any, origin: Origin) -> Trajectory:
        record = expect_dict(record, "row")
        messages = []
        raw_messages = expect_list(record.get("trajectory"), "trajectory")
        for n, raw in enumerate(raw_messages):
            raw = expect_dict(raw, f"message {n}")
            role = _ROLES.get(raw.get("role"), raw.get("role"))
            if role not in CHAT_ROLES:
                raise fail(f"message {n} has unknown role {raw.get('role')!r}")
            text = raw.get("text")
            if text is None and role == "system":
                text = raw.get("system_prompt")
            messages.append(Message(role=role, content=text_of(text, f"message {n} text")))
        instance_id = optional_str(record.get("instance_id"), "instance_id")
        trajectory_id = instance_id or f"{id_from_file(origin)}:{origin.record}"
        return Trajectory.from_messages(
            id=trajectory_id,
            instance_id=instance_id,
            source=origin.source(self.name),
            outcome=in_file_outcome(record, "target"),
            messages=messages,
            metadata=Metadata(
                model=optional_str(record.get("model_name"), "model_name"),
                exit_status=optional_str(record.get("exit_status"), "exit_status"),
                patch=optional_str(record.get("generated_patch"), "generated_patch") or None,
                extra=_published(raw_messages, messages),
            ),
        )


def _published(raw_messages: list[Any], messages: list[Message]) -> dict[str, Any]:
    flags = published_train_flags(raw_messages, messages)
    return {"published_train": flags} if flags is not None else {}


FORMAT = NebiusSweAgent()
