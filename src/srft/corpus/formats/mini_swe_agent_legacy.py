"""mini-swe-agent legacy: a bare JSON list of `{role, content}` messages (one trajectory).

Read like v1 (text actions, `user` observations with `<returncode>`); there is no instance id
or metadata, so the id is the file name.
"""

from __future__ import annotations

from typing import Any

from srft.corpus.formats import Origin
from srft.corpus.formats._chat import fail
from srft.corpus.formats._mini import id_from_file_and_record, walk_messages
from srft.files.corpus import Trajectory


def is_message_list(record: Any) -> bool:
    """A non-empty list whose first item looks like a chat message, not like a row."""
    return (
        isinstance(record, list)
        and bool(record)
        and isinstance(record[0], dict)
        and "role" in record[0]
        and "messages" not in record[0]
        and "trajectory" not in record[0]
    )


class MiniSweAgentLegacy:
    name = "mini-swe-agent-legacy"
    description = "bare JSON list of {role, content} messages (early mini-swe-agent)"
    priority = 50

    def matches(self, record: Any) -> bool:
        return is_message_list(record)

    def convert(self, record: Any, origin: Origin) -> Trajectory:
        if not isinstance(record, list):
            raise fail("a legacy trajectory must be a JSON array of messages")
        messages, _ = walk_messages(record)
        return Trajectory.from_messages(
            id=id_from_file_and_record(origin),
            instance_id=None,
            source=origin.source(self.name),
            messages=messages,
        )


FORMAT = MiniSweAgentLegacy()
