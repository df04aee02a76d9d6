"""Running a critic over a corpus file: concurrency, resumption, progress and the summary.

`run_critic` is the one entry point (the CLI and `srft run` call it). Offline critics are run
in a plain loop. The LLM critic runs on asyncio: `concurrency` workers take trajectories from a
bounded queue (memory does not grow with the corpus), every finished verdict is committed to the
store at once, and the verdicts file is written at the end in corpus order, atomically, from the
store. So a crash or Ctrl-C loses at most the requests in flight, and a rerun sends only what is
missing.

A failed verdict is stored as failed, not as final: the next run of the same job judges that
trajectory again (unless `retry_failed` is off), replaying the answers that were usable and
asking again only what was not. A server that no request can succeed against
(`ServerUnusable`: unreachable, key refused, wrong path or model) stops the run at once.

How a run ended is `run_outcome(summary)`: `complete` (every trajectory judged), `partial` or
`none`; the command line turns those into exit statuses 0, 3 and 1 (2 for an unusable server).
`shard` judges only every N-th corpus line (`srft.shard`): N processes, each with its own
`--cache` (SQLite has one writer), together write the verdicts of one unsharded run.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from srft.critic.batch import DeferredToBatch, import_batch_output
from srft.critic.client import RequestFailed
from srft.critic.registry import get_critic
from srft.critic.store import CriticStore
from srft.critic.tokens import TokenCounter
from srft.files.base import require_file
from srft.files.corpus import CORPUS, CorpusError, Trajectory
from srft.files.critic_summary import CRITIC_SUMMARY, SUMMARY_FORMAT, SUMMARY_VERSION, summary_path
from srft.files.verdicts import VERDICTS, Verdict
from srft.outputs import atomic_file, check_output
from srft.progress import ProgressBar
from srft.shard import Shard

EXIT_STATUS = {"complete": 0, "none": 1, "partial": 3}


def run_outcome(summary: dict[str, Any]) -> str:
    """`complete` when every trajectory was judged, `none` when none was, else `partial`."""
    t = summary["trajectories"]
    if not t["failed"]:
        return "complete"
    return "none" if not t["ok"] else "partial"


def invalid_answers_path(output_path: str | Path) -> Path:
    """Where the raw answers that could not be used go: `<stem>.invalid-answers.jsonl`."""
    output_path = Path(output_path)
    stem = output_path.name.removesuffix(".jsonl").removesuffix(".json")
    return output_path.with_name(f"{stem}.invalid-answers.jsonl")


def _written_by(output_path: str | Path, job: str, corpus: str | Path, shard: Shard) -> bool:
    """Whether the verdicts at `output_path` were written by this very job, corpus and shard.

    Rerunning the same command is how failed trajectories heal (only they are asked again), so
    such a rerun replaces its own verdicts without `--overwrite`; another run's output is still
    refused (`srft.outputs.check_output`).
    """
    try:
        previous = CRITIC_SUMMARY.load(summary_path(output_path))
    except ValueError:  # none there, or not a summary
        return False
    return (
        previous.get("job") == job
        and previous.get("corpus") == str(Path(corpus))
        and previous.get("shard") == str(shard)
    )


def default_cache_path(output_path: str | Path) -> Path:
    """The store's default place: `critic-cache.sqlite` in the verdicts file's folder."""
    return Path(output_path).parent / "critic-cache.sqlite"


def run_critic(
    corpus_path: str | Path,
    output_path: str | Path,
    critic: Any = "rules",
    *,
    cache_path: str | Path | None = None,
    batch_output: str | Path | None = None,
    prices: tuple[float, float] | None = None,
    progress: bool = False,
    retry_failed: bool = True,
    overwrite: bool = True,
    shard: Shard | None = None,
    **critic_options: Any,
) -> dict[str, Any]:
    """Judge every trajectory of `corpus_path`; write verdicts to `output_path` and the summary
    beside it; return the summary.

    `critic` is a registry name (`rules`, `file`, `llm`; options go in `critic_options`) or a
    critic object. `prices` is (USD per million prompt tokens, per million completion tokens).
    `retry_failed`: judge again the trajectories that failed in an earlier run of the same job
    (off: keep their stored failed verdicts). Raises `ServerUnusable` (nothing written).
    `overwrite`: False refuses an existing verdicts file (the CLI's default). `shard`: judge
    only this shard's lines.
    """
    require_file(Path(corpus_path))
    shard = shard or Shard()
    if isinstance(critic, str):
        critic = get_critic(critic, **critic_options)
    elif critic_options:
        raise TypeError("critic options are only accepted with a critic name")
    job = critic.job_key() if hasattr(critic, "job_key") else None
    rerun = job is not None and _written_by(output_path, job, corpus_path, shard)
    check_output(output_path, kind="file", overwrite=overwrite or rerun)
    started = time.monotonic()
    counter = TokenCounter()
    if hasattr(critic, "ajudge"):
        summary = asyncio.run(
            _run_async(
                critic,
                Path(corpus_path),
                Path(output_path),
                Path(cache_path) if cache_path else default_cache_path(output_path),
                batch_output,
                progress,
                retry_failed,
                shard,
            )
        )
    else:
        summary = _run_offline(critic, Path(corpus_path), Path(output_path), progress, shard)
    summary["outcome"] = run_outcome(summary)
    summary["shard"] = str(shard)
    if job is not None:
        summary["job"] = job
    summary["elapsed_s"] = round(time.monotonic() - started, 3)
    _add_token_accounting(summary, Path(corpus_path), counter, prices)
    CRITIC_SUMMARY.write(summary_path(output_path), summary)
    return summary


# -- offline ----------------------------------------------------------------------------------


def _run_offline(
    critic: Any, corpus: Path, output: Path, progress: bool, shard: Shard
) -> dict[str, Any]:
    tally = _Tally()
    if hasattr(critic, "prepare"):  # a critic that needs the whole corpus first (`file`)
        critic.prepare(corpus)
    total = _count_lines(corpus, shard)
    with ProgressBar(critic.name, total, enabled=progress) as bar:

        def judged() -> Iterator[Verdict]:
            for _, trajectory in _records(corpus, shard):
                verdict = critic.judge(trajectory)
                tally.add(verdict, trajectory)
                bar.advance()
                yield verdict

        VERDICTS.write(output, judged())
    summary = _base_summary(critic.info(), corpus, output, tally)
    if hasattr(critic, "unused"):
        unused = critic.unused()
        summary["labels_not_in_corpus"] = {"count": len(unused), "first": unused[:20]}
    return summary


# -- asyncio (LLM) ----------------------------------------------------------------------------


async def _run_async(
    critic: Any,
    corpus: Path,
    output: Path,
    cache: Path,
    batch_output: Any,
    progress: bool,
    retry_failed: bool,
    shard: Shard,
) -> dict[str, Any]:
    store = CriticStore(cache)
    imported = import_batch_output(batch_output, store) if batch_output else None
    run = _AsyncRun(critic, store, retry_failed)
    await run.judge_all(_records(corpus, shard), _count_lines(corpus, shard), progress)
    if not run.counts["deferred_to_batch"]:
        run.write_verdicts(output)
    store.close()
    summary = run.summary(corpus, output)
    if imported is not None:
        summary["batch_imported"] = imported
    return summary


class _AsyncRun:
    """One pass of an async critic over a corpus: the workers, the store and the counts."""

    def __init__(self, critic: Any, store: CriticStore, retry_failed: bool) -> None:
        self.critic = critic
        self.store = store
        self.job = critic.job_key()
        self.retry_failed = retry_failed
        self.counts: Counter[str] = Counter()
        self.tally = _Tally()
        # Corpus order and content hashes, kept so that the final pass writes the verdicts file
        # from the store without reading and validating the corpus a second time (that pass runs
        # after the last answer, so its cost is pure wall time).
        self.order: list[tuple[str, str]] = []

    async def judge_all(
        self, records: Iterator[tuple[str, Trajectory]], total: int, progress: bool
    ) -> None:
        """Judge every record: `critic.workers` workers take them from a bounded queue, so
        memory does not grow with the corpus."""
        await self.critic.start(self.store)
        queue: asyncio.Queue[tuple[int, str, Trajectory] | None] = asyncio.Queue(
            maxsize=2 * self.critic.workers
        )
        try:
            with ProgressBar(f"critic {self.critic.mode}", total, enabled=progress) as bar:
                # One gather: a worker's unexpected error surfaces at once instead of leaving
                # the producer blocked on a full queue.
                await asyncio.gather(
                    self._produce(records, queue),
                    *(self._work(queue, bar) for _ in range(self.critic.workers)),
                )
        finally:
            await self.critic.close()

    async def _produce(
        self, records: Iterator[tuple[str, Trajectory]], queue: asyncio.Queue
    ) -> None:
        for index, (line, trajectory) in enumerate(records):
            digest = _line_hash(line)
            self.order.append((trajectory.id, digest))
            await queue.put((index, digest, trajectory))
        for _ in range(self.critic.workers):
            await queue.put(None)

    async def _work(self, queue: asyncio.Queue, bar: ProgressBar) -> None:
        while (item := await queue.get()) is not None:
            index, digest, trajectory = item
            verdict, stored = self._stored(trajectory.id, digest)
            if verdict is None:
                verdict = await self._judge(trajectory, digest, fresh=stored)
            if verdict is not None:
                self.tally.add(verdict, trajectory, index)
            bar.advance(_live(self.critic, self.counts))

    def _stored(self, trajectory_id: str, digest: str) -> tuple[Verdict | None, bool]:
        """(the stored verdict to keep, or None to judge now; whether one was stored).

        A stored failed verdict is not final: it is judged again unless `retry_failed` is off.
        """
        line = self.store.get_verdict(self.job, trajectory_id, digest)
        if line is None:
            return None, False
        verdict = VERDICTS.loads(line, path=self.store.path)
        if verdict.status == "failed" and self.retry_failed:
            self.counts["retried_failed"] += 1
            return None, True
        self.counts["from_store"] += 1
        return verdict, True

    async def _judge(self, trajectory: Trajectory, digest: str, fresh: bool) -> Verdict | None:
        """A new verdict, committed to the store at once; None when its requests went to a
        batch file instead. A server that gave no answer makes a failed verdict."""
        try:
            verdict = await self.critic.ajudge(trajectory, fresh=fresh)
        except RequestFailed as e:
            self.counts["request_failed"] += 1
            verdict = Verdict(
                trajectory_id=trajectory.id,
                critic=self.critic.info(trajectory),
                status="failed",
                error=f"no answer from the server: {e}",
                failure=e.kind,
            )
        except DeferredToBatch:
            self.counts["deferred_to_batch"] += 1
            return None
        else:
            self.counts["judged_now" if verdict.status == "ok" else "failed_now"] += 1
        self.store.put_verdict(self.job, trajectory.id, digest, VERDICTS.dumps(verdict))
        return verdict

    def write_verdicts(self, output: Path) -> None:
        """The verdicts file, in corpus order, from the store (atomically)."""
        with atomic_file(output) as f:
            for tid, digest in self.order:
                line = self.store.get_verdict(self.job, tid, digest)
                if line is None:  # only if the store was changed under a running job
                    raise CorpusError(
                        f"{self.store.path}: the verdict of {tid!r} vanished during the run"
                    )
                f.write(line + "\n")

    def summary(self, corpus: Path, output: Path) -> dict[str, Any]:
        """The run's summary: the counts, the critic's accounting, the unusable answers."""
        summary = _base_summary(self.critic.info(), corpus, output, self.tally)
        summary["verdicts_written"] = not self.counts["deferred_to_batch"]
        summary["run"] = dict(sorted(self.counts.items()))
        summary["requests"] = self.critic.accounting()
        summary["cache"] = str(self.store.path)
        invalid = getattr(self.critic, "invalid_answers", None)
        if invalid:
            path = invalid_answers_path(output)
            with atomic_file(path) as f:
                for record in invalid:
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
            summary["invalid_answers_file"] = str(path)
        return summary


def critic_status(cache: str | Path, corpus: str | Path | None = None) -> list[dict[str, Any]]:
    """Per job of the store `cache`: judged, failed per reason, and (with `corpus`) pending,
    the corpus trajectories with no verdict for their current content. Oldest job first."""
    store = CriticStore(cache)
    try:
        jobs = store.jobs()
        if corpus is not None:
            current = {
                (t.id, _line_hash(line)) for line, t in _unique(CORPUS.read_lines(corpus), corpus)
            }
            for entry in jobs:
                entry["pending"] = len(current - store.stored_pairs(entry["job"]))
    finally:
        store.close()
    return jobs


def _live(critic: Any, counts: Counter) -> str:
    """The running accounting shown beside the progress bar."""
    stats = critic.client.stats if getattr(critic, "client", None) else None
    if stats is None:
        return ""
    return (
        f"| requests {stats.requests} retries {stats.retries} cached {critic.cache_hits} "
        f"failed {counts['request_failed']}"
    )


def _line_hash(line: str) -> str:
    """A trajectory's content hash: SHA-256 of its corpus line (= its canonical JSON)."""
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


# -- accounting -------------------------------------------------------------------------------


class _Tally:
    """Counts for the summary, accumulated as verdicts are written."""

    def __init__(self) -> None:
        self.trajectories = 0
        self.ok = 0
        self.failed = 0
        self.steps = 0
        self.labels: Counter[str] = Counter()
        self.failures: list[tuple[int, str, str]] = []  # (corpus index, id, error), first 20
        # failure kind -> [count, (corpus index, id, error) of its first example]
        self.reasons: dict[str, list[Any]] = {}
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.estimated_prompt_tokens = 0
        self.trajectory_tokens = 0
        self._counter = TokenCounter()

    def add(self, verdict: Verdict, trajectory: Trajectory, index: int | None = None) -> None:
        """Count one verdict; `index` (corpus position) keeps the failure list in corpus order
        when verdicts arrive out of order."""
        self.trajectories += 1
        self.trajectory_tokens += trajectory_tokens(trajectory, self._counter)
        self.steps += len(trajectory.steps)
        if verdict.status == "ok":
            self.ok += 1
            self.labels.update(verdict.labels())
        else:
            self.failed += 1
            index = self.trajectories if index is None else index
            example = (index, verdict.trajectory_id, verdict.error or "")
            bisect.insort(self.failures, example)
            del self.failures[20:]
            kind = self.reasons.setdefault(verdict.failure or "failed", [0, example])
            kind[0] += 1
            kind[1] = min(kind[1], example)
        self.prompt_tokens += int(verdict.usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(verdict.usage.get("completion_tokens") or 0)
        self.estimated_prompt_tokens += int(verdict.usage.get("estimated_prompt_tokens") or 0)


def _base_summary(info: Any, corpus: Path, output: Path, tally: _Tally) -> dict[str, Any]:
    n = max(tally.trajectories, 1)
    return {
        "format": SUMMARY_FORMAT,
        "version": SUMMARY_VERSION,
        "critic": info.model_dump(mode="json", exclude={"used"}),
        "corpus": str(corpus),
        "output": str(output),
        "trajectories": {"read": tally.trajectories, "ok": tally.ok, "failed": tally.failed},
        "steps": tally.steps,
        "labels": {k: tally.labels[k] for k in sorted(tally.labels)},
        "failures": [{"trajectory_id": t, "error": e} for _, t, e in tally.failures],
        "failure_reasons": {
            kind: {"count": count, "first": {"trajectory_id": first[1], "error": first[2]}}
            for kind, (count, first) in sorted(tally.reasons.items(), key=lambda kv: -kv[1][0])
        },
        "tokens": {
            "prompt_tokens": tally.prompt_tokens,
            "completion_tokens": tally.completion_tokens,
            "estimated_prompt_tokens": tally.estimated_prompt_tokens,
            "trajectory_tokens": tally.trajectory_tokens,
            "prompt_tokens_per_trajectory": round(tally.prompt_tokens / n, 1),
            "estimated_prompt_tokens_per_trajectory": round(tally.estimated_prompt_tokens / n, 1),
        },
    }


def _add_token_accounting(
    summary: dict[str, Any], corpus: Path, counter: TokenCounter, prices: Any
) -> None:
    """The corpus's own size in (estimated) tokens, the prompt/trajectory ratio, and cost."""
    tokens = summary["tokens"]
    if tokens["estimated_prompt_tokens"]:
        own = tokens["trajectory_tokens"]
        tokens["prompt_to_trajectory_ratio"] = round(
            tokens["estimated_prompt_tokens"] / max(own, 1), 3
        )
    if prices is not None:
        billed = summary.get("requests", {})
        cost = (
            billed.get("prompt_tokens", 0) * prices[0]
            + billed.get("completion_tokens", 0) * prices[1]
        ) / 1e6
        summary["cost_usd"] = round(cost, 6)
        summary["prices_usd_per_million"] = {"prompt": prices[0], "completion": prices[1]}


def trajectory_tokens(trajectory: Trajectory, counter: TokenCounter) -> int:
    """A trajectory's own size in tokens: every message's text and tool-call arguments."""
    total = 0
    for m in trajectory.messages:
        total += counter(m.content) + counter(m.reasoning or "")
        total += sum(counter(json.dumps(c.arguments, ensure_ascii=False)) for c in m.tool_calls)
    return total


# -- small helpers ----------------------------------------------------------------------------


def _records(corpus: Path, shard: Shard) -> Iterator[tuple[str, Trajectory]]:
    """This shard's (line, trajectory) records, in corpus order.

    Lines of other shards are not parsed; the duplicate-id check sees this shard's lines only.
    """
    return _unique(CORPUS.read_lines(corpus, keep=shard.keeps), corpus)


def _unique(
    records: Iterator[tuple[str, Trajectory]], corpus: Path
) -> Iterator[tuple[str, Trajectory]]:
    """The corpus's (line, trajectory) records, refusing a trajectory id seen before."""
    seen: set[str] = set()
    for line, t in records:
        if t.id in seen:
            raise CorpusError(f"{corpus}: trajectory id {t.id!r} occurs twice")
        seen.add(t.id)
        yield line, t


def _count_lines(path: Path, shard: Shard) -> int:
    with path.open("rb") as f:
        records = (line for line in f if line.strip())
        return sum(1 for n, _ in enumerate(records) if shard.keeps(n))


class _AtomicLines:
    """Write lines to a temporary file and move it over `path` only when all were written."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> _AtomicLines:
        self._context = atomic_file(self.path)
        self.file = self._context.__enter__()
        return self

    def write(self, line: str) -> None:
        self.file.write(line + "\n")

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)
