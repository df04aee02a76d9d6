"""Verdicts: the critic's per-step labels for each trajectory (stage 2's output file).

One JSON object per line, one line per trajectory. A verdict whose `status` is `failed` carries
no step labels (`steps` is empty) and says why in `error`; nothing downstream may treat its
steps as `good`. The file format is versioned (`VERDICTS_FORMAT`, `VERDICTS_VERSION`) and
documented in `docs/critic.md`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from srft.paths import require_regular_file

VERDICTS_FORMAT = "srft.verdicts"
VERDICTS_VERSION = 1

Label = Literal["good", "unnecessary", "mistake", "recover"]
LABELS: tuple[str, ...] = ("good", "unnecessary", "mistake", "recover")


class VerdictError(ValueError):
    """A verdicts record that cannot be used; the message names file, record and reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepVerdict(_Strict):
    """The critic's label for step `index` and its short reason.

    `confidence` and `votes` are set when the label was sampled several times (`--samples K`,
    or verdict files combined by `srft critic-vote`): `votes` counts each label over the
    samples that labelled the step, `confidence` is the share of them that agree with `label`.
    A step without them was asked once; policies then take the label at face value.
    """

    index: int
    label: Label
    reason: str = ""
    confidence: float | None = Field(None, ge=0.0, le=1.0)
    votes: dict[Label, int] | None = None


class CriticInfo(_Strict):
    """Who judged: critic kind, model, prompt version, mode, and which hindsight was shown.

    `used` records which privileged inputs went into the prompt (outcome, submitted patch,
    evaluation result, reference patch), so two verdict files can be compared fairly.
    """

    name: str
    model: str | None = None
    prompt_version: str | None = None
    mode: str | None = None
    used: dict[str, bool] = Field(default_factory=dict)


class Verdict(_Strict):
    """All step labels of one trajectory, or the reason there are none."""

    format: Literal["srft.verdicts"] = VERDICTS_FORMAT
    version: int = VERDICTS_VERSION
    trajectory_id: str
    critic: CriticInfo
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None
    # A short stable key of why a verdict failed (`http-503`, `timeout`, `invalid-answer`, ...),
    # so that failures can be counted per reason; `error` holds the full message.
    failure: str | None = None
    raw_response: str | None = None
    steps: list[StepVerdict] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)

    def labels(self) -> list[str]:
        """The labels in step order (empty for a failed verdict)."""
        return [s.label for s in self.steps]


_OPTIONAL_STEP_FIELDS = ("confidence", "votes")


def dumps_verdict(verdict: Verdict) -> str:
    """Canonical one-line JSON of a verdict.

    The optional fields added within version 1 (`failure`, a step's `confidence` and `votes`)
    are left out when unset, so a file made without them reads the same as before.
    """
    data = verdict.model_dump(mode="json")
    if data["failure"] is None:
        del data["failure"]
    for step in data["steps"]:
        for key in _OPTIONAL_STEP_FIELDS:
            if step[key] is None:
                del step[key]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def loads_verdict(line: str, *, where: str = "<string>") -> Verdict:
    """Parse and validate one verdicts line; errors name `where` and the reason."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise VerdictError(f"{where}: not valid JSON: {e}") from e
    if not isinstance(data, dict) or data.get("format") != VERDICTS_FORMAT:
        raise VerdictError(f"{where}: not an srft verdicts record")
    if data.get("version") != VERDICTS_VERSION:
        raise VerdictError(f"{where}: verdicts version {data.get('version')!r} is not supported")
    try:
        verdict = Verdict.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise VerdictError(f"{where}: {err['loc']}: {err['msg']}") from e
    if verdict.status == "ok" and [s.index for s in verdict.steps] != list(
        range(len(verdict.steps))
    ):
        raise VerdictError(
            f"{where}: trajectory {verdict.trajectory_id!r}: step indices must be 0..n-1"
        )
    return verdict


def read_verdicts(path: str | Path) -> Iterator[Verdict]:
    """Stream the verdicts of a file."""
    path = Path(path)
    require_regular_file(path, VerdictError)  # a pipe or device would block, not fail
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                yield loads_verdict(line, where=f"{path}:{n}")


def load_verdicts(path: str | Path) -> dict[str, Verdict]:
    """All verdicts of a file by trajectory id; a trajectory judged twice is an error."""
    out: dict[str, Verdict] = {}
    for v in read_verdicts(path):
        if v.trajectory_id in out:
            raise VerdictError(f"{path}: trajectory {v.trajectory_id!r} has two verdicts")
        out[v.trajectory_id] = v
    return out


def write_verdicts(verdicts: Iterable[Verdict], path: str | Path) -> int:
    """Write verdicts to `path`; returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for v in verdicts:
            f.write(dumps_verdict(v) + "\n")
            n += 1
    return n
