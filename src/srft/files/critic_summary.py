"""The critic's summary (`srft.critic-summary` / 1): `<verdicts stem>.summary.json`.

Written by `srft critic` beside its verdicts file: the counts, labels, failures per reason and,
for the `llm` critic, requests, tokens, cost and the job that wrote the verdicts (a rerun of
the same job may replace them without `--overwrite`). `docs/critic.md` lists the fields. The
shape grows with the critic (a field per feature), so the model names the fields every summary
has and keeps the rest as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from srft.files.base import FileSpec, JsonDocument

SUMMARY_FORMAT = "srft.critic-summary"
SUMMARY_VERSION = 1


class TrajectoryCounts(BaseModel):
    """Trajectories read, judged (`ok`) and not (`failed`)."""

    read: int = Field(description="Trajectories read (this shard's lines of the corpus).")
    ok: int = Field(description="Of them, judged: an `ok` verdict.")
    failed: int = Field(description="Of them, not judged: a `failed` verdict, without labels.")


class CriticSummary(BaseModel):
    """What one `srft critic` run did; fields beyond these depend on the critic."""

    model_config = ConfigDict(extra="allow")

    format: Literal["srft.critic-summary"] = SUMMARY_FORMAT
    version: int = SUMMARY_VERSION
    critic: dict[str, Any] = Field(
        description="The verdicts' `critic` without `used`: `name`, `model`, `prompt_version`, "
        "`mode`."
    )
    corpus: str = Field(description="The corpus judged, its path as given.")
    output: str = Field(description="The verdicts file written, its path as given.")
    trajectories: TrajectoryCounts
    steps: int = Field(description="Steps of every trajectory read, judged or failed.")
    labels: dict[str, int] = Field(description="Steps per label, over the `ok` verdicts.")
    failures: list[dict[str, Any]] = Field(
        description="The first 20 failed trajectories, in corpus order: `{trajectory_id, error}`."
    )
    failure_reasons: dict[str, dict[str, Any]] = Field(
        description="Per failure key (a verdict's `failure`, else `failed`): `{count, first: "
        "{trajectory_id, error}}`, most frequent first."
    )
    tokens: dict[str, float] = Field(
        description="Over the verdicts, cached ones included: `prompt_tokens`, "
        "`completion_tokens`, `estimated_prompt_tokens`, `trajectory_tokens` (the corpus's "
        "own), their per-trajectory means and `prompt_to_trajectory_ratio`."
    )
    outcome: Literal["complete", "partial", "none"] | None = Field(
        None, description="Every trajectory judged, some, or none: exit status 0, 3 or 1."
    )
    shard: str | None = Field(
        None, description="The `--shard` judged, `K/N` (`0/1`: the whole corpus)."
    )
    job: str | None = Field(
        None,
        description="llm: the hash of every setting that changes the verdicts; a rerun of the "
        "same job, corpus and shard may replace them without `--overwrite`.",
    )
    elapsed_s: float | None = Field(None, description="Wall time of the run, in seconds.")


CRITIC_SUMMARY: JsonDocument[CriticSummary] = JsonDocument(
    name="*.summary.json", model=CriticSummary, what="an srft critic summary", written_by="srft critic",
    format=SUMMARY_FORMAT, version=SUMMARY_VERSION, doc="docs/critic.md",
)  # fmt: skip

FILES: tuple[FileSpec[Any], ...] = (CRITIC_SUMMARY,)


def summary_path(verdicts_path: str | Path) -> Path:
    """Where the summary of a verdicts file goes: `verdicts.jsonl` -> `verdicts.summary.json`."""
    verdicts_path = Path(verdicts_path)
    stem = verdicts_path.name.removesuffix(".jsonl").removesuffix(".json")
    return verdicts_path.with_name(f"{stem}.summary.json")
