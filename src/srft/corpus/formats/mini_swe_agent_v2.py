"""mini-swe-agent v2 (`trajectory_format: mini-swe-agent-1.1`): tool calls and `tool` messages.

Tool messages carry `extra.returncode` (-> `exit_code`); a framework complaint such as a
malformed action is a `user` message with `extra.interrupt_type` (kept as an observation with
`interrupt` set, because the model did see it); the final `exit` message is dropped and its
`exit_status`/`submission` go to metadata.
"""

from __future__ import annotations

from srft.corpus.formats._mini import SavedRun

FORMAT = SavedRun(
    "mini-swe-agent-v2",
    "mini-swe-agent 2.x saved run (trajectory_format mini-swe-agent-1.1)",
    trajectory_format="mini-swe-agent-1.1",
)
