"""`manifest.json`: what `srft run` did in a run folder, stage by stage (`srft.run` / 1).

For every stage it records the hash of the stage's inputs and settings, the hash of what the
stage wrote, its status and a small summary; `srft run` skips a stage whose inputs are unchanged
and whose outputs are still there (`srft.pipeline.manifest` computes the hashes). The file is
rewritten atomically after every stage, so an interrupted run leaves a manifest that says
exactly which stages finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from srft.files.base import FileFormatError, JsonDocument

FORMAT = "srft.run"
VERSION = 1
MANIFEST_NAME = "manifest.json"

StageStatus = Literal["running", "done", "failed"]


class ManifestError(FileFormatError):
    """A run manifest that cannot be read; the message names the file and the reason."""


class StageRecord(BaseModel):
    """What the manifest knows about one stage."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="The stage's kind: `ingest`, `critic`, `build`, `train`, ...")
    status: StageStatus = Field(
        description="`running` (started, not finished: the process may have died), `done` or "
        "`failed`."
    )
    input_hash: str = Field(
        description="sha256 over the stage's kind, settings, srft version, external inputs' "
        "content and its upstream stages' `output_hash`."
    )
    output_hash: str | None = Field(None, description="sha256 of what the stage wrote.")
    outputs: list[str] = Field(
        default_factory=list, description="Its outputs, relative to the run folder."
    )
    started: float | None = Field(None, description="Start time, seconds since the epoch.")
    finished: float | None = Field(None, description="End time, seconds since the epoch.")
    seconds: float | None = Field(None, description="How long it ran.")
    summary: dict[str, Any] = Field(
        default_factory=dict, description="The stage's own summary (counts; long lists shortened)."
    )
    error: str | None = Field(None, description="Why it failed.")


class Manifest(BaseModel):
    """`manifest.json`: the run's config and one record per stage (format `srft.run`)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["srft.run"] = FORMAT
    version: int = VERSION
    srft_version: str = Field("", description="The srft version of the last `srft run`.")
    config: dict[str, Any] = Field(default_factory=dict, description="The resolved run config.")
    stages: dict[str, StageRecord] = Field(
        default_factory=dict, description="Per stage key (`train/srft`, ...), its record."
    )

    @classmethod
    def load(cls, run_dir: Path) -> Manifest:
        """The manifest of `run_dir`, or an empty one for a new run folder."""
        path = run_dir / MANIFEST_NAME
        if not path.exists():
            return cls()
        try:
            return RUN_MANIFEST.read(path)
        except FileFormatError as e:
            raise ManifestError(e.path, e.reason, e.line) from e

    def save(self, run_dir: Path) -> None:
        """Write atomically, so a crash never leaves half a manifest."""
        RUN_MANIFEST.write(run_dir / MANIFEST_NAME, self)


RUN_MANIFEST: JsonDocument[Manifest] = JsonDocument(
    name=f"<run>/{MANIFEST_NAME}", model=Manifest, what="an srft run manifest", written_by="srft run (after every stage)",
    format=FORMAT, version=VERSION, doc="docs/run.md",
)  # fmt: skip

FILES = (RUN_MANIFEST,)
