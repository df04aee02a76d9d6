"""`handoff.json`: how to evaluate one student as an agent on SWE-bench (`srft evaluate handoff`).

srft does not run agents; it writes, per student, the commands that serve the model with vLLM,
run mini-swe-agent on SWE-bench with it and score the patches with the SWE-bench harness, as
scripts and a README in `handoff/<name>/`, and the same as data in `handoff.json`, which the
report reads to list them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from srft.files.base import JsonDocument

FORMAT = "srft.handoff"
VERSION = 1
HANDOFF_JSON = "handoff.json"


class Handoff(BaseModel):
    """Everything needed to evaluate one model as an agent, and the commands that do it."""

    format: Literal["srft.handoff"] = FORMAT
    version: Literal[1] = VERSION
    name: str = Field(description="The student's name (the folder `handoff/<name>/`).")
    model_dir: str = Field(description="The folder vLLM serves (absolute).")
    merged: bool = Field(description="Whether a LoRA adapter was merged into its base first.")
    served_name: str = Field(description="The model name vLLM serves it under (`srft-<name>`).")
    port: int = Field(description="The vLLM server's port.")
    subset: str = Field(description="SWE-bench subset: `verified`, `lite` or `full`.")
    split: str = Field(description="SWE-bench split.")
    workers: int = Field(description="Parallel agent runs and harness workers.")
    agent_output: str = Field(description="Where mini-swe-agent writes its runs and preds.json.")
    run_id: str = Field(description="The harness's run id.")
    commands: dict[str, str] = Field(
        default_factory=dict,
        description="`install`, `serve`, `agent` and `harness`: complete shell command lines.",
    )


HANDOFF: JsonDocument[Handoff] = JsonDocument(
    name=f"handoff/<name>/{HANDOFF_JSON}", model=Handoff, what="an srft hand-off file", written_by="srft evaluate handoff (srft run with `handoff: {enabled: true}`)",
    format=FORMAT, version=VERSION, ensure_ascii=True, doc="docs/evaluate.md",
)  # fmt: skip

FILES = (HANDOFF,)
