"""The critic's agreement with gold labels: `critic-quality.json` (no format header).

Written by `srft critic-eval -o` and by the `critic-quality` stage of a toy run, read by the
report. The file has carried no `format`/`version` since it first appeared; adding them would
change its bytes, so it stays headerless (`format=None`) until its shape changes. The model
names the fields every report has (`docs/critic.md` explains them) and keeps the rest
(`calibration`, present when the predictions carry confidences) as they are.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from srft.files.base import FileSpec, JsonDocument


class PRF(BaseModel):
    """Precision, recall and F1 of one label (or of mistake-vs-rest)."""

    model_config = ConfigDict(extra="allow")  # `support` in the per-label rows

    precision: float
    recall: float
    f1: float


class CriticQuality(BaseModel):
    """Step-level agreement of predicted verdicts with gold labels."""

    model_config = ConfigDict(extra="allow")

    steps: int
    unjudged_steps: int  # steps of failed predictions, counted apart, never guessed
    accuracy: float
    mistake_vs_rest: PRF
    per_label: dict[str, PRF]
    confusion: dict[str, Any]  # {rows: "gold", columns: "predicted", matrix: {gold: {pred: n}}}
    trajectories: dict[str, int]  # gold, matched, missing_from_pred
    missing_from_pred: list[str]  # the first 20


CRITIC_QUALITY: JsonDocument[CriticQuality] = JsonDocument(
    name="critic-quality.json", model=CriticQuality, what="a critic quality report", written_by="srft critic-eval (the critic-quality stage of a toy run)",
    ensure_ascii=True, doc="docs/critic.md",
)  # fmt: skip

FILES: tuple[FileSpec[Any], ...] = (CRITIC_QUALITY,)
