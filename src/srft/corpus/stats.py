"""Corpus statistics: what `srft stats` prints, computed in one streamed pass.

Token counts are an *estimate* by default (characters / 4, the usual rule of thumb for English
and code with BPE vocabularies), so stats need no tokenizer; pass a tokenizer (anything with
`encode(text) -> list`, e.g. a `transformers` tokenizer) to count exactly.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srft.corpus.io import read_corpus
from srft.corpus.model import Trajectory

CHARS_PER_TOKEN = 4.0


@dataclass
class GroupStats:
    """Counts for one group of trajectories (one format, or all of them)."""

    trajectories: int = 0
    steps: list[int] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    tokens: int = 0

    def add(self, trajectory: Trajectory, tokens: int) -> None:
        self.trajectories += 1
        self.steps.append(len(trajectory.steps))
        self.outcomes[trajectory.outcome.status] += 1
        self.tokens += tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "trajectories": self.trajectories,
            "steps": sum(self.steps),
            "steps_min": min(self.steps, default=0),
            "steps_median": statistics.median(self.steps) if self.steps else 0,
            "steps_max": max(self.steps, default=0),
            "resolved": self.outcomes["resolved"],
            "unresolved": self.outcomes["unresolved"],
            "unknown": self.outcomes["unknown"],
            "tokens": self.tokens,
        }


@dataclass
class CorpusStats:
    """Per-format and overall statistics of a corpus."""

    by_format: dict[str, GroupStats] = field(default_factory=dict)
    total: GroupStats = field(default_factory=GroupStats)
    tokens_exact: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_format": {name: g.to_dict() for name, g in sorted(self.by_format.items())},
            "total": self.total.to_dict(),
            "tokens_exact": self.tokens_exact,
        }


def trajectory_text(trajectory: Trajectory) -> Iterable[str]:
    """The text a model reads or writes in a trajectory (content, reasoning, tool calls)."""
    for message in trajectory.messages:
        yield message.content
        if message.reasoning:
            yield message.reasoning
        for call in message.tool_calls:
            yield call.name
            yield call.arguments if isinstance(call.arguments, str) else str(call.arguments)


def estimate_tokens(trajectory: Trajectory) -> int:
    """Characters / `CHARS_PER_TOKEN`, rounded up."""
    chars = sum(len(text) for text in trajectory_text(trajectory))
    return int(-(-chars // CHARS_PER_TOKEN))


def compute_stats(
    trajectories: Iterable[Trajectory] | str | Path,
    *,
    count_tokens: Callable[[str], int] | None = None,
) -> CorpusStats:
    """Statistics of a corpus file (streamed) or of trajectories already in hand."""
    if isinstance(trajectories, str | Path):
        trajectories = read_corpus(trajectories)
    stats = CorpusStats(tokens_exact=count_tokens is not None)
    for trajectory in trajectories:
        if count_tokens is None:
            tokens = estimate_tokens(trajectory)
        else:
            tokens = sum(count_tokens(text) for text in trajectory_text(trajectory) if text)
        group = stats.by_format.setdefault(trajectory.source.format, GroupStats())
        group.add(trajectory, tokens)
        stats.total.add(trajectory, tokens)
    return stats
