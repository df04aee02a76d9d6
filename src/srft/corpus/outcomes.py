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

Labels are keyed by instance id, or by run: rows with a `trajectory_id` (the corpus id of one
run) label that run alone. A harness report also carries the per-test results (`tests_status`:
FAIL_TO_PASS / PASS_TO_PASS, success / failure); they go to `outcome.details`, where the critic's
evaluation section reads them.

Several runs of one instance are normal (pass@k sampling), so an instance-keyed label has to be
matched to its run: it belongs to the run(s) of that instance *nearest to the label file in the
folder tree* (the longest shared folder path), which is where a per-run harness report lives
(`run-3/logs/<instance>/report.json` beside `run-3/...traj`). When several runs are equally near,
the label cannot tell them apart: none of them gets it (they stay `unknown`, counted in
`ambiguous_labels` and warned about), because guessing would give failed runs a resolved label.
Two sources that disagree about one run are an error naming both; labels for instances no
trajectory has are reported, not fatal.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srft.corpus.compression import (
    DECOMPRESSION_ERRORS,
    decompression_error,
    inner_name,
    open_binary,
)
from srft.files.corpus import CorpusError, Outcome

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
    """One label: resolved or not, the file (and entry) it came from, and what else it says."""

    resolved: bool
    source: str
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class LabelEntry:
    """One entry of a label file: the instance (or, with `by_run`, the run) it labels."""

    key: str
    resolved: bool
    by_run: bool = False
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class _Claim:
    """A run that took an instance-keyed label provisionally: its id and its file."""

    trajectory_id: str
    file: str


@dataclass
class _Pending:
    """A run labelled by instance: its outcome before the labels, and the labels it took."""

    base: Outcome
    instance_id: str
    labels: list[Label]


