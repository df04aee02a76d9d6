"""Build statistics: what went in, what the policy did with it, what will be trained.

Written to `stats.json` and printed by `srft build`, so a user sees at once how much of the
corpus a policy trains on and which labels the masked tokens carry (the numbers behind the
paper's "at most ~24% of steps are harmful").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np

from srft.dataset.policies import Decision

# Upper bounds (exclusive) of the length histogram's bins, in tokens.
LENGTH_BINS = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)
UNLABELLED = "unlabelled"


def length_bin(n: int) -> str:
    """The histogram bin of a row of `n` tokens, e.g. `1024-2047` or `>=131072`."""
    low = 0
    for high in LENGTH_BINS:
        if n < high:
            return f"{low}-{high - 1}"
        low = high
    return f">={low}"


class BuildStats:
    """Accumulates the statistics of one build, trajectory by trajectory."""

    def __init__(self) -> None:
        self.trajectories: dict[str, Counter[str]] = defaultdict(Counter)
        self.steps: dict[str, Counter[str]] = defaultdict(Counter)
        self.tokens: dict[str, Counter[str]] = defaultdict(Counter)
        self.context_tokens = 0
        self.lengths: Counter[str] = Counter()
        self.reasoning: Counter[str] = Counter()

    def add_decision(self, outcome: str, decision: Decision) -> None:
        """Count a policy decision under the trajectory's outcome."""
        key = decision.reason if not decision.keep else f"kept:{decision.reason}"
        self.trajectories[outcome][key] += 1

    def add_skipped(self, outcome: str, reason: str) -> None:
        """Count a kept trajectory that produced no row after all (e.g. too long)."""
        self.trajectories[outcome][reason] += 1

    def add_row(self, row: dict[str, Any]) -> None:
        """Count the steps and tokens of a built row."""
        in_steps = 0
        counted: set[int] = set()
        for step in row["steps"]:  # a step the template split into turns has several entries
            label = step["label"] or UNLABELLED
            n = step["end"] - step["start"]
            in_steps += n
            kind = "trained" if step["trained"] else "masked"
            if step["index"] not in counted:
                counted.add(step["index"])
                self.steps[label][kind] += 1
            self.tokens[label][kind] += n
        self.context_tokens += int(row["num_tokens"]) - in_steps
        self.lengths[length_bin(int(row["num_tokens"]))] += 1

    def add_reasoning(self, turns: int, dropped: int) -> None:
        """Count a row's assistant turns with reasoning, and those whose reasoning the chat
        template left out (history-rewriting templates keep it only after the last user turn)."""
        self.reasoning["turns"] += turns
        self.reasoning["dropped"] += dropped

    def add_turn_row(self, row: dict[str, Any]) -> None:
        """Count a `--reasoning every-turn` row: one turn trained with its reasoning, all the
        turns before it repeated as context (the extra tokens that mode costs)."""
        self.reasoning["turn_rows"] += 1
        self.reasoning["turn_row_tokens"] += int(row["num_tokens"])
        self.reasoning["turn_row_trained"] += int(row["num_trained"])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary, with stable key order."""
        trained = sum(c["trained"] for c in self.tokens.values())
        masked = sum(c["masked"] for c in self.tokens.values())
        order = [length_bin(0)] + [length_bin(b) for b in LENGTH_BINS]
        return {
            "trajectories": {
                o: dict(sorted(c.items())) for o, c in sorted(self.trajectories.items())
            },
            "steps_by_label": {
                label: {"trained": c["trained"], "masked": c["masked"]}
                for label, c in sorted(self.steps.items())
            },
            "tokens": {
                "trained": int(trained),
                "masked": int(masked),
                "context": int(self.context_tokens),
                "by_label": {
                    label: {"trained": int(c["trained"]), "masked": int(c["masked"])}
                    for label, c in sorted(self.tokens.items())
                },
            },
            "length_histogram": {b: self.lengths[b] for b in order if self.lengths[b]},
            "reasoning": {
                "turns": self.reasoning["turns"],
                "dropped_by_template": self.reasoning["dropped"],
                "turn_rows": self.reasoning["turn_rows"],
                "turn_row_tokens": self.reasoning["turn_row_tokens"],
                "turn_row_trained_tokens": self.reasoning["turn_row_trained"],
            },
        }


def trained_fraction(stats: dict[str, Any]) -> float:
    """Trained tokens over all assistant tokens (trained + masked) of a stats document."""
    t = stats["tokens"]
    total = t["trained"] + t["masked"]
    return float(np.divide(t["trained"], total)) if total else 0.0


def print_stats(counts: dict[str, int], stats: dict[str, Any]) -> None:
    """Print a build's counts and token table to the terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(", ".join(f"{k} {v}" for k, v in counts.items()))
    for outcome, reasons in stats["trajectories"].items():
        console.print(f"{outcome}: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
    table = Table(title="assistant tokens by step label")
    for col in ("label", "steps trained", "steps masked", "tokens trained", "tokens masked"):
        table.add_column(col, justify="right" if col != "label" else "left")
    for label, tok in stats["tokens"]["by_label"].items():
        steps = stats["steps_by_label"][label]
        table.add_row(
            label,
            str(steps["trained"]),
            str(steps["masked"]),
            str(tok["trained"]),
            str(tok["masked"]),
        )
    t = stats["tokens"]
    table.add_row("all", "", "", str(t["trained"]), str(t["masked"]))
    console.print(table)
    console.print(
        f"context (non-assistant) tokens: {t['context']}; "
        f"trained share of assistant tokens: {trained_fraction(stats):.1%}"
    )
    r = stats.get("reasoning") or {}
    if r.get("turns"):
        console.print(
            f"reasoning: {r['turns']} turns carry it; the chat template dropped "
            f"{r['dropped_by_template']} of them from the trained text"
            + (
                f"; {r['turn_rows']} rows train them as latest turns "
                f"({r['turn_row_tokens']} extra tokens, {r['turn_row_trained_tokens']} trained)"
                if r.get("turn_rows")
                else ""
            )
        )
    console.print(
        "lengths: " + ", ".join(f"{k}: {v}" for k, v in stats["length_histogram"].items())
    )
