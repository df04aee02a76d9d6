"""`--shard K/N`: one process's deterministic share of a stage's records, for fan-out.

Slurm arrays, Ray tasks or any scheduler run the same command N times with K = 0..N-1; each
process keeps the records whose position in the input is K modulo N. The position is the
record's index in the stage's input order (ingest: the records of the expanded inputs, in
their sorted order; critic and build: the corpus lines), which every shard computes alike
without talking to the others, so the N outputs together hold exactly the rows of one
unsharded run, each exactly once. Round-robin (not contiguous blocks) needs no count of the
records in advance and spreads long and short runs evenly over the shards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(ValueError):
    """A `--shard` value that is not K/N with 0 <= K < N."""


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0-based, as Slurm's `SLURM_ARRAY_TASK_ID` with `--array=0-N`)."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, spec: str | None) -> Shard:
        """`"K/N"` -> Shard(K, N); None or empty -> the whole input (0/1)."""
        if not spec:
            return cls()
        match = _SPEC.match(spec)
        if match is None:
            raise ShardError(f"--shard {spec!r}: expected K/N, e.g. 0/4 (K counts from 0)")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 0 <= index < count:
            raise ShardError(f"--shard {spec!r}: K must be 0..N-1 and N at least 1")
        return cls(index, count)

    def keeps(self, position: int) -> bool:
        """Whether the record at `position` (0-based, in input order) belongs to this shard."""
        return position % self.count == self.index

    @property
    def whole(self) -> bool:
        """True when this is the unsharded run."""
        return self.count == 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_option(help: str) -> Any:
    """A command's `--shard K/N` option (typer): the command gets a `Shard`, or None when the
    option is left out; a malformed value is a usage error naming the option."""
    import typer

    def parse(spec: str) -> Shard:
        try:
            return Shard.parse(spec)
        except ShardError as e:
            raise typer.BadParameter(str(e)) from e

    return typer.Option(None, "--shard", metavar="K/N", parser=parse, help=help)
