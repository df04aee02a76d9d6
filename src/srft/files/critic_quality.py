"""The critic's agreement with gold labels: `critic-quality.json` (no format header).

Written by `srft critic-eval -o` and by the `critic-quality` stage of a toy run, read by the
report. The file has carried no `format`/`version` since it first appeared; adding them would
change its bytes, so it stays headerless (`format=None`) until its shape changes. The model
names the fields every report has (`docs/critic.md` explains them) and keeps the rest
(`calibration`, present when the predictions carry confidences) as they are.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from srft.files.base import FileSpec, JsonDocument


class PRF(BaseModel):
    """Precision, recall and F1 of one label (or of mistake-vs-rest)."""

    model_config = ConfigDict(extra="allow")  # `support` in the per-label rows

    precision: float = Field(
        description="Of the steps predicted with the label, the share gold has too (0..1; 0 when "
        "none)."
    )
    recall: float = Field(
        description="Of the gold steps with the label, the share predicted (0..1; 0 when none); "
        "unjudged steps count as misses."
    )
    f1: float = Field(description="The harmonic mean of precision and recall (0..1).")


class CriticQuality(BaseModel):
    """Step-level agreement of predicted verdicts with gold labels."""

    model_config = ConfigDict(extra="allow")

    steps: int = Field(description="Gold steps of the trajectories in both files.")
    unjudged_steps: int = Field(
        description="Of them, steps of failed predictions: counted apart (`unjudged`), never "
        "guessed."
    )
    accuracy: float = Field(
        description="Share of the steps whose predicted label is gold's (0..1; unjudged ones "
        "count as wrong)."
    )
    mistake_vs_rest: PRF
    per_label: dict[str, PRF]
    confusion: dict[str, Any] = Field(
        description='`{rows: "gold", columns: "predicted", matrix: {gold: {predicted: steps}}}`; '
        "the columns include `unjudged`."
    )
    trajectories: dict[str, int] = Field(
        description="`gold` (in the gold file), `matched` (also predicted), `missing_from_pred` "
        "(not predicted)."
    )
    missing_from_pred: list[str] = Field(
        description="The first 20 gold trajectory ids that have no prediction."
    )


CRITIC_QUALITY: JsonDocument[CriticQuality] = JsonDocument(
    name="critic-quality.json", model=CriticQuality, what="a critic quality report", written_by="srft critic-eval (the critic-quality stage of a toy run)",
    ensure_ascii=True, doc="docs/critic.md",
)  # fmt: skip

FILES: tuple[FileSpec[Any], ...] = (CRITIC_QUALITY,)
