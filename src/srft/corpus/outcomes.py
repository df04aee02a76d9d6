"""Outcome labels: whether a run's final patch resolved its task, from wherever that is recorded.

Labels usually live outside the trajectory, in SWE-bench evaluation output. Supported files:

- harness per-instance `report.json`: `{instance_id: {"resolved": bool, ...}}`, or the bare inner
  object (as the Gemini sample has it), whose instance id is then its folder's name
  (`logs/<instance_id>/report.json`);
- harness run summaries: `{"resolved_ids": [...], "unresolved_ids": [...], ...}`; ids in
  `empty_patch_ids` count as unresolved (nothing was submitted); `error_ids` give no label
  (the evaluation itself failed);
- `{"instances": [{"instance_id": ..., "resolved": ...}]}` summaries;
- CSV with `instance_id` and `resolved` columns, or JSONL of such objects (JSONL lines of
  OpenHands `*.swebench_eval.jsonl` also work: `test_result.report.resolved`).

Labels are keyed by instance id. Two sources that disagree about one trajectory are an error
naming both (`LabelBook.lookup`); labels for instances no trajectory has are reported, not fatal.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srft.corpus.model import CorpusError, Outcome

_REPORT_KEYS = ("patch_is_None", "patch_exists", "patch_successfully_applied", "tests_status")
_SUMMARY_KEYS = (
    "resolved_ids",
    "unresolved_ids",
    "total_instances",
    "submitted_instances",
    "completed_instances",
    "resolved_instances",
    "instances",
    "schema_version",
)
_FIRST_KEY = re.compile(r'^\s*\{\s*"((?:[^"\\]|\\.)*)"\s*:\s*(\{\s*"((?:[^"\\]|\\.)*)")?')
_TRUE = {"true", "1", "yes", "y", "resolved"}
_FALSE = {"false", "0", "no", "n", "unresolved"}


@dataclass(frozen=True)
class Label:
    """One label: resolved or not, and the file (and entry) it came from."""

    resolved: bool
    source: str


@dataclass
class LabelBook:
    """All external labels, by instance id; remembers which ids a trajectory asked for."""

    by_instance: dict[str, list[Label]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def add(self, instance_id: str, resolved: bool, source: str) -> None:
        labels = self.by_instance.setdefault(instance_id, [])
        if all(label.source != source for label in labels):
            labels.append(Label(resolved, source))

    def load(self, path: Path) -> int:
        """Add the labels of one file; returns how many. `CorpusError` if it holds none."""
        entries = parse_label_file(path)
        if entries is None:
            raise CorpusError(f"{path}: not a labels file (no known outcome-label shape)")
        for instance_id, resolved in entries:
            self.add(instance_id, resolved, str(path))
        self.files.append(str(path))
        return len(entries)

    def lookup(self, instance_id: str | None) -> Label | None:
        """The label for an instance, or None; `CorpusError` naming both sources on conflict."""
        if instance_id is None or instance_id not in self.by_instance:
            return None
        self.used.add(instance_id)
        labels = self.by_instance[instance_id]
        for other in labels[1:]:
            if other.resolved != labels[0].resolved:
                raise CorpusError(
                    f"conflicting labels for instance {instance_id!r}: "
                    f"{_says(labels[0])} but {_says(other)}"
                )
        return labels[0]

    def unknown_instances(self) -> list[str]:
        """Instances that have a label but no trajectory asked for it."""
        return sorted(set(self.by_instance) - self.used)

    def apply(self, outcome: Outcome, instance_id: str | None) -> Outcome:
        """The outcome after external labels: set it, confirm it, or raise on a conflict."""
        label = self.lookup(instance_id)
        if label is None:
            return outcome
        status = "resolved" if label.resolved else "unresolved"
        if outcome.status == "unknown":
            return Outcome(status=status, source=label.source, details=outcome.details)
        if outcome.status != status:
            raise CorpusError(
                f"conflicting labels for instance {instance_id!r}: {outcome.source} says "
                f"{outcome.status} but {label.source} says {status}"
            )
        return outcome


def _says(label: Label) -> str:
    return f"{label.source} says {'resolved' if label.resolved else 'unresolved'}"


def as_bool(value: Any, what: str) -> bool:
    """A resolved flag from a bool, 0/1 or a yes/no-style string."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise CorpusError(f"{what}: {value!r} is not a resolved flag (true/false)")


