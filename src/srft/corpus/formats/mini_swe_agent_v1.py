"""mini-swe-agent v1 (`trajectory_format: mini-swe-agent-1`): text actions, `user` observations.

The assistant writes a THOUGHT and one fenced bash block; the environment answers with a `user`
message `<returncode>N</returncode><output>...</output>`, whose N becomes `Message.exit_code`.
Reasoning that the provider returned separately (`extra.response.choices[0].message.reasoning`)
becomes `Message.reasoning`.
"""

from __future__ import annotations

from typing import Any

from srft.corpus.formats import Origin
from srft.corpus.formats._mini import convert_saved_run
from srft.files.corpus import Trajectory


class MiniSweAgentV1:
    name = "mini-swe-agent-v1"
    description = "mini-swe-agent 1.x saved run (trajectory_format mini-swe-agent-1)"
    priority = 100

    def matches(self, record: Any) -> bool:
        return isinstance(record, dict) and record.get("trajectory_format") == "mini-swe-agent-1"

    def convert(self, record: Any, origin: Origin) -> Trajectory:
        return convert_saved_run(record, origin, self.name)


FORMAT = MiniSweAgentV1()
