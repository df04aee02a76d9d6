"""From corpus lines to encoded rows, in the build's process or in a pool of worker processes.

Everything a line costs happens where the line is handled: parsing the trajectory, finding its
verdict, the policy's judgment (`Policy.judge`, a pure function) and the encoding
(`Encoder.encode`). With `num_proc > 1` a worker gets the raw line and sends back the row, so
the build's own process only reads lines, applies the runs-per-instance caps and writes rows.

The caps are the one sequential part: they count the runs kept so far, in corpus order, so they
are applied here, in the build's process, as the results come back in order. A worker cannot
know whether the caps will drop its line, so a build whose policy has caps first runs a quick
pass that only parses and judges (no encoding) to learn which lines the caps drop; the workers
then skip encoding those. Results leave in corpus order whatever `num_proc`, so the output is
the same for any number of workers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srft.dataset.encoder import BuildError, Encoded, Encoder, Overlong, Reasoning, make_encoder
from srft.dataset.policies import Decision, Policy, PolicyError, cap_key, make_policy
from srft.dataset.verdict_index import VerdictIndex
from srft.files.base import FileFormatError, numbered_lines
from srft.files.corpus import CORPUS, CorpusError, Trajectory, record_field
from srft.files.verdicts import Verdict
from srft.shard import Shard

Line = tuple[str, str]  # (where: "corpus.jsonl:LINE", the line's text)
_IN_FLIGHT_PER_WORKER = 32  # jobs queued per worker: they never wait for the reader


@dataclass(frozen=True)
class RowSettings:
    """How every row of one build is made; sent once to each worker process."""

    tokenizer: str
    chat_template: str | None
    end_of_turn: tuple[str, ...]
    policy: str
    policy_options: dict[str, Any] | None
    verdicts: VerdictIndex
    max_length: int
    overlong: Overlong
    reasoning: Reasoning


@dataclass
class LineResult:
    """What became of one corpus line.

    `trajectory_id` is None when the line is no valid trajectory (`error` says why). Otherwise
    `decision` is the policy's (None when the verdict or the policy refused the trajectory, with
    `error`), and for a kept trajectory `encoded` is its row, or `error` the encoding's error.
    """

    where: str
    trajectory_id: str | None = None
    outcome: str = ""
    cap_key: tuple[str, str] = ("", "")
    decision: Decision | None = None
    error: str | None = None
    encoded: Encoded | None = None
    trajectory: Trajectory | None = field(default=None, repr=False)  # not sent between processes


class LineBuilder:
    """Judges and encodes corpus lines with one encoder, policy and verdict index."""

    def __init__(self, settings: RowSettings, encoder: Encoder, policy: Policy) -> None:
        self.settings = settings
        self.encoder = encoder
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: RowSettings) -> LineBuilder:
        """A builder of its own, as a worker process makes one."""
        encoder = make_encoder(settings.tokenizer, settings.chat_template, settings.end_of_turn)
        return cls(settings, encoder, make_policy(settings.policy, settings.policy_options))

    def judge(self, line: Line) -> LineResult:
        """Parse the line, find its verdict and let the policy judge it (caps not applied)."""
        where, text = line
        try:
            trajectory = CORPUS.loads(text, path=where)
        except (CorpusError, FileFormatError) as e:
            return LineResult(where, error=str(e))
        result = LineResult(
            where,
            trajectory.id,
            trajectory.outcome.status,
            cap_key(trajectory),
            trajectory=trajectory,
        )
        verdict = self.settings.verdicts.get(trajectory.id)
        try:
            check_verdict(trajectory, verdict, self.settings.verdicts.path)
            result.decision = self.policy.judge(trajectory, verdict)
        except (BuildError, PolicyError) as e:
            result.error = str(e)
        return result

    def encode(self, result: LineResult) -> None:
        """Encode a kept line's trajectory into `result.encoded`, or its error into `error`."""
        s = self.settings
        assert result.trajectory is not None and result.decision is not None
        try:
            result.encoded = self.encoder.encode(
                result.trajectory,
                result.decision,
                policy=s.policy,
                max_length=s.max_length,
                overlong=s.overlong,
                reasoning=s.reasoning,
            )
        except BuildError as e:
            result.error = str(e)

    def build(self, line: Line, encode: bool) -> LineResult:
        """A worker's whole job: judge the line and, if kept and `encode`, encode it."""
        result = self.judge(line)
        if encode and result.decision is not None and result.decision.keep:
            self.encode(result)
        result.trajectory = None
        return result


