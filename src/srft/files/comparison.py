"""`comparison.json`: the policy comparison of a run (SFT vs RFT vs SRFT ... on the user's data).

Written by the `compare` stage of `srft run` beside `comparison.md` (the same rows as a table),
from the dataset folders, the training metrics and the merged `eval.json` alone. The first row
is the base model (held-out NLL only) when the run evaluated one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from srft.files.base import JsonDocument

FORMAT = "srft.comparison"
VERSION = 1


class ComparisonRow(BaseModel):
    """One student (or the base model: `policy` and `nll` only)."""

    model_config = ConfigDict(extra="allow")

    policy: str = Field(description="The policy row (or the base model's name).")
    trajectories: int | None = Field(None, description="Rows of its dataset.")
    resolved: int | None = Field(None, description="Of them, resolved trajectories.")
    unresolved: int | None = Field(None, description="Unresolved ones.")
    unknown: int | None = Field(None, description="Ones of unknown outcome.")
    tokens: int | None = Field(None, description="All tokens of the dataset.")
    trained_tokens: int | None = Field(None, description="Assistant tokens trained.")
    masked_tokens: int | None = Field(None, description="Assistant tokens of masked steps.")
    masked_steps: int | None = Field(None, description="Steps the policy masked.")
    optimizer_steps: int | None = Field(None, description="Steps logged in `metrics.jsonl`.")
    final_train_loss: float | None = Field(None, description="Loss of the last step.")
    nll: dict[str, float | None] | None = Field(
        None, description="Held-out NLL per token per step label and `overall` (when evaluated)."
    )


class Comparison(BaseModel):
    """`comparison.json`: one row per policy row of the run config, plus the base model."""

    model_config = ConfigDict(extra="allow")

    format: Literal["srft.comparison"] = FORMAT
    version: Literal[1] = VERSION
    heldout_trajectories: int | None = Field(
        description="Held-out trajectories evaluated; null when the run evaluated none."
    )
    rows: list[ComparisonRow]

    def as_written(self) -> dict[str, Any]:
        """The JSON object, each row without the fields it was not given (the base row's counts)."""
        data = self.model_dump(mode="json")
        data["rows"] = [row.model_dump(mode="json", exclude_unset=True) for row in self.rows]
        return data


COMPARISON: JsonDocument[Comparison] = JsonDocument(
    name="comparison.json", model=Comparison, what="an srft comparison", written_by="srft run (the `compare` stage)",
    format=FORMAT, version=VERSION, ensure_ascii=True, doc="docs/run.md",
)  # fmt: skip

FILES = (COMPARISON,)
