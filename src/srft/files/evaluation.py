"""`eval.json`: held-out NLL per step label, per model (`srft evaluate nll`).

One file holds every evaluated model on one dataset; the pipeline evaluates each model into
`eval/<name>.json` and merges them into `eval.json` with the base model first, the reference
every difference is taken against. The report shows it and the comparison table takes each
label's NLL from it. Written with `allow_nan` off: a NaN would make the file invalid JSON for
every other tool.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from srft.files.base import JsonDocument

FORMAT = "srft.eval"
VERSION = 1


class NllBucket(BaseModel):
    """Summed NLL over the tokens of some steps; the means are derived from the sums."""

    model_config = ConfigDict(extra="allow")

    nll_per_token: float | None = Field(
        None, description="Summed NLL / tokens (token-weighted); null without tokens."
    )
    mean_step_nll: float | None = Field(
        None, description="Mean over steps of each step's own NLL per token (step-weighted)."
    )
    tokens: int = Field(0, description="Tokens counted.")
    steps: int = Field(0, description="Steps counted.")


class ModelNll(BaseModel):
    """One model's NLL, bucketed by step label, outcome, outcome x label and trained/masked."""

    model_config = ConfigDict(extra="allow")

    path: str | None = Field(None, description="The model folder, run folder or hub id.")
    seconds: float | None = Field(None, description="Time spent on this model.")
    rows: int | None = Field(None, description="Rows evaluated.")
    overall: NllBucket = Field(default_factory=NllBucket, description="Every step.")
    by_label: dict[str, NllBucket] = Field(
        default_factory=dict, description="Per critic label (`unlabeled`: steps without one)."
    )
    by_outcome: dict[str, NllBucket] = Field(
        default_factory=dict, description="Per trajectory outcome."
    )
    by_outcome_label: dict[str, dict[str, NllBucket]] = Field(
        default_factory=dict, description="Per outcome, then per label."
    )
    by_trained: dict[str, NllBucket] = Field(
        default_factory=dict, description="`trained` and `masked` steps."
    )


class SkippedRow(BaseModel):
    """A dataset row left out of the evaluation, and why."""

    model_config = ConfigDict(extra="allow")

    trajectory_id: str = Field(description="The row's trajectory id.")
    reason: str = Field(description="`max_rows`, or its length against `max_tokens`.")


class EvaluatedDataset(BaseModel):
    """The held-out dataset the models were evaluated on."""

    model_config = ConfigDict(extra="allow")

    path: str | None = Field(None, description="The dataset folder.")
    policy: Any = Field(None, description="The policy of its `build.json`, as recorded there.")
    tokenizer: Any = Field(None, description="The tokenizer of its `build.json`.")
    rows_read: int | None = Field(None, description="Rows in the dataset.")
    rows_evaluated: int | None = Field(None, description="Rows evaluated.")
    rows_skipped: int | None = Field(None, description="Rows skipped (listed in `skipped`).")
    skipped: list[SkippedRow] = Field(default_factory=list)


class Evaluation(BaseModel):
    """`eval.json`: held-out NLL per step label of each model on one dataset.

    Only `models` is required of a file: the report and the comparison read what is there, so
    a partial file written by another tool still shows (as `srft evaluate` has always allowed).
    """

    model_config = ConfigDict(extra="allow")

    format: Literal["srft.eval"] = FORMAT
    version: Literal[1] = VERSION
    dataset: EvaluatedDataset = Field(default_factory=EvaluatedDataset)
    models: dict[str, ModelNll] = Field(
        description="Per model name, in evaluation order: the first is the reference."
    )
    seconds: float | None = Field(None, description="Time spent on all models.")

    def as_written(self) -> dict[str, Any]:
        """The JSON object of a file read, without the defaults its fields did not have (in
        the order srft writes them), so a merged or embedded evaluation keeps its content."""
        return self.model_dump(mode="json", exclude_unset=True)


EVALUATION: JsonDocument[Evaluation] = JsonDocument(
    name="eval.json", model=Evaluation, what="an srft eval file", written_by="srft evaluate nll (per model: the `eval/*` stages of srft run, merged by `compare`)",
    format=FORMAT, version=VERSION, ensure_ascii=True, allow_nan=False, doc="docs/evaluate.md",
)  # fmt: skip

FILES = (EVALUATION,)