def check_verdict(trajectory: Trajectory, verdict: Verdict | None, path: Path | None) -> None:
    """An error when an ok verdict labels another number of steps than the trajectory has."""
    if verdict is None or verdict.status != "ok":
        return
    if len(verdict.steps) != len(trajectory.steps):
        raise BuildError(
            f"{path}: trajectory {trajectory.id!r}: the verdict labels {len(verdict.steps)} "
            f"steps but the trajectory has {len(trajectory.steps)}"
        )


def corpus_lines(corpus: Path, shard: Shard, elsewhere: set[str]) -> Iterator[Line]:
    """This shard's non-blank lines; the ids of the other lines go to `elsewhere` (a plain JSON
    parse, without validation: only the id is needed, to tell their verdicts from strays)."""
    for n, position, line in numbered_lines(corpus):
        if shard.keeps(position):
            yield f"{corpus}:{n}", line
            continue
        other = record_field(line, "id")
        if other is not None:
            elsewhere.add(other)


def line_results(
    lines: Callable[[], Iterable[Line]], builder: LineBuilder, num_proc: int
) -> Iterator[LineResult]:
    """The result of every line of `lines()`, in order, with the policy's caps applied to
    `decision`; encoded in this process (`num_proc <= 1`) or in `num_proc` workers."""
    policy = builder.policy
    if num_proc <= 1:
        for line in lines():
            result = builder.judge(line)
            _apply_caps(policy, result)
            if result.decision is not None and result.decision.keep:
                builder.encode(result)
            yield result
        return
    with ProcessPoolExecutor(
        max_workers=num_proc, initializer=_init_worker, initargs=(builder.settings,)
    ) as pool:
        kept = (
            _kept_after_caps(pool, lines(), builder.settings, num_proc) if policy.has_caps else None
        )
        jobs = ((line, kept is None or i in kept) for i, line in enumerate(lines()))
        for result in _in_order(pool, jobs, num_proc):
            _apply_caps(policy, result)
            yield result


def _apply_caps(policy: Policy, result: LineResult) -> None:
    if result.decision is not None:
        result.decision = policy.cap(result.cap_key, result.decision)


def _kept_after_caps(
    pool: ProcessPoolExecutor, lines: Iterable[Line], settings: RowSettings, num_proc: int
) -> set[int]:
    """The positions of the lines the policy keeps, caps applied: a pass that parses and
    judges only, so that the workers encode no line the caps then drop."""
    caps = make_policy(settings.policy, settings.policy_options)  # a counter of its own
    kept = set()
    for i, result in enumerate(_in_order(pool, ((line, False) for line in lines), num_proc)):
        if result.decision is not None and caps.cap(result.cap_key, result.decision).keep:
            kept.add(i)
    return kept


def _in_order(
    pool: ProcessPoolExecutor, jobs: Iterable[tuple[Line, bool]], num_proc: int
) -> Iterator[LineResult]:
    # A bounded window of jobs in flight: the workers never wait for the reader, and the
    # corpus is never held whole. Results leave in input order.
    # A build stopped by an error cancels what has not started instead of waiting for it.
    window: deque[Future[LineResult]] = deque()
    try:
        for line, encode in jobs:
            window.append(pool.submit(_build_line, line, encode))
            if len(window) >= _IN_FLIGHT_PER_WORKER * num_proc:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        for future in window:
            future.cancel()


_WORKER: dict[str, LineBuilder] = {}


def _init_worker(settings: RowSettings) -> None:
    _WORKER["builder"] = LineBuilder.from_settings(settings)


def _build_line(line: Line, encode: bool) -> LineResult:
    return _WORKER["builder"].build(line, encode)
