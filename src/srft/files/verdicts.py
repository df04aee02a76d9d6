"""Verdicts (`srft.verdicts` / 1): the critic's per-step labels, one trajectory per line.

One JSON object per line, one line per trajectory. A verdict whose `status` is `failed` carries
no step labels (`steps` is empty) and says why in `error`; nothing downstream may treat its
steps as `good`. `docs/critic.md` documents the fields. Every reader (the critic resuming from
its store, `critic-eval`, `critic-vote`, the split, the dataset build, the report) reads
through `VERDICTS`, so a malformed line is one `FileFormatError` naming path, line and reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from srft.files.base import FileFormatError, FileSpec, JsonLines

VERDICTS_FORMAT = "srft.verdicts"
VERDICTS_VERSION = 1

Label = Literal["good", "unnecessary", "mistake", "recover"]
LABELS: tuple[str, ...] = ("good", "unnecessary", "mistake", "recover")


class VerdictError(ValueError):
    """Labels that cannot be used (a labels file, a mismatch between two verdict files)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepVerdict(_Strict):
    """The critic's label for step `index` and its short reason.

    `confidence` and `votes` are set when the label was sampled several times (`--samples K`,
    or verdict files combined by `srft critic-vote`): `votes` counts each label over the
    samples that labelled the step, `confidence` is the share of them that agree with `label`.
    A step without them was asked once; policies then take the label at face value.
    """

    index: int = Field(description="The step judged: its `Step.index` in the trajectory (0..n-1).")
    label: Label = Field(
        description="`good` (useful), `unnecessary` (harmless but useless), `mistake` (wrong, "
        "not to imitate) or `recover` (repairs an earlier mistake)."
    )
    reason: str = Field(
        "", description="A short reason; a rule's starts with its name (`rules/nonzero-exit: ...`)."
    )
    confidence: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Share (0..1) of the samples that labelled the step and agree with "
        "`label`; null when it was asked once.",
    )
    votes: dict[Label, int] | None = Field(
        None,
        description="Samples per label, over the samples that labelled the step; null "
        "when it was asked once.",
    )


class CriticInfo(_Strict):
    """Who judged: critic kind, model, prompt version, mode, and which hindsight was shown.

    `used` records which privileged inputs went into the prompt (outcome, submitted patch,
    evaluation result, reference patch), so two verdict files can be compared fairly.
    """

    name: str = Field(description="The critic: `rules`, `file`, `published`, `llm`, or another.")
    model: str | None = Field(
        None,
        description="llm: the model's name; `file`: the labels file; null for `rules` and "
        "`published`.",
    )
    prompt_version: str | None = Field(
        None,
        description="llm: the prompt's version (`v1`, `custom-<hash>`); `rules`: `rules-1`; "
        "else null.",
    )
    mode: str | None = Field(
        None,
        description="llm: `whole`, `window` or `per-step`, as this trajectory was judged; "
        "`imported` for `file` and `published`.",
    )
    used: dict[str, bool] = Field(
        default_factory=dict,
        description="Whether the prompt showed `outcome`, `patch`, `evaluation`, "
        "`reference_patch`.",
    )


_OPTIONAL_STEP_FIELDS = ("confidence", "votes")


class Verdict(_Strict):
    """All step labels of one trajectory, or the reason there are none."""

    format: Literal["srft.verdicts"] = VERDICTS_FORMAT
    version: int = VERDICTS_VERSION
    trajectory_id: str = Field(description="The corpus trajectory's `id` (the run).")
    critic: CriticInfo
    status: Literal["ok", "failed"] = Field(
        "ok",
        description="`ok`: every step labelled; `failed`: none, and no step may be taken "
        "as `good`.",
    )
    error: str | None = Field(None, description="Failed only: why, the full message.")
    failure: str | None = Field(
        None,
        description="Failed only: why, as a short stable key to count failures by "
        "(`invalid-answer`, `timeout`, `http-503`, ...); left out when unset.",
    )
    raw_response: str | None = Field(
        None, description="llm, failed only: the last answer that could not be used."
    )
    steps: list[StepVerdict] = Field(default_factory=list)
    usage: dict[str, Any] = Field(
        default_factory=dict,
        description="llm: `requests`, `prompt_tokens`, `completion_tokens` (the server's), "
        "`estimated_prompt_tokens`; empty for offline critics.",
    )

    def labels(self) -> list[str]:
        """The labels in step order (empty for a failed verdict)."""
        return [s.label for s in self.steps]

    @model_serializer(mode="wrap")
    def _leave_out_unset_additions(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The fields added within version 1 (`failure`, a step's `confidence` and `votes`) are
        left out when unset, so a file made without them is written as it was before them."""
        data = handler(self)
        if data.get("failure", 0) is None:
            del data["failure"]
        for step in data.get("steps", ()):
            for key in _OPTIONAL_STEP_FIELDS:
                if step.get(key, 0) is None:
                    del step[key]
        return data


def check_step_indices(verdict: Verdict) -> None:
    """An `ok` verdict labels steps 0..n-1, in order (a failed one labels none)."""
    if verdict.status == "ok" and [s.index for s in verdict.steps] != list(
        range(len(verdict.steps))
    ):
        raise ValueError(f"trajectory {verdict.trajectory_id!r}: step indices must be 0..n-1")


VERDICTS: JsonLines[Verdict] = JsonLines(
    name="*.verdicts.jsonl", model=Verdict, what="an srft verdicts record", written_by="srft critic (also srft critic-vote, srft split)",
    format=VERDICTS_FORMAT, version=VERDICTS_VERSION, check=check_step_indices, doc="docs/critic.md",
)  # fmt: skip

FILES: tuple[FileSpec[Any], ...] = (VERDICTS,)


def load_verdicts(path: str | Path) -> dict[str, Verdict]:
    """All verdicts of a file by trajectory id; a trajectory judged twice is an error."""
    out: dict[str, Verdict] = {}
    for verdict in VERDICTS.read(path):
        if verdict.trajectory_id in out:
            raise FileFormatError(path, f"trajectory {verdict.trajectory_id!r} has two verdicts")
        out[verdict.trajectory_id] = verdict
    return out
