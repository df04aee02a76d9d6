"""mini-swe-agent v1 (`trajectory_format: mini-swe-agent-1`): text actions, `user` observations.

The assistant writes a THOUGHT and one fenced bash block; the environment answers with a `user`
message `<returncode>N</returncode><output>...</output>`, whose N becomes `Message.exit_code`.
Reasoning that the provider returned separately (`extra.response.choices[0].message.reasoning`)
becomes `Message.reasoning`.
"""

from __future__ import annotations

from srft.corpus.formats._mini import SavedRun

FORMAT = SavedRun(
    "mini-swe-agent-v1",
    "mini-swe-agent 1.x saved run (trajectory_format mini-swe-agent-1)",
    trajectory_format="mini-swe-agent-1",
)
