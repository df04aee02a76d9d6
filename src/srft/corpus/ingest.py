"""`ingest`: every input record -> one canonical corpus JSONL, with every record accounted for.

One pass, streamed: records are read, converted, labelled and written one at a time, so memory
does not grow with the number of trajectories (only the set of ids seen, for the duplicate
check, does). Label files are read first, because a trajectory's outcome is written with it.

Every record read is either accepted (a line of the corpus), rejected with a reason, or dropped
as an exact duplicate of a run already read (`srft.corpus.runs`); without `skip_invalid` the
first rejection stops the run with an error naming file, record and reason (and no partial
corpus is left behind: the corpus and the rejects file are written under temporary names and
renamed when complete, see `srft.outputs`).

Trajectory ids name runs (`runs.run_id`). Instance-keyed labels are matched to runs as they
are read and settled at the end (`LabelBook.settle`): the few lines whose label turned out to
belong to another run are rewritten in one extra pass over the temporary corpus, needed only
when some instance has several labelled runs.

`shard` keeps every N-th record (see `srft.shard`), so N processes can split one corpus; the
duplicate-id check then only sees the shard's own records.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from srft.corpus.containers import TOO_DEEP, container_of, expand_inputs, read_records
from srft.corpus.formats import Origin, TrajectoryFormat, detect, get_format, keeps_its_id
from srft.corpus.outcomes import LabelBook, looks_like_labels, parse_label_entries
from srft.corpus.runs import content_digest, run_id
from srft.files.corpus import CORPUS, CorpusError, Outcome, Trajectory
from srft.outputs import atomic_file, check_output
from srft.paths import not_a_regular_file
from srft.shard import Shard

ProgressCallback = Callable[[int, int, Path], None]


class _Empty(Exception):
    """Internal: abandons the corpus file of a run that accepted nothing."""


class NothingAccepted(CorpusError):
    """No record became a trajectory (`keep_empty=False`); no output was written.

    Carries the run's summary, so the caller can still show what was read and why it failed.
    """

    def __init__(self, message: str, summary: IngestSummary) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class Rejection:
    """A record that did not become a trajectory, and why."""

    file: str
    record: str
    reason: str
    format: str | None = None


@dataclass
class IngestSummary:
    """What an ingest run did; `read == accepted + rejected + duplicates` always holds."""

    output: str
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    files: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    steps: int = 0
    label_files: list[str] = field(default_factory=list)
    labels: int = 0
    unknown_label_instances: list[str] = field(default_factory=list)
    unknown_label_runs: list[str] = field(default_factory=list)
    ambiguous_labels: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    refused_files: list[tuple[str, str]] = field(default_factory=list)
    empty_files: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    shard: str = "0/1"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (for `--json` output and logs)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "rejections"}
        out["formats"], out["outcomes"] = dict(self.formats), dict(self.outcomes)
        out["refused_files"] = [{"file": f, "reason": r} for f, r in self.refused_files]
        return out


def ingest(
    inputs: list[str | Path],
    *,
    labels: list[Path] | tuple[Path, ...] = (),
    output: Path,
    format: str | None = None,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = True,
    shard: Shard | None = None,
    keep_empty: bool = True,
) -> IngestSummary:
    """Read `inputs` (files, folders, globs, dataset folders) into the corpus at `output`.

    `labels`: outcome-label files (label files found among the inputs are used as well).
    `format`: force one format instead of detecting it per record.
    `skip_invalid`: reject bad records (to `rejects`, if given) instead of stopping.
    `overwrite`: False refuses an existing `output` or `rejects` (the CLI's default).
    `shard`: keep only this shard's records (every N-th, see `srft.shard`).
    `keep_empty`: False raises `NothingAccepted` (and writes nothing, leaving any old output
    as it was) when no record was accepted, instead of writing an empty corpus.
    Raises `CorpusError` naming file, record and reason on the first bad record otherwise.
    """
    forced = get_format(format) if format else None
    output = Path(output)
    shard = shard or Shard()
    _check_outputs(output, rejects, skip_invalid, overwrite)
    summary = IngestSummary(output=str(output), shard=str(shard))
    expansion = expand_inputs(inputs)
    summary.skipped_files = [str(p) for p in expansion.skipped]
    summary.refused_files = [(str(p), reason) for p, reason in expansion.refused]
    book = LabelBook()
    trajectory_paths = _sort_inputs(expansion.paths, labels, book, summary)
    summary.files = len(trajectory_paths)
    run = _Run(summary, book, forced, skip_invalid, shard)
    empty = run.write(output, rejects, trajectory_paths, expansion.keys, progress, keep_empty)
    summary.unknown_label_instances = book.unknown_instances()
    summary.unknown_label_runs = book.unknown_runs()
    summary.ambiguous_labels = book.ambiguous
    if empty:
        raise NothingAccepted(
            f"no trajectory accepted from {', '.join(map(str, inputs))} (read "
            f"{summary.read} = accepted 0 + rejected {summary.rejected} records from "
            f"{summary.files} files); no corpus written",
            summary,
        )
    return summary


def _check_outputs(output: Path, rejects: Path | None, skip_invalid: bool, overwrite: bool) -> None:
    """A `CorpusError` before anything is read when an output may not be written."""
    if rejects is not None and not skip_invalid:
        raise CorpusError(
            f"{rejects}: --rejects only receives records rejected under --skip-invalid; "
            "add --skip-invalid, or drop --rejects"
        )
    try:
        check_output(output, kind="file", overwrite=overwrite)
        if rejects is not None:
            check_output(rejects, kind="file", overwrite=overwrite)
    except ValueError as e:
        raise CorpusError(str(e)) from e


def _sort_inputs(
    paths: list[Path],
    labels: list[Path] | tuple[Path, ...],
    book: LabelBook,
    summary: IngestSummary,
) -> list[Path]:
    """The trajectory files among `paths`; the label files (`labels` and those found among
    `paths`) go into `book`, CSV files that hold no labels into `summary.skipped_files`."""
    explicit = set()
    for path in _label_paths(labels):
        summary.labels += book.load(path)
        summary.label_files.append(str(path))
        explicit.add(os.path.realpath(path))
    trajectory_paths = []
    for path in paths:
        if os.path.realpath(path) in explicit:  # realpath: no error on a link loop
            continue
        # Only a regular file is probed: opening a pipe or a device to peek could block.
        probe = container_of(path) != "hf" and not_a_regular_file(path) is None
        if probe and looks_like_labels(path):
            entries = parse_label_entries(path)
            if entries is not None:
                book.add_entries(entries, str(path))
                summary.labels += len(entries)
                summary.label_files.append(str(path))
                continue
        if path.name.lower().endswith(".csv"):
            summary.skipped_files.append(str(path))
            continue
        trajectory_paths.append(path)
    return trajectory_paths


def _rewrite_outcomes(
    partial: Path, lines: dict[int, str], corrected: dict[str, Outcome], summary: IngestSummary
) -> None:
    """Give the runs in `corrected` their settled outcome, in place of the provisional one.

    Only the lines named in `lines` (line number -> run id) are parsed; the rest are copied.
    These are lines this run has just written, so they are parsed as plain JSON, not validated
    again; replacing `outcome` in the parsed dict keeps the field order, so written back with
    `CORPUS.dumps` they stay canonical.
    """
    fixed = partial.with_name(partial.name + ".settled")
    try:
        with (
            partial.open(encoding="utf-8") as src,
            fixed.open("w", encoding="utf-8", newline="\n") as dst,
        ):
            for n, line in enumerate(src):
                trajectory_id = lines.get(n)
                if trajectory_id is None or trajectory_id not in corrected:
                    dst.write(line)
                    continue
                record = json.loads(line)
                outcome = corrected[trajectory_id]
                summary.outcomes[record["outcome"]["status"]] -= 1
                summary.outcomes[outcome.status] += 1
                record["outcome"] = outcome.model_dump(mode="json")
                dst.write(CORPUS.dumps(record) + "\n")
        os.replace(fixed, partial)
        summary.outcomes = +summary.outcomes  # drop the counts that fell to zero
    finally:
        fixed.unlink(missing_ok=True)


class _Run:
    """The state of one ingest pass (kept out of `ingest` to keep it readable)."""

    def __init__(
        self,
        summary: IngestSummary,
        book: LabelBook,
        forced: TrajectoryFormat | None,
        skip_invalid: bool,
        shard: Shard,
    ) -> None:
        self.summary = summary
        self.book = book
        self.forced = forced
        self.out: IO[str] | None = None  # the corpus and rejects files, while `write` runs
        self.rejects: IO[str] | None = None
        self.skip_invalid = skip_invalid
        self.shard = shard
        self.position = 0  # records seen in input order, over all shards
        self.ids: dict[str, str] = {}
        self.contents: set[bytes] = set()
        self.written = 0  # lines written so far = the line number of the next one
        self.pending_lines: dict[int, str] = {}  # line -> run id, for `LabelBook.settle`

    def write(
        self,
        output: Path,
        rejects: Path | None,
        paths: list[Path],
        keys: dict[Path, str],
        progress: ProgressCallback | None,
        keep_empty: bool,
    ) -> bool:
        """Read every path into the corpus at `output` (and the rejects file); True when
        nothing was accepted and not `keep_empty` (then no corpus is written)."""
        with ExitStack() as stack:
            if rejects is not None:
                self.rejects = stack.enter_context(atomic_file(rejects))
            try:
                with atomic_file(output) as out:
                    self.out = out
                    for n, path in enumerate(paths):
                        if progress is not None:
                            progress(n, len(paths), path)
                        self.read_path(path, keys.get(path, path.as_posix()))
                    if progress is not None and paths:
                        progress(len(paths), len(paths), paths[-1])
                    if self.summary.accepted == 0 and not keep_empty:
                        raise _Empty  # inside the writer: its temporary file goes, none is written
                    corrected = self.book.settle()
                    if corrected:
                        out.flush()  # the rewrite reads the temporary file by name
                        _rewrite_outcomes(
                            Path(out.name), self.pending_lines, corrected, self.summary
                        )
            except _Empty:
                return True  # the rejects are still kept: they say why nothing was accepted
        return False

    def read_path(self, path: Path, key: str) -> None:
        whole_list = None
        if self.forced is not None:
            whole_list = self.forced.name == "mini-swe-agent-legacy"
        records = 0
        for raw in read_records(path, whole_list=whole_list):
            records += 1
            self.position += 1
            if not self.shard.keeps(self.position - 1):
                continue
            self.summary.read += 1
            if raw.error is not None:
                self.reject(raw.origin, raw.error, None)
                continue
            fmt = None
            try:
                fmt = self.forced or detect(raw.data)
                if fmt is None:
                    self.reject(
                        raw.origin, f"no known trajectory format ({_shape(raw.data)})", None
                    )
                    continue
                line = self.convert(fmt, raw.data, raw.origin, key)
            except CorpusError as e:
                self.reject(raw.origin, str(e), fmt.name if fmt else None)
                continue
            except RecursionError:  # a pathologically deep record, however it was parsed
                self.reject(raw.origin, TOO_DEEP, fmt.name if fmt else None)
                continue
            if line is None:
                self.summary.duplicates += 1
                continue
            assert self.out is not None, "read_path runs inside write"
            self.out.write(line)
            self.out.write("\n")
            self.written += 1
        if records == 0:
            self.summary.empty_files.append(str(path))

    def convert(self, fmt: TrajectoryFormat, data: Any, origin: Origin, key: str) -> str | None:
        """The corpus line of one record, or None when it is an exact duplicate of an earlier one."""
        try:
            trajectory = fmt.convert(data, origin)
        except ValidationError as e:
            error = e.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise CorpusError(f"{fmt.name}: {where}: {error['msg']}") from e
        if not keeps_its_id(fmt, data):
            trajectory.id = run_id(trajectory.instance_id or trajectory.id, key, origin.record)
        trajectory.outcome = self.book.apply(
            trajectory.outcome, trajectory.instance_id, run_id=trajectory.id, file=origin.file
        )
        line = CORPUS.dumps(trajectory)
        try:
            encoded = line.encode("utf-8")
        except UnicodeEncodeError as e:
            self.book.forget(trajectory.id)
            raise CorpusError(
                f"text holds a lone surrogate (\\u{ord(e.object[e.start]):04x}), not valid Unicode"
            ) from e
        digest = content_digest(trajectory.instance_id, encoded)
        if digest in self.contents:
            self.book.forget(trajectory.id)
            return None
        first = self.ids.get(trajectory.id)
        if first is not None:
            self.book.forget(trajectory.id)
            raise CorpusError(
                f"duplicate trajectory id {trajectory.id!r} (first read from {first})"
            )
        self.contents.add(digest)
        if self.book.is_pending(trajectory.id):
            self.pending_lines[self.written] = trajectory.id
        self.ids[trajectory.id] = f"{origin.file} record {origin.record}"
        self._count(trajectory)
        return line

    def _count(self, trajectory: Trajectory) -> None:
        self.summary.accepted += 1
        self.summary.formats[trajectory.source.format] += 1
        self.summary.outcomes[trajectory.outcome.status] += 1
        self.summary.steps += len(trajectory.steps)

    def reject(self, origin: Origin, reason: str, format_name: str | None) -> None:
        if not self.skip_invalid:
            raise CorpusError(f"{origin.file}: record {origin.record}: {reason}")
        rejection = Rejection(origin.file, origin.record, reason, format_name)
        self.summary.rejected += 1
        if len(self.summary.rejections) < 1000:  # a sample for display; the file has all
            self.summary.rejections.append(rejection)
        if self.rejects is not None:
            self.rejects.write(
                json.dumps(
                    {
                        "file": rejection.file,
                        "record": rejection.record,
                        "format": rejection.format,
                        "reason": rejection.reason,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )


def _shape(data: Any) -> str:
    """A short description of an unrecognised record, to help the user pick `--format`."""
    if isinstance(data, dict):
        keys = ", ".join(list(data)[:8])
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(data, list):
        return f"an array of {len(data)} items"
    return f"a JSON {type(data).__name__}"


def _label_paths(labels: list[Path] | tuple[Path, ...]) -> list[Path]:
    """The label files named by `--labels`: a file as given (it must be a labels file), and
    every labels file inside a folder or glob (e.g. a harness `logs/` tree of `report.json`)."""
    paths: list[Path] = []
    for item in labels:
        item = Path(item)
        if item.is_file():
            paths.append(item)
            continue
        expansion = expand_inputs([item])
        found = [p for p in expansion.paths if looks_like_labels(p)]
        if not found:
            raise CorpusError(f"{item}: no outcome-label files found there")
        paths.extend(found)
    return paths
