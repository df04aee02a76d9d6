"""Build the masked training set: render, tokenize once, label, verify, write.

For each trajectory the chosen policy decides which steps are trained (`policies.py`); the
renderer renders the whole conversation once and locates every assistant part as characters
(`render.py`); here the text is tokenized once with offsets, the character spans become token
spans, and `labels` is `input_ids` inside trained spans and -100 everywhere else. So every
trajectory costs one template render and one tokenization, whatever its number of turns.

Every row is then checked against the rendering before it is written (`verify_row`): decoding
each step's tokens gives back exactly the template's text for that turn, trained steps are
labelled token for token, masked steps are present with -100, and nothing outside the trained
turns carries a label. A mismatch is an error naming trajectory and step, or a rejection with
`skip_invalid`; nothing is lost silently (read = rows + dropped + rejected + skipped).

Outputs (`docs/dataset.md`): `hf/` (datasets `save_to_disk`), `data.parquet`, `build.json`
(the manifest), `stats.json`, and `rejected.jsonl` when anything was rejected. The same inputs
give byte-identical files: rows keep corpus order (also with `num_proc > 1`), and no timestamp
or random fingerprint is written.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from srft.dataset.policies import Decision, PolicyError, make_policy
from srft.dataset.render import (
    ChatRenderer,
    RenderError,
    Rendering,
    check_turn,
    load_template_file,
)
from srft.dataset.stats import BuildStats
from srft.files.base import FileFormatError
from srft.files.corpus import CORPUS, Trajectory, record_field
from srft.files.verdicts import VERDICTS, Verdict, VerdictError
from srft.models import ModelNotFound, resolve_model
from srft.outputs import OutputError, atomic_folder, check_output
from srft.paths import require_regular_file
from srft.shard import Shard

DATASET_FORMAT = "srft.dataset"
DATASET_VERSION = 1
IGNORE_INDEX = -100

Overlong = Literal["error", "skip", "truncate"]
Reasoning = Literal["template", "every-turn"]


class BuildError(ValueError):
    """Input that cannot become a training row; the message names file/trajectory/step."""


@dataclass
class BuildSummary:
    """What a build read, kept, dropped and rejected, and where it wrote the dataset."""

    output: Path
    counts: dict[str, int]
    stats: dict[str, Any]
    manifest: dict[str, Any] = field(repr=False)


# -- the per-trajectory core ----------------------------------------------------------------


@dataclass
class Encoded:
    """One built row (column name -> value), or why the trajectory produced none."""

    row: dict[str, Any] | None
    skipped: str | None = None  # "overlong" when --overlong skip dropped it
    truncated_steps: int = 0
    reasoning: tuple[int, int] = (0, 0)  # (turns with reasoning, of which the template dropped)
    turn_rows: list[dict[str, Any]] = field(default_factory=list)  # --reasoning every-turn


class Encoder:
    """Turns (trajectory, decision) into a verified dataset row with one tokenizer/template."""

    def __init__(
        self,
        tokenizer: Any,
        chat_template: str | None = None,
        *,
        end_of_turn: list[str] | tuple[str, ...] = (),
        model_folder: str | Path | None = None,
    ) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise BuildError(
                f"{type(tokenizer).__name__} is not a fast tokenizer; srft needs character "
                "offsets, which only `tokenizers`-backed tokenizers give"
            )
        self.tokenizer = tokenizer
        self.backend = backend
        try:
            self.renderer = ChatRenderer(
                tokenizer, chat_template, end_of_turn=end_of_turn, model_folder=model_folder
            )
        except RenderError as e:
            raise BuildError(str(e)) from e
        self.split_pieces = self._pieces_are_faithful()

    def tokenize(self, text: str, points: list[int]) -> tuple[np.ndarray, dict[int, int]]:
        """Token ids of `text`, cut at the character `points`, and the token index of each point.

        The text is tokenized in one call as pre-split pieces, so no token spans a cut: a turn
        boundary is a token boundary, as it is at inference, where the prompt ends with the
        assistant header and the model's first token starts the turn. (Tokenizing the whole
        string would let e.g. the header's newline merge with the spaces a turn starts with.)
        Tokenizers whose pieces do not concatenate faithfully (SentencePiece-style Metaspace
        adds a word-start marker to every piece) tokenize the whole string instead, and a token
        across a cut is then reported by `token_index`. `add_special_tokens=False`: the
        template writes BOS itself.
        """
        cuts = sorted({0, len(text), *points})
        if not self.split_pieces:
            enc = self.backend.encode(text, add_special_tokens=False)
            ids = np.asarray(enc.ids, dtype=np.int32)
            offsets = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
            starts, ends = offsets[:, 0], offsets[:, 1]
            at = {}
            for c in cuts:
                t = int(np.searchsorted(starts, c, side="left"))
                at[c] = -t if t > 0 and ends[t - 1] > c else t  # negative: inside token t-1
            return ids, at
        pieces = [text[a:b] for a, b in itertools.pairwise(cuts)]
        enc = self.backend.encode(pieces, is_pretokenized=True, add_special_tokens=False)
        ids = np.asarray(enc.ids, dtype=np.int32)
        words = np.asarray([-1 if w is None else w for w in enc.word_ids], dtype=np.int64)
        if words.size and (words[0] < 0 or np.any(np.diff(words) < 0)):
            raise BuildError("the tokenizer did not keep the pieces of the text in order")
        first = np.searchsorted(words, np.arange(len(cuts)), side="left")
        return ids, {c: int(t) for c, t in zip(cuts, first, strict=True)}

    def _pieces_are_faithful(self) -> bool:
        probe = ["<x>\n", "  y z", "\n\n w"]
        enc = self.backend.encode(probe, is_pretokenized=True, add_special_tokens=False)
        return self.backend.decode(enc.ids, skip_special_tokens=False) == "".join(probe)

    def encode(
        self,
        trajectory: Trajectory,
        decision: Decision,
        *,
        policy: str,
        max_length: int,
        overlong: Overlong = "error",
        reasoning: Reasoning = "template",
    ) -> Encoded:
        """Render, tokenize and label one kept trajectory, then verify the row.

        `reasoning="every-turn"`: a trained turn whose reasoning the template drops from the
        history is masked in the row and trained in a row of its own, where it is the latest
        turn and keeps its reasoning as the model generated it (`turn_rows`).
        """
        try:
            rendering = self.renderer.render(trajectory)
        except RenderError as e:
            raise BuildError(str(e)) from e
        own_rows: list[int] = []
        if reasoning == "every-turn" and rendering.dropped_steps:
            own_rows = [k for k in rendering.dropped_steps if decision.trained[k]]
            trained = tuple(t and k not in own_rows for k, t in enumerate(decision.trained))
            decision = Decision(decision.keep, trained, decision.labels, decision.reason)
        points = [c for p in rendering.parts for c in (p.start, p.end)] + rendering.step_starts
        ids, token_at = self.tokenize(rendering.text, points)
        where = f"trajectory {trajectory.id!r}"
        spans = []
        for part in rendering.parts:
            step = f"step {part.step}" if part.step is not None else f"message {part.message}"
            a, b = token_at[part.start], token_at[part.end]
            if a < 0 or b < 0:
                raise BuildError(
                    f"{where}, {step}: a token spans the turn's boundary (the tokenizer merges "
                    "across it), so no exact token span exists"
                )
            spans.append((a, b))

        n_steps = len(trajectory.steps)
        keep_steps = n_steps
        length = len(ids)
        if length > max_length:
            if overlong == "error":
                raise BuildError(
                    f"{where}: {length} tokens exceed --max-length {max_length} "
                    "(use --overlong skip or truncate)"
                )
            if overlong == "skip":
                return Encoded(row=None, skipped="overlong")
            # Cut only between steps: just before a later step's assistant header, so every
            # kept step keeps its assistant part and all its observations.
            # (a cut inside a token moves before it)
            cuts = [abs(token_at[h]) - (token_at[h] < 0) for h in rendering.step_starts]
            cuts.append(length)
            keep_steps = max((k for k in range(n_steps + 1) if cuts[k] <= max_length), default=0)
            if keep_steps == 0:
                return Encoded(row=None, skipped="overlong")
            length = cuts[keep_steps]
            ids = ids[:length]

        labels = np.full(length, IGNORE_INDEX, dtype=np.int32)
        steps: list[dict[str, Any]] = []
        for part, (a, b) in zip(rendering.parts, spans, strict=True):
            if part.step is None or part.step >= keep_steps:
                continue
            trained = decision.trained[part.step]
            if trained:
                labels[a:b] = ids[a:b]
            steps.append(
                {
                    "index": part.step,
                    "message": part.message,
                    "start": a,
                    "end": b,
                    "trained": trained,
                    "label": decision.labels[part.step],
                }
            )
        messages = rendering.messages
        if keep_steps < n_steps:
            first_cut = rendering.parts[[p.step for p in rendering.parts].index(keep_steps)]
            messages = messages[: first_cut.message]
        row = {
            "trajectory_id": trajectory.id,
            "instance_id": trajectory.instance_id,
            "outcome": trajectory.outcome.status,
            "policy": policy,
            "input_ids": ids,
            "labels": labels,
            "steps": steps,
            "num_tokens": length,
            "num_trained": int(np.count_nonzero(labels != IGNORE_INDEX)),
            "messages": json.dumps(messages, ensure_ascii=False),
            "tools": None
            if rendering.tools is None
            else json.dumps(rendering.tools, ensure_ascii=False),
        }
        self.verify(trajectory.id, row, rendering)
        turn_rows = [
            self._turn_row(trajectory, decision, k, policy=policy, max_length=max_length)
            for k in own_rows
            if k < keep_steps
        ]
        return Encoded(
            row=row,
            truncated_steps=n_steps - keep_steps,
            reasoning=(rendering.reasoning_total, rendering.reasoning_dropped),
            turn_rows=[r for r in turn_rows if r is not None],
        )

    def _turn_row(
        self, trajectory: Trajectory, decision: Decision, k: int, *, policy: str, max_length: int
    ) -> dict[str, Any] | None:
        """Step k as the conversation's latest turn (so the template keeps its reasoning),
        every earlier step in context, only step k trained; None if it does not fit."""
        step = trajectory.steps[k]
        prefix = trajectory.model_copy(
            update={
                "messages": trajectory.messages[: step.assistant + 1],
                "steps": [*trajectory.steps[:k], step.model_copy(update={"observations": []})],
            }
        )
        only = Decision(True, (False,) * k + (True,), decision.labels[: k + 1], decision.reason)
        encoded = self.encode(prefix, only, policy=policy, max_length=max_length, overlong="skip")
        if encoded.row is None:
            return None
        row = encoded.row
        row["trajectory_id"] = f"{trajectory.id}@step{k}"
        row["steps"] = [s for s in row["steps"] if s["index"] == k]
        return row

    def verify(self, trajectory_id: str, row: dict[str, Any], rendering: Rendering) -> None:
        """Check the invariants of a row against its rendering; raise `BuildError` if any fails.

        - decoding each step's tokens reproduces the template's text of that assistant turn,
          which begins right after the turn's lead, ends with the turn's stop token and holds
          the message's content and every tool call (`check_turn`);
        - a trained step's labels equal its ids and it has at least one token; a masked step's
          tokens are all present in `input_ids` with label -100;
        - no token outside the trained steps' spans carries a label.
        """
        ids, labels = row["input_ids"], row["labels"]
        by_message = {p.message: p for p in rendering.parts}
        end_tokens = self.renderer.features.end_tokens
        allowed = np.zeros(len(ids), dtype=bool)
        last_end = 0
        for step in row["steps"]:
            where = f"trajectory {trajectory_id!r}, step {step['index']}"
            a, b = step["start"], step["end"]
            if not last_end <= a <= b <= len(ids):
                raise BuildError(f"{where}: token span [{a}, {b}) is out of order or bounds")
            last_end = b
            part = by_message[step["message"]]
            expected = rendering.text[part.start : part.end]
            if not rendering.text.endswith(part.lead, 0, part.start):
                raise BuildError(f"{where}: the turn does not begin right after {part.lead!r}")
            if not self._decodes_to(ids, a, b, expected):
                got = self.backend.decode(ids[a:b].tolist(), skip_special_tokens=False)
                raise BuildError(
                    f"{where}: the tokens decode to {got[:80]!r}, not the rendered turn "
                    f"{expected[:80]!r}"
                )
            # the tokens decode to `expected` (checked just above), so the turn check reads it
            missing = check_turn(
                expected, rendering.messages[part.message], part.end_token, end_tokens
            )
            if missing:
                raise BuildError(f"{where}: {missing}")
            if step["trained"]:
                if b == a:
                    raise BuildError(f"{where}: a trained step with no tokens")
                if not np.array_equal(labels[a:b], ids[a:b]):
                    raise BuildError(f"{where}: a trained step whose labels differ from its ids")
                allowed[a:b] = True
            elif np.any(labels[a:b] != IGNORE_INDEX):
                raise BuildError(f"{where}: a masked step has trained tokens")
        stray = np.flatnonzero((labels != IGNORE_INDEX) & ~allowed)
        if stray.size:
            raise BuildError(
                f"trajectory {trajectory_id!r}: token {int(stray[0])} is trained but lies outside "
                "every trained assistant turn"
            )

    def _decodes_to(self, ids: np.ndarray, a: int, b: int, expected: str) -> bool:
        decode = self.backend.decode
        if decode(ids[a:b].tolist(), skip_special_tokens=False) == expected:
            return True
        # Metaspace (SentencePiece-style) decoders drop the leading space of the first token
        # decoded; decoding with the token before and removing its text keeps that space.
        if a > 0:
            before = decode(ids[a - 1 : a].tolist(), skip_special_tokens=False)
            with_before = decode(ids[a - 1 : b].tolist(), skip_special_tokens=False)
            return with_before == before + expected
        return False


# -- worker processes -----------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(tokenizer: str, chat_template: str | None, end_of_turn: tuple[str, ...]) -> None:
    _WORKER["encoder"] = make_encoder(tokenizer, chat_template, end_of_turn)


def _encode_job(job: tuple[Trajectory, Decision, str, int, Overlong, Reasoning]) -> Encoded | str:
    trajectory, decision, policy, max_length, overlong, reasoning = job
    return _encode_or_reason(
        _WORKER["encoder"], trajectory, decision, policy, max_length, overlong, reasoning
    )


def _encode_or_reason(
    encoder: Encoder,
    trajectory: Trajectory,
    decision: Decision,
    policy: str,
    max_length: int,
    overlong: Overlong,
    reasoning: Reasoning = "template",
) -> Encoded | str:
    """The encoded row, or the error's message (a worker's errors travel back as text)."""
    try:
        return encoder.encode(
            trajectory,
            decision,
            policy=policy,
            max_length=max_length,
            overlong=overlong,
            reasoning=reasoning,
        )
    except BuildError as e:
        return str(e)


def make_encoder(
    tokenizer: str | Path, chat_template: str | None, end_of_turn: tuple[str, ...] = ()
) -> Encoder:
    """An encoder for a tokenizer folder or hub id; a local folder's `generation_config.json`
    stop ids count as end-of-turn tokens, as vLLM stops on them."""
    folder = Path(tokenizer) if Path(tokenizer).is_dir() else None
    return Encoder(
        load_tokenizer(tokenizer), chat_template, end_of_turn=end_of_turn, model_folder=folder
    )


def load_tokenizer(tokenizer: str | Path) -> Any:
    """A tokenizer by alias (`smollm2`), local path or hub id; one that cannot be had fails at
    once as a `BuildError` in one line (see `srft.models`), not after the hub's retries."""
    from srft.models import load_tokenizer as load

    try:
        return load(tokenizer)
    except ModelNotFound as e:
        raise BuildError(str(e)) from e


