"""The stage graph: run stages in order, skip what is up to date, resume what was interrupted.

A `Stage` is a named action with settings, external inputs (files the user gave), upstream
stages, and the outputs it writes inside the run folder. Its *input hash* covers its kind, its
settings, the srft version, the content of its external inputs and the `output_hash` its
upstream stages recorded. The runner compares that hash with the manifest:

- same hash, finished, outputs present -> skipped;
- same hash, but the last attempt did not finish (killed, crashed) -> run again with
  `resume=True`, so a stage that can resume (training, from its last checkpoint) does;
- otherwise -> its old outputs are removed and it runs afresh.

Why hand-written rather than a workflow engine (Snakemake, Luigi, DVC): the graph has a dozen
nodes and one process; those tools would add a dependency, a second config language and their
own state files, while the content-hash rule above is all srft needs and fits in this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from srft import __version__
from srft.pipeline.manifest import Manifest, StageRecord, hash_inputs, hash_json, hash_path, now


class PipelineError(RuntimeError):
    """A stage failed or the graph is wrong; the message names the stage and the reason."""


@dataclass
class StageContext:
    """What a stage's action gets: where to write, and whether to resume an earlier attempt."""

    run_dir: Path
    key: str
    resume: bool
    log: Callable[[str], None]

    def path(self, relative: str) -> Path:
        """A path inside the run folder."""
        return self.run_dir / relative


Action = Callable[[StageContext], "dict[str, Any] | None"]


@dataclass
class Stage:
    """One node of the graph.

    `outputs` are paths relative to the run folder that must exist after the action and whose
    content becomes the stage's `output_hash`; `clean` (default: `outputs`) is removed before a
    fresh run so a half-written leftover never mixes with new output. Only a `resumable` stage
    (training) is handed its unfinished earlier attempt; any other one starts over.
    """

    key: str
    kind: str
    action: Action
    outputs: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    after: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    clean: list[str] | None = None
    resumable: bool = False


Decision = Literal["run", "skip", "resume"]


@dataclass
class StageOutcome:
    """What happened to one stage in this invocation."""

    key: str
    kind: str
    decision: Decision
    seconds: float
    summary: dict[str, Any]


def check_graph(stages: list[Stage]) -> None:
    """Keys are unique, every upstream comes earlier, outputs stay inside the run folder."""
    seen: set[str] = set()
    for stage in stages:
        if stage.key in seen:
            raise PipelineError(f"stage {stage.key!r} appears twice")
        for up in stage.after:
            if up not in seen:
                raise PipelineError(
                    f"stage {stage.key!r} depends on {up!r}, which does not run before it"
                )
        for out in [*stage.outputs, *(stage.clean or [])]:
            p = Path(out)
            if p.is_absolute() or ".." in p.parts or not p.parts:
                raise PipelineError(
                    f"stage {stage.key!r}: output {out!r} must lie inside the run folder"
                )
        seen.add(stage.key)


def input_hash(stage: Stage, manifest: Manifest) -> str:
    """The content hash of a stage's inputs and settings (see the module docstring)."""
    upstream = {}
    for up in stage.after:
        record = manifest.stages.get(up)
        upstream[up] = record.output_hash if record else None
    return hash_json(
        {
            "kind": stage.kind,
            "srft": __version__,
            "settings": stage.settings,
            "inputs": hash_inputs(stage.inputs),
            "upstream": upstream,
        }
    )


def decide(stage: Stage, manifest: Manifest, run_dir: Path, digest: str) -> Decision:
    """Skip, resume or run, from the manifest record and the outputs on disk."""
    record = manifest.stages.get(stage.key)
    if record is None or record.input_hash != digest:
        return "run"
    if record.status == "done":
        if all((run_dir / o).exists() for o in stage.outputs):
            return "skip"
        return "run"
    return "resume" if stage.resumable else "run"


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold `run_dir/.lock` so two `srft run` never write one run folder at once."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / ".lock").open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise PipelineError(f"{run_dir}: another `srft run` is using this run folder") from e
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@dataclass
class PlannedStage:
    """What `run_stages` would do with one stage, and why (`srft run --dry-run`)."""

    key: str
    kind: str
    decision: Literal["run", "skip", "resume"]
    reason: str


