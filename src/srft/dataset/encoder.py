"""One trajectory and its policy decision to one verified row: render, tokenize once, label.

The renderer renders the whole conversation once and locates every assistant part as
characters (`render.py`); here the text is tokenized once with offsets, the character spans
become token spans, and `labels` is `input_ids` inside trained spans and -100 everywhere else.
So every trajectory costs one template render and one tokenization, whatever its number of
turns.

Every row is then checked against the rendering (`Encoder.verify`): decoding each step's tokens
gives back exactly the template's text for that turn, trained steps are labelled token for
token, masked steps are present with -100, and nothing outside the trained turns carries a
label. A mismatch is a `BuildError` naming trajectory and step.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from srft.dataset.policies import Decision
from srft.dataset.render import ChatRenderer, RenderError, Rendering, check_turn
from srft.files.corpus import Trajectory
from srft.models import ModelNotFound

IGNORE_INDEX = -100

Overlong = Literal["error", "skip", "truncate"]
Reasoning = Literal["template", "every-turn"]


class BuildError(ValueError):
    """Input that cannot become a training row; the message names file/trajectory/step."""


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

    def __init__(self, tokenizer: Any, chat_template: str | None = None, **renderer: Any) -> None:
        """`renderer`: the `ChatRenderer`'s keyword options (`end_of_turn`, `model_folder`)."""
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise BuildError(
                f"{type(tokenizer).__name__} is not a fast tokenizer; srft needs character "
                "offsets, which only `tokenizers`-backed tokenizers give"
            )
        self.tokenizer = tokenizer
        self.backend = backend
        try:
            self.renderer = ChatRenderer(tokenizer, chat_template, **renderer)
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
        spans = _token_spans(where, rendering, token_at)
        n_steps = len(trajectory.steps)
        fit = _steps_that_fit(where, rendering, token_at, len(ids), max_length, overlong, n_steps)
        if fit is None:
            return Encoded(row=None, skipped="overlong")
        keep_steps, length = fit
        row = _row(trajectory, decision, rendering, ids[:length], spans, keep_steps, policy)
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


def _token_spans(
    where: str, rendering: Rendering, token_at: dict[int, int]
) -> list[tuple[int, int]]:
    """The token span of every assistant part; an error where a token crosses a boundary."""
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
    return spans


def _steps_that_fit(
    where: str,
    rendering: Rendering,
    token_at: dict[int, int],
    length: int,
    max_length: int,
    overlong: Overlong,
    n_steps: int,
) -> tuple[int, int] | None:
    """(steps kept, tokens kept) of a row of `length` tokens under `max_length`: all of them
    when it fits; else an error, None (`skip`), or the steps that fit (`truncate`)."""
    if length <= max_length:
        return n_steps, length
    if overlong == "error":
        raise BuildError(
            f"{where}: {length} tokens exceed --max-length {max_length} "
            "(use --overlong skip or truncate)"
        )
    if overlong == "skip":
        return None
    # Cut only between steps: just before a later step's assistant header, so every
    # kept step keeps its assistant part and all its observations.
    # (a cut inside a token moves before it)
    cuts = [abs(token_at[h]) - (token_at[h] < 0) for h in rendering.step_starts]
    cuts.append(length)
    keep_steps = max((k for k in range(n_steps + 1) if cuts[k] <= max_length), default=0)
    if keep_steps == 0:
        return None
    return keep_steps, cuts[keep_steps]


def _row(
    trajectory: Trajectory,
    decision: Decision,
    rendering: Rendering,
    ids: np.ndarray,
    spans: list[tuple[int, int]],
    keep_steps: int,
    policy: str,
) -> dict[str, Any]:
    """The dataset row of the first `keep_steps` steps: ids, labels and the step spans."""
    labels = np.full(len(ids), IGNORE_INDEX, dtype=np.int32)
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
    if keep_steps < len(trajectory.steps):
        first_cut = rendering.parts[[p.step for p in rendering.parts].index(keep_steps)]
        messages = messages[: first_cut.message]
    return {
        "trajectory_id": trajectory.id,
        "instance_id": trajectory.instance_id,
        "outcome": trajectory.outcome.status,
        "policy": policy,
        "input_ids": ids,
        "labels": labels,
        "steps": steps,
        "num_tokens": len(ids),
        "num_trained": int(np.count_nonzero(labels != IGNORE_INDEX)),
        "messages": json.dumps(messages, ensure_ascii=False),
        "tools": None
        if rendering.tools is None
        else json.dumps(rendering.tools, ensure_ascii=False),
    }


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
