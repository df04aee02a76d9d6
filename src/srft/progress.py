"""The progress bar of every long-running command (ingest, critic, train): rich's, or nothing.

One layout for all: `label  bar  done/total [unit]  elapsed  remaining  note`, where the note is
what the command has to say as it goes (the critic's running accounting, the trainer's loss).
Disabled (`enabled=False`: `--no-progress`, a non-main training process), it draws nothing and
costs nothing. Enabled, rich itself decides how to draw: live on a terminal, and on anything
else (a log file, a pipe, CI) nothing live, only the final state once when the bar stops, or not
even that for a `transient` bar.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressBar:
    """A rich progress bar with a label, an optional unit and a running note; a context manager.

    `total` None: not known yet (give it to `update` later). `done`: steps already done (a
    resumed run). `console`: where to draw (default: a console on stderr). `transient`: the bar
    disappears when it stops.
    """

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        enabled: bool = True,
        done: int = 0,
        unit: str | None = None,
        console: Console | None = None,
        transient: bool = False,
    ) -> None:
        self.bar: Progress | None = None
        if not enabled:
            return
        columns: list[ProgressColumn] = [
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
        ]
        if unit:
            columns.append(TextColumn(unit))
        columns += [TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.description}")]
        self.bar = Progress(*columns, console=console or Console(stderr=True), transient=transient)
        self.task: TaskID = self.bar.add_task("", total=total, completed=done)
        self.bar.start()

    def advance(self, note: str | None = None) -> None:
        """One more step done; `note` (when given) replaces the note."""
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=note)

    def update(self, *, done: int, total: int | None = None) -> None:
        """`done` steps of `total` (None: total unchanged) done."""
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)

    def close(self) -> None:
        """Stop drawing (a transient bar disappears; otherwise its final state stays)."""
        if self.bar is not None:
            self.bar.stop()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["ProgressBar"]