def plan_stages(
    stages: list[Stage], run_dir: Path, *, force: Iterable[str] = ()
) -> list[PlannedStage]:
    """The decision `run_stages` would take for every stage, without running or writing anything.

    A stage downstream of one that will run is planned to run too: its input hash depends on
    what the upstream stage writes, which is not known before it runs (if that output comes out
    byte-identical, the real run skips it after all).
    """
    check_graph(stages)
    forced = set(force)
    manifest = Manifest.load(run_dir)
    planned: list[PlannedStage] = []
    will_run: set[str] = set()
    for stage in stages:
        record = manifest.stages.get(stage.key)
        digest = input_hash(stage, manifest)
        decision = decide(stage, manifest, run_dir, digest)
        upstream = [up for up in stage.after if up in will_run]
        if record is None:
            reason = "has not run in this run folder"
        elif upstream:
            decision = "run" if decision == "skip" else decision
            reason = f"reads {upstream[0]}, which runs first"
        elif record.input_hash != digest:
            reason = "its settings, srft version or input files changed since it ran"
        elif record.status != "done":
            reason = f"the last attempt did not finish ({record.status})" + (
                "; resumes from its last checkpoint" if decision == "resume" else ""
            )
        elif decision == "run":
            missing = [o for o in stage.outputs if not (run_dir / o).exists()]
            reason = f"its output {missing[0] if missing else '?'} is missing"
        else:
            reason = "up to date"
        if decision == "skip" and (stage.key in forced or stage.kind in forced):
            decision, reason = "run", "forced (--force)"
        if decision != "skip":
            will_run.add(stage.key)
        planned.append(PlannedStage(stage.key, stage.kind, decision, reason))
    return planned


def run_stages(
    stages: list[Stage],
    run_dir: Path,
    *,
    config: dict[str, Any] | None = None,
    force: Iterable[str] = (),
    log: Callable[[str], None] = print,
) -> list[StageOutcome]:
    """Run the graph in order; returns what each stage did. Stops at the first failing stage.

    `force` names stage keys (or kinds) to rerun even when up to date.
    """
    check_graph(stages)
    forced = set(force)
    unknown = forced - {s.key for s in stages} - {s.kind for s in stages}
    if unknown:
        raise PipelineError(f"--force names no stage: {', '.join(sorted(unknown))}")
    outcomes: list[StageOutcome] = []
    with run_lock(run_dir):
        manifest = Manifest.load(run_dir)
        manifest.srft_version = __version__
        if config is not None:
            manifest.config = config
        manifest.save(run_dir)
        for stage in stages:
            digest = input_hash(stage, manifest)
            decision = decide(stage, manifest, run_dir, digest)
            if decision == "skip" and (stage.key in forced or stage.kind in forced):
                decision = "run"
            if decision == "skip":
                record = manifest.stages[stage.key]
                log(f"[skip] {stage.key}: up to date")
                outcomes.append(StageOutcome(stage.key, stage.kind, "skip", 0.0, record.summary))
                continue
            outcomes.append(_run_one(stage, manifest, run_dir, digest, decision, log))
    return outcomes


def _run_one(
    stage: Stage,
    manifest: Manifest,
    run_dir: Path,
    digest: str,
    decision: Decision,
    log: Callable[[str], None],
) -> StageOutcome:
    if decision == "run":
        for rel in stage.clean if stage.clean is not None else stage.outputs:
            _remove(run_dir / rel)
    log(f"[{'resume' if decision == 'resume' else 'run'}] {stage.key}")
    started = now()
    # Recorded before the action: if the process dies, the next run sees an unfinished stage
    # with the same inputs and resumes it.
    manifest.stages[stage.key] = StageRecord(
        kind=stage.kind, status="running", input_hash=digest, outputs=stage.outputs, started=started
    )
    manifest.save(run_dir)
    t0 = time.perf_counter()
    context = StageContext(run_dir=run_dir, key=stage.key, resume=decision == "resume", log=log)
    try:
        summary = stage.action(context) or {}
        missing = [o for o in stage.outputs if not (run_dir / o).exists()]
        if missing:
            raise PipelineError(f"stage {stage.key!r} did not write {', '.join(missing)}")
    except Exception as e:
        record = manifest.stages[stage.key]
        record.status = "failed"
        record.error = f"{type(e).__name__}: {e}"
        record.finished = now()
        manifest.save(run_dir)
        if isinstance(e, PipelineError):
            raise
        raise PipelineError(f"stage {stage.key!r} failed: {type(e).__name__}: {e}") from e
    seconds = round(time.perf_counter() - t0, 3)
    output_hash = hash_json({o: hash_path(run_dir / o) for o in stage.outputs})
    manifest.stages[stage.key] = StageRecord(
        kind=stage.kind,
        status="done",
        input_hash=digest,
        output_hash=output_hash,
        outputs=stage.outputs,
        started=started,
        finished=now(),
        seconds=seconds,
        summary=summary,
    )
    manifest.save(run_dir)
    log(f"[done] {stage.key} in {seconds:.1f}s")
    return StageOutcome(stage.key, stage.kind, decision, seconds, summary)
