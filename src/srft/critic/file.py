"""The `file` critic: step labels made elsewhere (by people, or by another system), imported.

`--labels-from PATH` is a JSONL file, one trajectory per line, in any of three shapes:

- an `srft.verdicts` record (e.g. hand-corrected output of another critic run);
- `{"trajectory_id": ID, "labels": ["good", "mistake", ...], "reasons": [...]}` (reasons optional);
- `{"trajectory_id": ID, "steps": [{"index": 0, "label": "good", "reason": "..."}, ...]}`.

A trajectory without labels in the file, or whose labels do not match its steps, gets a
`failed` verdict saying so: an unlabelled step is never taken to be `good`.

Records are matched by trajectory id (the run). A record whose `trajectory_id` is an *instance*
id (labels made before ingest named runs, e.g. the toy teacher's, or published per-instance
masks) labels that instance's run when the corpus has exactly one run of it; with several runs
it cannot tell them apart, and each gets a `failed` verdict saying so (`prepare` counts the
runs per instance before judging).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from srft.files.corpus import Trajectory, record_field
from srft.files.verdicts import (
    LABELS,
    VERDICTS,
    VERDICTS_FORMAT,
    CriticInfo,
    StepVerdict,
    Verdict,
    VerdictError,
)


class LabelRecord:
    """The labels one line of the file gives one trajectory, and where they came from."""

    def __init__(self, trajectory_id: str, steps: list[StepVerdict], where: str) -> None:
        self.trajectory_id = trajectory_id
        self.steps = steps
        self.where = where


def read_labels(path: str | Path) -> dict[str, LabelRecord]:
    """All labels of a file by trajectory id; a malformed line is an error naming file:line."""
    path = Path(path)
    out: dict[str, LabelRecord] = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            record = _parse_line(line, where)
            if record.trajectory_id in out:
                raise VerdictError(
                    f"{where}: trajectory {record.trajectory_id!r} is labelled twice "
                    f"(first at {out[record.trajectory_id].where})"
                )
            out[record.trajectory_id] = record
    return out


def _parse_line(line: str, where: str) -> LabelRecord:
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as e:
        raise VerdictError(f"{where}: not valid JSON: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("trajectory_id"), str):
        raise VerdictError(f"{where}: a labels record needs a string 'trajectory_id'")
    tid = data["trajectory_id"]
    if data.get("format") == VERDICTS_FORMAT:
        try:
            verdict = VERDICTS.record(data)
        except ValueError as e:
            raise VerdictError(f"{where}: {e}") from e
        if verdict.status != "ok":
            raise VerdictError(f"{where}: trajectory {tid!r}: verdict is failed, it has no labels")
        return LabelRecord(tid, verdict.steps, where)
    if "labels" in data:
        labels, reasons = data["labels"], data.get("reasons") or []
        if not isinstance(labels, list) or not isinstance(reasons, list):
            raise VerdictError(f"{where}: trajectory {tid!r}: 'labels' and 'reasons' must be lists")
        items = [
            {"index": i, "label": lab, "reason": reasons[i] if i < len(reasons) else ""}
            for i, lab in enumerate(labels)
        ]
    elif isinstance(data.get("steps"), list):
        items = data["steps"]
    else:
        raise VerdictError(f"{where}: trajectory {tid!r}: needs 'labels' or 'steps'")
    steps: list[StepVerdict] = []
    for item in items:
        if not isinstance(item, dict) or item.get("label") not in LABELS:
            bad = item.get("label") if isinstance(item, dict) else item
            raise VerdictError(
                f"{where}: trajectory {tid!r}: label {bad!r} is not one of {', '.join(LABELS)}"
            )
        steps.append(
            StepVerdict(
                index=int(item["index"]),
                label=item["label"],
                reason=str(item.get("reason") or "imported"),
            )
        )
    if [s.index for s in steps] != list(range(len(steps))):
        raise VerdictError(f"{where}: trajectory {tid!r}: step indices must be 0..n-1 in order")
    return LabelRecord(tid, steps, where)


class FileCritic:
    """The critic behind the registry name `file`: labels looked up by trajectory id."""

    name = "file"

    def __init__(self, labels_from: str | Path) -> None:
        self.path = Path(labels_from)
        self.labels = read_labels(self.path)
        self.used: set[str] = set()
        self.runs_per_instance: Counter[str] | None = None

    def prepare(self, corpus: str | Path) -> None:
        """Count the runs of each instance in `corpus`, so instance-keyed records can be used
        where they name one run (only the `instance_id` of each line is read)."""
        counts: Counter[str] = Counter()
        with Path(corpus).open(encoding="utf-8") as f:
            for line in f:
                instance = record_field(line, "instance_id") if line.strip() else None
                if isinstance(instance, str):
                    counts[instance] += 1
        self.runs_per_instance = counts

    def info(self) -> CriticInfo:
        """The identity recorded in the verdicts: the file the labels came from."""
        return CriticInfo(name="file", model=str(self.path), prompt_version=None, mode="imported")

    def judge(self, trajectory: Trajectory) -> Verdict:
        """The imported labels of `trajectory`, or a failed verdict saying why there are none."""
        record = self.labels.get(trajectory.id)
        key = trajectory.id
        instance = trajectory.instance_id
        if record is None and instance is not None and instance in self.labels:
            runs = self.runs_per_instance[instance] if self.runs_per_instance else 1
            if runs > 1:
                return Verdict(
                    trajectory_id=trajectory.id,
                    critic=self.info(),
                    status="failed",
                    error=f"{self.labels[instance].where}: labels keyed by instance "
                    f"{instance!r}, which has {runs} runs in the corpus: key them by "
                    "trajectory id",
                )
            record, key = self.labels[instance], instance
        if record is None:
            return Verdict(
                trajectory_id=trajectory.id,
                critic=self.info(),
                status="failed",
                error=f"no labels for this trajectory in {self.path}",
                failure="no-labels",
            )
        self.used.add(key)
        if len(record.steps) != len(trajectory.steps):
            return Verdict(
                trajectory_id=trajectory.id,
                critic=self.info(),
                status="failed",
                failure="label-count",
                error=f"{record.where}: {len(record.steps)} labels for "
                f"{len(trajectory.steps)} steps",
            )
        return Verdict(trajectory_id=trajectory.id, critic=self.info(), steps=record.steps)

    def unused(self) -> list[str]:
        """Trajectory ids labelled in the file but absent from the corpus judged so far."""
        return sorted(set(self.labels) - self.used)