# -- the build ------------------------------------------------------------------------------


def build_dataset(
    corpus: Path,
    verdicts: Path | None,
    *,
    policy: str,
    tokenizer: str | Path,
    output: Path,
    max_length: int,
    overlong: Overlong = "error",
    chat_template: Path | None = None,
    policy_options: dict[str, Any] | None = None,
    skip_invalid: bool = False,
    num_proc: int = 1,
    overwrite: bool = True,
    shard: Shard | None = None,
    end_of_turn: list[str] | tuple[str, ...] = (),
    reasoning: Reasoning = "template",
) -> BuildSummary:
    """Build the masked dataset of `corpus` under `policy` into the folder `output`.

    `verdicts` is the critic's file (required by the critic policies); `tokenizer` a local
    folder or hub id whose chat template renders the trajectories (`chat_template` overrides
    it); `overlong` says what happens to a trajectory longer than `max_length` tokens;
    `skip_invalid` turns per-trajectory errors into rejections recorded in `rejected.jsonl`;
    `num_proc` > 1 encodes in that many worker processes (same output). `overwrite`: False
    refuses an existing `output` (the CLI's default); the folder is written under a temporary
    name and renamed when complete. `shard` builds only every N-th corpus line (`srft.shard`).
    `end_of_turn` are extra stop tokens that end a model's turn (`--end-of-turn`, see
    `template.py`); `reasoning="every-turn"` trains each turn whose reasoning the template drops
    from history in a row of its own, as the latest turn (`docs/dataset.md`, "Reasoning").
    """
    if reasoning not in ("template", "every-turn"):
        raise BuildError(f"--reasoning must be template or every-turn, not {reasoning!r}")
    corpus, output = Path(corpus), Path(output)
    shard = shard or Shard()
    require_regular_file(corpus, BuildError)
    try:  # a tokenizer that cannot be had fails before anything is read or imported
        check_output(output, kind="folder", overwrite=overwrite)
        tokenizer = resolve_model(tokenizer, "tokenizer")
    except (ModelNotFound, OutputError) as e:
        raise BuildError(str(e)) from e
    if overlong not in ("error", "skip", "truncate"):
        raise BuildError(f"--overlong must be error, skip or truncate, not {overlong!r}")
    if max_length <= 0:
        raise BuildError(f"--max-length must be positive, not {max_length}")
    try:
        pol = make_policy(policy, policy_options)
    except PolicyError as e:
        raise BuildError(str(e)) from e
    if pol.needs_verdicts and verdicts is None:
        raise BuildError(f"policy {policy!r} needs critic verdicts: pass --verdicts FILE")
    try:
        verdict_map = VerdictIndex(verdicts)
    except (VerdictError, FileFormatError, OSError) as e:
        raise BuildError(str(e)) from e
    template = load_template_file(chat_template) if chat_template is not None else None
    end_of_turn = tuple(end_of_turn)
    encoder = make_encoder(tokenizer, template, end_of_turn)

    stats = BuildStats()
    rows = _RowSink(output)  # to disk in batches: memory holds one batch, not the dataset
    rejected: list[dict[str, Any]] = []
    counts = {
        "read": 0,
        "rows": 0,
        "dropped": 0,
        "rejected": 0,
        "skipped_overlong": 0,
        "truncated": 0,
        "truncated_steps": 0,
    }
    seen: set[str] = set()  # ids of this shard's trajectories
    elsewhere: set[str] = set()  # ids of the other shards' lines (their verdicts are not unknown)

    def reject(where: str, trajectory_id: str | None, reason: str) -> None:
        if not skip_invalid:
            raise BuildError(reason if reason.startswith(where) else f"{where}: {reason}")
        rejected.append({"where": where, "trajectory_id": trajectory_id, "reason": reason})
        counts["rejected"] += 1

    def jobs() -> Iterator[tuple[Trajectory, Decision, str]]:
        for where, trajectory in _read_corpus(corpus, reject, counts, shard, elsewhere):
            seen.add(trajectory.id)
            verdict = verdict_map.get(trajectory.id)
            try:
                _check_verdict(trajectory, verdict, verdicts)
                decision = pol.decide(trajectory, verdict)
            except (BuildError, PolicyError) as e:
                reject(where, trajectory.id, str(e))
                continue
            if not decision.keep:
                stats.add_decision(trajectory.outcome.status, decision)
                counts["dropped"] += 1
                continue
            yield trajectory, decision, where

    def results() -> Iterator[tuple[tuple[Trajectory, Decision, str], Encoded | str]]:
        if num_proc <= 1:
            for job in jobs():
                yield (
                    job,
                    _encode_or_reason(
                        encoder, job[0], job[1], policy, max_length, overlong, reasoning
                    ),
                )
            return
        with ProcessPoolExecutor(
            max_workers=num_proc,
            initializer=_init_worker,
            initargs=(str(tokenizer), template, end_of_turn),
        ) as pool:
            # A bounded window of jobs in flight: the workers never wait for the reader, and
            # the corpus is never held whole. Results leave in input order, so the output is
            # the same for any num_proc.
            window: deque[tuple[tuple[Trajectory, Decision, str], Future]] = deque()
            for job in jobs():
                args = (job[0], job[1], policy, max_length, overlong, reasoning)
                window.append((job, pool.submit(_encode_job, args)))
                if len(window) >= 32 * num_proc:
                    done, future = window.popleft()
                    yield done, future.result()
            while window:
                done, future = window.popleft()
                yield done, future.result()

    # A kept trajectory is counted as kept only once its row is written: one that turns out too
    # long (or fails to encode) is counted as what happened to it instead, so the per-outcome
    # counts add up to the rows of the dataset.
    try:
        for (trajectory, decision, where), res in results():
            if isinstance(res, str):
                reject(where, trajectory.id, res)
                continue
            if res.row is None:
                counts["skipped_overlong"] += 1
                stats.add_skipped(trajectory.outcome.status, "skipped:overlong")
                continue
            if res.truncated_steps:
                counts["truncated"] += 1
                counts["truncated_steps"] += res.truncated_steps
            rows.add(res.row)
            stats.add_decision(trajectory.outcome.status, decision)
            stats.add_row(res.row)
            stats.add_reasoning(*res.reasoning)
            for turn_row in res.turn_rows:
                rows.add(turn_row)
                stats.add_turn_row(turn_row)
        rows.close()
    except BaseException:
        rows.discard()
        raise
    finally:
        verdict_map.close()
    turn_rows = stats.reasoning["turn_rows"]
    counts["rows"] = rows.count - turn_rows  # read = rows + dropped + rejected + skipped
    if reasoning == "every-turn":
        counts["turn_rows"] = turn_rows

    unknown = sorted(verdict_map.ids() - seen - elsewhere)
    if unknown:
        message = (
            f"{verdicts}: verdicts for {len(unknown)} trajectories not in {corpus}, "
            f"e.g. {unknown[0]!r} (were they judged on another corpus?)"
        )
        if not skip_invalid:
            rows.discard()
            raise BuildError(message)
        # Counted apart from the corpus's own rejects: they are verdicts, not trajectories.
        counts["unknown_verdicts"] = len(unknown)
        for trajectory_id in unknown:
            rejected.append(
                {
                    "where": str(verdicts),
                    "trajectory_id": trajectory_id,
                    "reason": "a verdict for a trajectory that is not in the corpus",
                }
            )

    manifest = {
        "format": DATASET_FORMAT,
        "version": DATASET_VERSION,
        "srft_version": _srft_version(),
        "inputs": {
            "corpus": {"path": str(corpus), "sha256": _file_hash(corpus)},
            "verdicts": None
            if verdicts is None
            else {"path": str(verdicts), "sha256": _file_hash(Path(verdicts))},
        },
        "tokenizer": _tokenizer_identity(tokenizer, encoder.tokenizer),
        "chat_template": {
            "source": str(chat_template) if chat_template is not None else "tokenizer",
            **encoder.renderer.describe(),
        },
        "policy": pol.describe(),
        "max_length": max_length,
        "overlong": overlong,
        "skip_invalid": skip_invalid,
        "shard": str(shard),
        "reasoning_mode": reasoning,
        "counts": counts,
    }
    stats_doc = stats.to_dict()
    manifest["reasoning"] = stats_doc["reasoning"]
    if not rows.count:
        # A dataset of no rows would train nothing, and `datasets` cannot load the empty folder
        # it writes: refuse here, where the counts say why, rather than at training time.
        rows.discard()
        write_rejects(output, rejected)
        reasons = ", ".join(f"{k} {v}" for k, v in counts.items() if k != "rows" and v)
        raise BuildError(
            f"{corpus}: no row left to train on with policy {pol.name!r} ({reasons}); "
            "check the policy (rft keeps resolved runs only), --max-length and the rejects"
        )
    try:
        with atomic_folder(output) as folder:
            os.replace(rows.path, folder / "data.parquet")
            write_outputs(folder, manifest, stats_doc, rejected)
            (folder / "chat_template.jinja").write_text(encoder.renderer.template, encoding="utf-8")
    finally:
        rows.discard()
    return BuildSummary(output=output, counts=counts, stats=stats_doc, manifest=manifest)