@dataclass
class LabelBook:
    """All external labels, by instance id and by run id; matches instance labels to runs.

    `apply` labels a trajectory as it is read, taking the nearest instance labels; `settle`,
    called once every trajectory has been read, takes each instance label back from the runs it
    does not belong to (a nearer run exists, or several are equally near) and returns their
    corrected outcomes.
    """

    by_instance: dict[str, list[Label]] = field(default_factory=dict)
    by_run: dict[str, list[Label]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    ambiguous: list[str] = field(default_factory=list)
    _used_runs: set[str] = field(default_factory=set)
    _claims: dict[tuple[str, str], list[_Claim]] = field(default_factory=dict)
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _folders: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(
        self,
        key: str,
        resolved: bool,
        source: str,
        *,
        by_run: bool = False,
        details: dict[str, Any] | None = None,
    ) -> None:
        table = self.by_run if by_run else self.by_instance
        labels = table.setdefault(key, [])
        if all(label.source != source for label in labels):
            labels.append(Label(resolved, source, details or {}))

    def load(self, path: Path) -> int:
        """Add the labels of one file; returns how many. `CorpusError` if it holds none."""
        entries = parse_label_entries(path)
        if entries is None:
            raise CorpusError(f"{path}: not a labels file (no known outcome-label shape)")
        self.add_entries(entries, str(path))
        self.files.append(str(path))
        return len(entries)

    def add_entries(self, entries: list[LabelEntry], source: str) -> None:
        """Add the parsed entries of the label file `source`."""
        for entry in entries:
            self.add(entry.key, entry.resolved, source, by_run=entry.by_run, details=entry.details)

    def unknown_instances(self) -> list[str]:
        """Instances that have a label but no trajectory asked for it."""
        return sorted(set(self.by_instance) - self.used)

    def unknown_runs(self) -> list[str]:
        """Run ids that have a label but no trajectory in the corpus."""
        return sorted(set(self.by_run) - self._used_runs)

    def apply(
        self,
        outcome: Outcome,
        instance_id: str | None,
        *,
        run_id: str | None = None,
        file: str | None = None,
    ) -> Outcome:
        """The outcome after external labels: set it, confirm it, or raise on a conflict.

        A label keyed by `run_id` wins over instance labels. Of the instance labels, the ones
        nearest to `file` are taken, provisionally when `run_id` is given (see `settle`).
        """
        if run_id is not None and run_id in self.by_run:
            self._used_runs.add(run_id)
            label = _agreeing(self.by_run[run_id], f"run {run_id!r}")
            return _combine(outcome, label, f"run {run_id!r}")
        if instance_id is None or instance_id not in self.by_instance:
            return outcome
        self.used.add(instance_id)
        labels = self.by_instance[instance_id]
        if file is not None and run_id is not None and len(labels) > 1:
            near = [self._nearness(label.source, file) for label in labels]
            labels = [label for label, n in zip(labels, near, strict=True) if n == max(near)]
        label = _agreeing(labels, f"instance {instance_id!r}")
        result = _combine(outcome, label, f"instance {instance_id!r}")
        if run_id is not None and file is not None:
            self._pending[run_id] = _Pending(outcome, instance_id, labels)
            for taken in labels:
                self._claims.setdefault((taken.source, instance_id), []).append(
                    _Claim(run_id, file)
                )
        return result

    def is_pending(self, run_id: str) -> bool:
        """Whether `run_id` took an instance label that `settle` may still take back."""
        return run_id in self._pending

    def forget(self, run_id: str) -> None:
        """Drop what `apply` recorded for a run that was not kept (an exact duplicate)."""
        pending = self._pending.pop(run_id, None)
        if pending is None:
            return
        for label in pending.labels:
            claims = self._claims.get((label.source, pending.instance_id), [])
            claims[:] = [c for c in claims if c.trajectory_id != run_id]

    def settle(self) -> dict[str, Outcome]:
        """Corrected outcomes of the runs that took an instance label not theirs, by run id.

        A label belongs to the run(s) nearest to its file; when several runs are nearest it is
        ambiguous and belongs to none (recorded in `ambiguous` as `FILE: INSTANCE (N runs)`).
        """
        lost: dict[str, set[str]] = {}
        for (source, instance_id), claims in self._claims.items():
            if len(claims) < 2:
                continue  # one run took the label: it is that run's (the usual case)
            near = [self._nearness(source, claim.file) for claim in claims]
            best = max(near)
            owners = near.count(best)
            if owners > 1:
                self.ambiguous.append(f"{source}: {instance_id} ({owners} runs)")
            for claim, n in zip(claims, near, strict=True):
                if n < best or owners > 1:
                    lost.setdefault(claim.trajectory_id, set()).add(source)
        corrected: dict[str, Outcome] = {}
        for run_id, sources in lost.items():
            pending = self._pending[run_id]
            kept = [label for label in pending.labels if label.source not in sources]
            outcome = pending.base
            if kept:
                outcome = _combine(outcome, kept[0], f"instance {pending.instance_id!r}")
            corrected[run_id] = outcome
        return corrected

    def _nearness(self, source: str, file: str) -> int:
        """How many leading folders the label file and the trajectory file share."""
        label_dir = self._folder(source, parent=True)
        target = self._folder(file, parent=False)
        n = 0
        for a, b in zip(label_dir, target, strict=False):
            if a != b:
                break
            n += 1
        return n

    def _folder(self, path: str, *, parent: bool) -> tuple[str, ...]:
        key = ("p:" if parent else "f:") + path
        parts = self._folders.get(key)
        if parts is None:
            absolute = os.path.abspath(path)
            parts = tuple((os.path.dirname(absolute) if parent else absolute).split(os.sep))
            self._folders[key] = parts
        return parts


def _agreeing(labels: list[Label], what: str) -> Label:
    """The first label, after checking that all of them agree (a conflict names two sources)."""
    for other in labels[1:]:
        if other.resolved != labels[0].resolved:
            raise CorpusError(
                f"conflicting labels for {what}: {_says(labels[0])} but {_says(other)}"
            )
    return labels[0]


def _combine(outcome: Outcome, label: Label, what: str) -> Outcome:
    """`outcome` set or confirmed by `label` (its details merged in); conflict -> `CorpusError`."""
    status = "resolved" if label.resolved else "unresolved"
    details = {**outcome.details, **label.details} if label.details else outcome.details
    if outcome.status == "unknown":
        return Outcome(status=status, source=label.source, details=details)
    if outcome.status != status:
        raise CorpusError(
            f"conflicting labels for {what}: {outcome.source} says "
            f"{outcome.status} but {label.source} says {status}"
        )
    return Outcome(status=outcome.status, source=outcome.source, details=details)


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
    name = inner_name(path)
    try:
        with open_binary(path) as f:
            head = f.read(65536).decode("utf-8", errors="replace")
    except DECOMPRESSION_ERRORS:
        return False  # the trajectory reader reports what is wrong with the file
    if name.endswith(".csv"):
        header = head.splitlines()[0] if head else ""
        return ("instance_id" in header or "trajectory_id" in header) and "resolved" in header
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
    if not isinstance(row, dict) or not isinstance(_row_key(row), str):
        return False
    if any(key in row for key in ("messages", "history", "trajectory")):
        return False
    return "resolved" in row or _eval_resolved(row) is not None


def _eval_resolved(row: dict[str, Any]) -> Any:
    report = row.get("test_result")
    report = report.get("report") if isinstance(report, dict) else None
    return report.get("resolved") if isinstance(report, dict) else None


def _row_key(row: dict[str, Any]) -> str | None:
    """A label row's key: its `trajectory_id` (one run) or else its `instance_id`."""
    for name in ("trajectory_id", "instance_id"):
        if isinstance(row.get(name), str) and row[name]:
            return row[name]
    return None


def _row_entry(row: dict[str, Any], resolved: bool) -> LabelEntry:
    by_run = isinstance(row.get("trajectory_id"), str) and bool(row["trajectory_id"])
    key = _row_key(row)
    assert key is not None  # callers checked
    return LabelEntry(key, resolved, by_run=by_run)


def _report_details(report: dict[str, Any]) -> dict[str, Any]:
    """What a harness report says besides `resolved`: per-test results and patch facts."""
    return {key: report[key] for key in _REPORT_KEYS if key in report}


def parse_label_file(path: Path) -> list[tuple[str, bool]] | None:
    """The (instance_id or run id, resolved) entries of a label file, or None if it is not one."""
    entries = parse_label_entries(path)
    return None if entries is None else [(e.key, e.resolved) for e in entries]


def parse_label_entries(path: Path) -> list[LabelEntry] | None:
    """The entries of a label file (with run keys and report details), or None if not one."""
    name = inner_name(path)
    try:
        with open_binary(path) as f:
            text = f.read().decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path}: invalid UTF-8 at byte {e.start}") from e
    except DECOMPRESSION_ERRORS as e:
        raise CorpusError(f"{path}: {decompression_error(e)}") from e
    if name.endswith(".csv"):
        return _parse_csv(path, text)
    if name.endswith((".jsonl", ".ndjson")):
        return _parse_jsonl(path, text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CorpusError(f"{path}: not valid JSON (truncated?): {e}") from e
    return _parse_json(path, data)


def _parse_json(path: Path, data: Any) -> list[LabelEntry] | None:
    if not isinstance(data, dict):
        return None
    if "resolved_ids" in data or "unresolved_ids" in data:
        entries: list[LabelEntry] = []
        for key, resolved in (
            ("resolved_ids", True),
            ("unresolved_ids", False),
            ("empty_patch_ids", False),
        ):
            ids = data.get(key) or []
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise CorpusError(f"{path}: {key} must be a list of instance ids")
            entries.extend(LabelEntry(i, resolved) for i in ids)
        return entries
    if isinstance(data.get("instances"), list):
        entries = []
        for n, row in enumerate(data["instances"]):
            if not isinstance(row, dict) or not isinstance(_row_key(row), str):
                raise CorpusError(f"{path}: instances[{n}] has no instance_id")
            if "resolved" not in row:
                raise CorpusError(f"{path}: instances[{n}] has no resolved flag")
            entries.append(_row_entry(row, as_bool(row["resolved"], f"{path}: {n}")))
        return entries
    if "resolved" in data and any(key in data for key in _REPORT_KEYS):
        # The bare inner object of a harness report: the instance is the folder's name.
        resolved = as_bool(data["resolved"], f"{path}: resolved")
        return [LabelEntry(path.parent.name, resolved, details=_report_details(data))]
    if data and all(isinstance(v, dict) and "resolved" in v for v in data.values()):
        if any(key in ("messages", "history", "trajectory") for v in data.values() for key in v):
            return None
        return [
            LabelEntry(k, as_bool(v["resolved"], f"{path}: {k}"), details=_report_details(v))
            for k, v in data.items()
        ]
    return None


def _parse_jsonl(path: Path, text: str) -> list[LabelEntry] | None:
    entries = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}:{n}: not valid JSON (truncated?): {e}") from e
        if not isinstance(row, dict) or not isinstance(_row_key(row), str):
            if n == 1:
                return None
            raise CorpusError(f"{path}:{n}: a label line needs an instance_id or trajectory_id")
        value = row["resolved"] if "resolved" in row else _eval_resolved(row)
        if value is None:
            if n == 1:
                return None
            raise CorpusError(f"{path}:{n}: a label line needs a resolved flag")
        entries.append(_row_entry(row, as_bool(value, f"{path}:{n}")))
    return entries


def _parse_csv(path: Path, text: str) -> list[LabelEntry] | None:
    reader = csv.DictReader(text.splitlines())
    fields = set(reader.fieldnames or ())
    if "resolved" not in fields or not fields & {"instance_id", "trajectory_id"}:
        return None
    entries = []
    for n, row in enumerate(reader, start=2):
        if not _row_key(row):
            raise CorpusError(f"{path}:{n}: empty instance_id")
        entries.append(_row_entry(row, as_bool(row["resolved"], f"{path}:{n}")))
    return entries


def in_file_outcome(record: dict[str, Any], *fields: str) -> Outcome:
    """The outcome a record states itself in the first of `fields` present (e.g. `resolved`)."""
    for name in fields:
        value = record.get(name)
        if value is not None:
            status = "resolved" if as_bool(value, f"field {name}") else "unresolved"
            return Outcome(status=status, source=f"in-file:{name}")
    return Outcome()
