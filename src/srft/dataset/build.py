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
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from srft.corpus.io import loads_trajectory
from srft.corpus.model import CorpusError, Trajectory
from srft.critic.verdicts import Verdict, VerdictError, load_verdicts
from srft.dataset.policies import Decision, PolicyError, make_policy
from srft.dataset.render import ChatRenderer, RenderError, Rendering, load_template_file
from srft.dataset.stats import BuildStats
from srft.models import ModelNotFound, resolve_model

DATASET_FORMAT = "srft.dataset"
DATASET_VERSION = 1
IGNORE_INDEX = -100

Overlong = Literal["error", "skip", "truncate"]


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


class Encoder:
    """Turns (trajectory, decision) into a verified dataset row with one tokenizer/template."""

    def __init__(self, tokenizer: Any, chat_template: str | None = None) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise BuildError(
                f"{type(tokenizer).__name__} is not a fast tokenizer; srft needs character "
                "offsets, which only `tokenizers`-backed tokenizers give"
            )
        self.tokenizer = tokenizer
        self.backend = backend
        self.renderer = ChatRenderer(tokenizer, chat_template)
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
    ) -> Encoded:
        """Render, tokenize and label one kept trajectory, then verify the row."""
        try:
            rendering = self.renderer.render(trajectory)
        except RenderError as e:
            raise BuildError(str(e)) from e
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
        return Encoded(row=row, truncated_steps=n_steps - keep_steps)

    def verify(self, trajectory_id: str, row: dict[str, Any], rendering: Rendering) -> None:
        """Check the invariants of a row against its rendering; raise `BuildError` if any fails.

        - decoding each step's tokens reproduces the template's text of that assistant turn;
        - a trained step's labels equal its ids and it has at least one token; a masked step's
          tokens are all present in `input_ids` with label -100;
        - no token outside the trained steps' spans carries a label.
        """
        ids, labels = row["input_ids"], row["labels"]
        by_step = {p.step: p for p in rendering.parts if p.step is not None}
        allowed = np.zeros(len(ids), dtype=bool)
        last_end = 0
        for step in row["steps"]:
            where = f"trajectory {trajectory_id!r}, step {step['index']}"
            a, b = step["start"], step["end"]
            if not last_end <= a <= b <= len(ids):
                raise BuildError(f"{where}: token span [{a}, {b}) is out of order or bounds")
            last_end = b
            part = by_step[step["index"]]
            expected = rendering.text[part.start : part.end]
            if not self._decodes_to(ids, a, b, expected):
                got = self.backend.decode(ids[a:b].tolist(), skip_special_tokens=False)
                raise BuildError(
                    f"{where}: the tokens decode to {got[:80]!r}, not the rendered turn "
                    f"{expected[:80]!r}"
                )
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


def _init_worker(tokenizer: str, chat_template: str | None) -> None:
    _WORKER["encoder"] = Encoder(load_tokenizer(tokenizer), chat_template)


def _encode_job(job: tuple[Trajectory, Decision, str, int, Overlong]) -> Encoded | str:
    trajectory, decision, policy, max_length, overlong = job
    return _encode_or_reason(_WORKER["encoder"], trajectory, decision, policy, max_length, overlong)


def _encode_or_reason(
    encoder: Encoder,
    trajectory: Trajectory,
    decision: Decision,
    policy: str,
    max_length: int,
    overlong: Overlong,
) -> Encoded | str:
    """The encoded row, or the error's message (a worker's errors travel back as text)."""
    try:
        return encoder.encode(
            trajectory, decision, policy=policy, max_length=max_length, overlong=overlong
        )
    except BuildError as e:
        return str(e)