def looks_like_labels(path: Path) -> bool:
    """Cheap guess from the start of a file: does it hold labels rather than trajectories?

    Used to pick label files out of the inputs; `parse_label_file` decides for real.
    """
    name = path.name.lower()
    try:
        with path.open("rb") as f:
            head = f.read(65536).decode("utf-8", errors="replace")
    except OSError:
        return False
    if name.endswith(".csv"):
        header = head.splitlines()[0] if head else ""
        return "instance_id" in header and "resolved" in header
    if name.endswith((".jsonl", ".ndjson")):
        first = head.split("\n", 1)[0]
        try:
            row = json.loads(first)
        except (json.JSONDecodeError, RecursionError):
            return False
        return _is_label_row(row)
    if name.endswith(".json"):
        match = _FIRST_KEY.match(head)
        if not match:
            return False
        if match.group(1) in _SUMMARY_KEYS + _REPORT_KEYS + ("resolved",):
            return True
        return match.group(3) in (*_REPORT_KEYS, "resolved")
    return False


def _is_label_row(row: Any) -> bool:
    if not isinstance(row, dict) or not isinstance(row.get("instance_id"), str):
        return False
    if any(key in row for key in ("messages", "history", "trajectory")):
        return False
    return "resolved" in row or _eval_resolved(row) is not None


def _eval_resolved(row: dict[str, Any]) -> Any:
    report = row.get("test_result")
    report = report.get("report") if isinstance(report, dict) else None
    return report.get("resolved") if isinstance(report, dict) else None


def parse_label_file(path: Path) -> list[tuple[str, bool]] | None:
    """The (instance_id, resolved) entries of a label file, or None if it is not one."""
    name = path.name.lower()
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path}: invalid UTF-8 at byte {e.start}") from e
    if name.endswith(".csv"):
        return _parse_csv(path, text)
    if name.endswith((".jsonl", ".ndjson")):
        return _parse_jsonl(path, text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CorpusError(f"{path}: not valid JSON (truncated?): {e}") from e
    return _parse_json(path, data)


def _parse_json(path: Path, data: Any) -> list[tuple[str, bool]] | None:
    if not isinstance(data, dict):
        return None
    if "resolved_ids" in data or "unresolved_ids" in data:
        entries: list[tuple[str, bool]] = []
        for key, resolved in (
            ("resolved_ids", True),
            ("unresolved_ids", False),
            ("empty_patch_ids", False),
        ):
            ids = data.get(key) or []
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise CorpusError(f"{path}: {key} must be a list of instance ids")
            entries.extend((i, resolved) for i in ids)
        return entries
    if isinstance(data.get("instances"), list):
        entries = []
        for n, row in enumerate(data["instances"]):
            if not isinstance(row, dict) or not isinstance(row.get("instance_id"), str):
                raise CorpusError(f"{path}: instances[{n}] has no instance_id")
            if "resolved" not in row:
                raise CorpusError(f"{path}: instances[{n}] has no resolved flag")
            entries.append((row["instance_id"], as_bool(row["resolved"], f"{path}: {n}")))
        return entries
    if "resolved" in data and any(key in data for key in _REPORT_KEYS):
        # The bare inner object of a harness report: the instance is the folder's name.
        return [(path.parent.name, as_bool(data["resolved"], f"{path}: resolved"))]
    if data and all(isinstance(v, dict) and "resolved" in v for v in data.values()):
        if any(key in ("messages", "history", "trajectory") for v in data.values() for key in v):
            return None
        return [(k, as_bool(v["resolved"], f"{path}: {k}")) for k, v in data.items()]
    return None


def _parse_jsonl(path: Path, text: str) -> list[tuple[str, bool]] | None:
    entries = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}:{n}: not valid JSON (truncated?): {e}") from e
        if not isinstance(row, dict) or not isinstance(row.get("instance_id"), str):
            if n == 1:
                return None
            raise CorpusError(f"{path}:{n}: a label line needs an instance_id")
        value = row["resolved"] if "resolved" in row else _eval_resolved(row)
        if value is None:
            if n == 1:
                return None
            raise CorpusError(f"{path}:{n}: a label line needs a resolved flag")
        entries.append((row["instance_id"], as_bool(value, f"{path}:{n}")))
    return entries


def _parse_csv(path: Path, text: str) -> list[tuple[str, bool]] | None:
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"instance_id", "resolved"} <= set(reader.fieldnames):
        return None
    entries = []
    for n, row in enumerate(reader, start=2):
        if not row["instance_id"]:
            raise CorpusError(f"{path}:{n}: empty instance_id")
        entries.append((row["instance_id"], as_bool(row["resolved"], f"{path}:{n}")))
    return entries


def in_file_outcome(record: dict[str, Any], *fields: str) -> Outcome:
    """The outcome a record states itself in the first of `fields` present (e.g. `resolved`)."""
    for name in fields:
        value = record.get(name)
        if value is not None:
            status = "resolved" if as_bool(value, f"field {name}") else "unresolved"
            return Outcome(status=status, source=f"in-file:{name}")
    return Outcome()
