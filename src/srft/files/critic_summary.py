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

from pydantic import BaseModel, ConfigDict

from srft.files.base import FileSpec, JsonDocument

SUMMARY_FORMAT = "srft.critic-summary"
SUMMARY_VERSION = 1


class TrajectoryCounts(BaseModel):
    """Trajectories read, judged (`ok`) and not (`failed`)."""

    read: int
    ok: int
    failed: int


class CriticSummary(BaseModel):
    """What one `srft critic` run did; fields beyond these depend on the critic."""

    model_config = ConfigDict(extra="allow")

    format: Literal["srft.critic-summary"] = SUMMARY_FORMAT
    version: int = SUMMARY_VERSION
    critic: dict[str, Any]  # the verdicts' `critic`, without `used`
    corpus: str
    output: str
    trajectories: TrajectoryCounts
    steps: int
    labels: dict[str, int]
    failures: list[dict[str, Any]]  # the first 20, in corpus order
    failure_reasons: dict[str, dict[str, Any]]  # kind -> {count, first}
    tokens: dict[str, float]
    outcome: Literal["complete", "partial", "none"] | None = None
    shard: str | None = None
    job: str | None = None  # the hash of every setting that changes the verdicts (llm)
    elapsed_s: float | None = None


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