def load_tokenizer(tokenizer: str | Path) -> Any:
    """A tokenizer by alias (`smollm2`), local path or hub id; one that cannot be had fails at
    once with `ModelNotFound` (see `srft.models`), not after the hub's retries."""
    from transformers import AutoTokenizer

    from srft.models import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(tokenizer, "tokenizer"))


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
) -> BuildSummary:
    """Build the masked dataset of `corpus` under `policy` into the folder `output`.

    `verdicts` is the critic's file (required by the critic policies); `tokenizer` a local
    folder or hub id whose chat template renders the trajectories (`chat_template` overrides
    it); `overlong` says what happens to a trajectory longer than `max_length` tokens;
    `skip_invalid` turns per-trajectory errors into rejections recorded in `rejected.jsonl`;
    `num_proc` > 1 encodes in that many worker processes (same output).
    """
    corpus, output = Path(corpus), Path(output)
    try:  # first: a tokenizer that cannot be had fails before anything is read or imported
        tokenizer = resolve_model(tokenizer, "tokenizer")
    except ModelNotFound as e:
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
        verdict_map = load_verdicts(verdicts) if verdicts is not None else {}
    except (VerdictError, OSError) as e:
        raise BuildError(str(e)) from e
    template = load_template_file(chat_template) if chat_template is not None else None
    encoder = Encoder(load_tokenizer(tokenizer), template)

    stats = BuildStats()
    rows: list[dict[str, Any]] = []
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
    seen: set[str] = set()

    def reject(where: str, trajectory_id: str | None, reason: str) -> None:
        if not skip_invalid:
            raise BuildError(reason if reason.startswith(where) else f"{where}: {reason}")
        rejected.append({"where": where, "trajectory_id": trajectory_id, "reason": reason})
        counts["rejected"] += 1

    def jobs() -> Iterator[tuple[Trajectory, Decision, str]]:
        for where, trajectory in _read_corpus(corpus, reject, counts):
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
                yield job, _encode_or_reason(encoder, job[0], job[1], policy, max_length, overlong)
            return
        with ProcessPoolExecutor(
            max_workers=num_proc, initializer=_init_worker, initargs=(str(tokenizer), template)
        ) as pool:
            pending = list(jobs())
            args = [(t, d, policy, max_length, overlong) for t, d, _ in pending]
            # map keeps input order, so the output is the same for any num_proc.
            yield from zip(pending, pool.map(_encode_job, args, chunksize=4), strict=True)

    # A kept trajectory is counted as kept only once its row is written: one that turns out too
    # long (or fails to encode) is counted as what happened to it instead, so the per-outcome
    # counts add up to the rows of the dataset.
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
        rows.append(res.row)
        stats.add_decision(trajectory.outcome.status, decision)
        stats.add_row(res.row)
    counts["rows"] = len(rows)

    unknown = sorted(set(verdict_map) - seen)
    if unknown:
        raise BuildError(
            f"{verdicts}: verdicts for {len(unknown)} trajectories not in {corpus}, "
            f"e.g. {unknown[0]!r} (were they judged on another corpus?)"
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
        "counts": counts,
    }
    stats_doc = stats.to_dict()
    if not rows:
        # A dataset of no rows would train nothing, and `datasets` cannot load the empty folder
        # it writes: refuse here, where the counts say why, rather than at training time.
        write_rejects(output, rejected)
        reasons = ", ".join(f"{k} {v}" for k, v in counts.items() if k != "rows" and v)
        raise BuildError(
            f"{corpus}: no row left to train on with policy {pol.name!r} ({reasons}); "
            "check the policy (rft keeps resolved runs only), --max-length and the rejects"
        )
    write_outputs(output, rows, manifest, stats_doc, rejected)
    (output / "chat_template.jinja").write_text(encoder.renderer.template, encoding="utf-8")
    return BuildSummary(output=output, counts=counts, stats=stats_doc, manifest=manifest)


def _read_corpus(
    corpus: Path, reject: Callable[[str, str | None, str], None], counts: dict[str, int]
) -> Iterator[tuple[str, Trajectory]]:
    with corpus.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            counts["read"] += 1
            where = f"{corpus}:{n}"
            try:
                yield where, loads_trajectory(line, where=where)
            except CorpusError as e:
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


def write_outputs(
    output: Path,
    rows: list[dict[str, Any]],
    manifest: dict[str, Any],
    stats: dict[str, Any],
    rejected: list[dict[str, Any]],
) -> None:
    """Write `hf/`, `data.parquet`, `build.json`, `stats.json` (and `rejected.jsonl`)."""
    import datasets
    import pyarrow.parquet as pq
    from datasets.table import InMemoryTable

    output.mkdir(parents=True, exist_ok=True)
    table = rows_to_table(rows)
    hf = output / "hf"
    if hf.exists():
        shutil.rmtree(hf)
    # A fingerprint from the content, not a random one, keeps `hf/state.json` reproducible.
    fingerprint = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode("utf-8")).hexdigest()[
        :16
    ]
    datasets.Dataset(InMemoryTable(table), fingerprint=fingerprint).save_to_disk(str(hf))
    pq.write_table(table, output / "data.parquet")
    _write_json(output / "build.json", manifest)
    _write_json(output / "stats.json", stats)
    write_rejects(output, rejected)


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
