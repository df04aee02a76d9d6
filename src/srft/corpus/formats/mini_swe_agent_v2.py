"""mini-swe-agent v2 (`trajectory_format: mini-swe-agent-1.1`): tool calls and `tool` messages.

Tool messages carry `extra.returncode` (-> `exit_code`); a framework complaint such as a
malformed action is a `user` message with `extra.interrupt_type` (kept as an observation with
`interrupt` set, because the model did see it); the final `exit` message is dropped and its
`exit_status`/`submission` go to metadata.
"""

from __future__ import annotations

from typing import Any

from srft.corpus.formats import Origin
from srft.corpus.formats._mini import convert_saved_run
from srft.files.corpus import Trajectory


class MiniSweAgentV2:
    name = "mini-swe-agent-v2"
    description = "mini-swe-agent 2.x saved run (trajectory_format mini-swe-agent-1.1)"
    priority = 100

    def matches(self, record: Any) -> bool:
        return isinstance(record, dict) and record.get("trajectory_format") == "mini-swe-agent-1.1"

    def convert(self, record: Any, origin: Origin) -> Trajectory:
        return convert_saved_run(record, origin, self.name)


FORMAT = MiniSweAgentV2()
