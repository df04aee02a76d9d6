"""Corpus statistics: what `srft stats` prints, computed in one streamed pass.

Runs per instance and pass@k: RFT/SRFT corpora are sampled k times per task, so the stats show
how many runs each instance has and the unbiased pass@k estimator of Chen et al. 2021
("Evaluating Large Language Models Trained on Code"): per instance with n labelled runs of which
c resolved, pass@k = 1 - C(n-c, k) / C(n, k), averaged over the instances with n >= k. Runs of
unknown outcome are left out of n (they are neither a pass nor a fail).

Token counts are an *estimate* by default (characters / 4, the usual rule of thumb for English
and code with BPE vocabularies), so stats need no tokenizer; pass a tokenizer (anything with
`encode(text) -> list`, e.g. a `transformers` tokenizer) to count exactly.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srft.files.corpus import CORPUS, Trajectory

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


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one instance with `n` runs, `c` of them resolved (Chen et al.)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n and 0 <= c <= n (n={n}, c={c})")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@dataclass
class InstanceRuns:
    """One instance's runs: how many, and how many of each outcome."""

    runs: int = 0
    resolved: int = 0
    unresolved: int = 0

    @property
    def labelled(self) -> int:
        return self.resolved + self.unresolved


@dataclass
class CorpusStats:
    """Per-format and overall statistics of a corpus, and the runs of each instance."""

    by_format: dict[str, GroupStats] = field(default_factory=dict)
    total: GroupStats = field(default_factory=GroupStats)
    tokens_exact: bool = False
    instances: dict[str, InstanceRuns] = field(default_factory=dict)
    ks: tuple[int, ...] | None = None  # the k of pass@k; None: 1 and the most labelled runs

    def pass_at(self, k: int) -> tuple[float | None, int]:
        """Mean pass@k over the instances with at least k labelled runs, and their number."""
        values = [
            pass_at_k(r.labelled, r.resolved, k) for r in self.instances.values() if r.labelled >= k
        ]
        return (sum(values) / len(values) if values else None), len(values)

    def k_values(self) -> list[int]:
        """The k shown: the ones asked for, else 1 and the largest number of labelled runs."""
        if self.ks:
            return sorted(set(self.ks))
        most = max((r.labelled for r in self.instances.values()), default=0)
        return sorted({1, most}) if most else []

    def runs_to_dict(self) -> dict[str, Any]:
        runs = [r.runs for r in self.instances.values()]
        return {
            "instances": len(runs),
            "runs_min": min(runs, default=0),
            "runs_median": statistics.median(runs) if runs else 0,
            "runs_max": max(runs, default=0),
            "pass_at_k": {
                str(k): {"value": value, "instances": count}
                for k in self.k_values()
                for value, count in [self.pass_at(k)]
            },
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_format": {name: g.to_dict() for name, g in sorted(self.by_format.items())},
            "total": self.total.to_dict(),
            "tokens_exact": self.tokens_exact,
            "runs_per_instance": self.runs_to_dict(),
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
    ks: tuple[int, ...] | list[int] | None = None,
) -> CorpusStats:
    """Statistics of a corpus file (streamed) or of trajectories already in hand.

    `ks`: the k of pass@k (default: 1 and the largest number of labelled runs per instance).
    A trajectory without an instance id is its own instance.
    """
    if isinstance(trajectories, str | Path):
        trajectories = CORPUS.read(trajectories)
    if ks is not None and any(k < 1 for k in ks):
        raise ValueError("the k of pass@k must be at least 1")
    stats = CorpusStats(tokens_exact=count_tokens is not None, ks=tuple(ks) if ks else None)
    for trajectory in trajectories:
        if count_tokens is None:
            tokens = estimate_tokens(trajectory)
        else:
            tokens = sum(count_tokens(text) for text in trajectory_text(trajectory) if text)
        group = stats.by_format.setdefault(trajectory.source.format, GroupStats())
        group.add(trajectory, tokens)
        stats.total.add(trajectory, tokens)
        instance = trajectory.instance_id or f"trajectory:{trajectory.id}"
        runs = stats.instances.setdefault(instance, InstanceRuns())
        runs.runs += 1
        if trajectory.outcome.status == "resolved":
            runs.resolved += 1
        elif trajectory.outcome.status == "unresolved":
            runs.unresolved += 1
    return stats