class VerdictIndex:
    """The verdicts of a file by trajectory id, read on demand.

    Every line is validated once up front (a bad file fails before any work, as before), but
    only each verdict's byte offset is kept: a verdict holds an object per step, and keeping
    all of them made a build's memory grow with the corpus. `get` re-reads one line.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._offsets: dict[str, int] = {}
        if path is None:
            return
        require_regular_file(path, VerdictError)
        with Path(path).open("rb") as f:
            offset = 0
            for n, raw in enumerate(f, start=1):
                if raw.strip():
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise VerdictError(f"{path}:{n}: invalid UTF-8 at byte {e.start}") from e
                    verdict = VERDICTS.loads(line, path=path, lineno=n)
                    if verdict.trajectory_id in self._offsets:
                        raise VerdictError(
                            f"{path}: trajectory {verdict.trajectory_id!r} has two verdicts"
                        )
                    self._offsets[verdict.trajectory_id] = offset
                offset += len(raw)
        self._file = Path(path).open("rb")  # noqa: SIM115 - open for `get` until `close`

    def get(self, trajectory_id: str) -> Verdict | None:
        """The verdict of `trajectory_id`, or None when the file has none."""
        offset = self._offsets.get(trajectory_id)
        if offset is None:
            return None
        self._file.seek(offset)
        return VERDICTS.loads(self._file.readline().decode("utf-8"), path=self.path or "")

    def ids(self) -> set[str]:
        """Every trajectory id that has a verdict."""
        return set(self._offsets)

    def close(self) -> None:
        """Close the file `get` reads from."""
        if self.path is not None:
            self._file.close()


def _read_corpus(
    corpus: Path,
    reject: Callable[[str, str | None, str], None],
    counts: dict[str, int],
    shard: Shard,
    elsewhere: set[str],
) -> Iterator[tuple[str, Trajectory]]:
    """This shard's trajectories; the ids of the other lines go to `elsewhere` (a plain JSON
    parse, without validation: only the id is needed, to tell their verdicts from strays)."""
    for n, position, line in CORPUS.lines(corpus):
        if not shard.keeps(position):
            elsewhere.add(record_field(line, "id"))
            continue
        counts["read"] += 1
        where = f"{corpus}:{n}"
        try:
            yield where, CORPUS.loads(line, path=corpus, lineno=n)
        except FileFormatError as e:
            reject(where, None, str(e))


def _check_verdict(trajectory: Trajectory, verdict: Verdict | None, path: Path | None) -> None:
    if verdict is None or verdict.status != "ok":
        return
    if len(verdict.steps) != len(trajectory.steps):
        raise BuildError(
            f"{path}: trajectory {trajectory.id!r}: the verdict labels {len(verdict.steps)} "
            f"steps but the trajectory has {len(trajectory.steps)}"
        )


# -- outputs --------------------------------------------------------------------------------


def arrow_schema() -> Any:
    """The Arrow schema of a dataset row (the contract in `docs/pipeline-files.md`)."""
    import pyarrow as pa

    step = pa.struct(
        [
            ("index", pa.int32()),
            ("message", pa.int32()),
            ("start", pa.int32()),
            ("end", pa.int32()),
            ("trained", pa.bool_()),
            ("label", pa.string()),
        ]
    )
    return pa.schema(
        [
            ("trajectory_id", pa.string()),
            ("instance_id", pa.string()),
            ("outcome", pa.string()),
            ("policy", pa.string()),
            ("input_ids", pa.list_(pa.int32())),
            ("labels", pa.list_(pa.int32())),
            ("steps", pa.list_(step)),
            ("num_tokens", pa.int32()),
            ("num_trained", pa.int32()),
            ("messages", pa.string()),
            ("tools", pa.string()),
        ]
    )


def rows_to_table(rows: list[dict[str, Any]]) -> Any:
    """An Arrow table of built rows; the token columns are assembled from numpy without
    going through Python lists (a corpus can hold tens of millions of tokens)."""
    import pyarrow as pa

    schema = arrow_schema()

    def token_column(name: str) -> Any:
        lengths = np.array([len(r[name]) for r in rows], dtype=np.int64)
        offsets = np.zeros(len(rows) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        flat = (np.concatenate([r[name] for r in rows]) if rows else np.zeros(0)).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.int32()))

    columns = []
    for f in schema:
        if f.name in ("input_ids", "labels"):
            columns.append(token_column(f.name))
        else:
            columns.append(pa.array([r[f.name] for r in rows], type=f.type))
    return pa.Table.from_arrays(columns, schema=schema)


class _RowSink:
    """Built rows, written to a Parquet file beside the output in batches of `BATCH_ROWS`.

    Holding every row until the end made a build's memory grow with the corpus (tokens are
    4 bytes each, twice: ids and labels); a batch at a time keeps it flat. The file is moved
    into the output folder when the build succeeds, and removed otherwise (`discard`).
    """

    BATCH_ROWS = 512
    BATCH_TOKENS = 1_000_000  # about 8 MB of ids and labels: long runs make smaller batches

    def __init__(self, output: Path) -> None:
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{output.name}.rows-", suffix=".parquet", dir=output.parent
        )
        os.close(fd)
        self.path = Path(name)
        self.count = 0
        self._batch: list[dict[str, Any]] = []
        self._tokens = 0
        self._writer: Any = None

    def add(self, row: dict[str, Any]) -> None:
        """Append one row (written once a batch is full)."""
        self._batch.append(row)
        self.count += 1
        self._tokens += len(row["input_ids"])
        if len(self._batch) >= self.BATCH_ROWS or self._tokens >= self.BATCH_TOKENS:
            self._flush()

    def _flush(self) -> None:
        import pyarrow.parquet as pq

        if not self._batch:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, arrow_schema())
        self._writer.write_table(rows_to_table(self._batch))
        self._batch = []
        self._tokens = 0

    def close(self) -> None:
        """Write the last batch and close the file."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def discard(self) -> None:
        """Remove the file (a failed build, or after it was moved into the output)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.path.unlink(missing_ok=True)


def write_outputs(
    output: Path,
    manifest: dict[str, Any],
    stats: dict[str, Any],
    rejected: list[dict[str, Any]],
) -> None:
    """Write `hf/`, `build.json`, `stats.json` (and `rejected.jsonl`) beside `data.parquet`."""
    hf = output / "hf"
    if hf.exists():
        shutil.rmtree(hf)
    # A fingerprint from the content, not a random one, keeps `hf/state.json` reproducible.
    fingerprint = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode("utf-8")).hexdigest()[
        :16
    ]
    write_hf_folder(output / "data.parquet", hf, fingerprint)
    _write_json(output / "build.json", manifest)
    _write_json(output / "stats.json", stats)
    write_rejects(output, rejected)


def write_hf_folder(parquet: Path, hf: Path, fingerprint: str) -> None:
    """The `save_to_disk` folder of the rows in `parquet`, written one row group at a time.

    `Dataset.save_to_disk` reads a table it holds or memory-maps, so its resident memory grows
    with the dataset; here the one data file is streamed through `datasets`' own `ArrowWriter`,
    and `state.json` and `dataset_info.json` come from `save_to_disk` itself, run on the first
    row (they describe the schema, the fingerprint and the file name, not the row count).
    """
    import datasets
    import pyarrow.parquet as pq
    from datasets.arrow_writer import ArrowWriter
    from datasets.table import InMemoryTable

    rows = pq.ParquetFile(parquet)
    features = datasets.Features.from_arrow_schema(arrow_schema())
    probe = hf.with_name(hf.name + ".probe")
    first = rows.read_row_group(0).slice(0, 1)
    datasets.Dataset(InMemoryTable(first), fingerprint=fingerprint).save_to_disk(str(probe))
    data_files = json.loads((probe / "state.json").read_text())["_data_files"]
    if [f["filename"] for f in data_files] != ["data-00000-of-00001.arrow"]:
        raise BuildError(f"unexpected save_to_disk layout from datasets: {data_files}")
    hf.mkdir(parents=True)
    for name in ("state.json", "dataset_info.json"):
        os.replace(probe / name, hf / name)
    shutil.rmtree(probe)
    writer = ArrowWriter(path=str(hf / "data-00000-of-00001.arrow"), features=features)
    try:
        for group in range(rows.num_row_groups):
            writer.write_table(rows.read_row_group(group, use_threads=False))
        writer.finalize()
    finally:
        writer.close()


def write_rejects(output: Path, rejected: list[dict[str, Any]]) -> None:
    """`rejected.jsonl` with one line per rejected trajectory (removed when there is none)."""
    rejects = output / "rejected.jsonl"
    if rejected:
        output.mkdir(parents=True, exist_ok=True)
        with rejects.open("w", encoding="utf-8", newline="\n") as f:
            for r in rejected:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    elif rejects.exists():
        rejects.unlink()


def load_dataset_folder(path: str | Path) -> Any:
    """The `datasets.Dataset` of a built dataset folder (checks its manifest first)."""
    import datasets

    read_manifest(path)
    return datasets.load_from_disk(str(Path(path) / "hf"))


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The `build.json` of a dataset folder; an error if it is not an srft dataset."""
    file = Path(path) / "build.json"
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise BuildError(f"{file}: not a readable srft dataset manifest: {e}") from e
    if manifest.get("format") != DATASET_FORMAT:
        raise BuildError(f"{file}: not an srft dataset (format={manifest.get('format')!r})")
    if manifest.get("version") != DATASET_VERSION:
        raise BuildError(f"{file}: dataset version {manifest.get('version')!r} is not supported")
    return manifest


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tokenizer_identity(name: str | Path, tokenizer: Any) -> dict[str, Any]:
    folder = Path(name)
    file = folder / "tokenizer.json"
    return {
        "name_or_path": str(name),
        "class": type(tokenizer).__name__,
        "tokenizer_json_sha256": _file_hash(file) if file.is_file() else None,
    }


def _srft_version() -> str:
    from srft import __version__

    return __version__
