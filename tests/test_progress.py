"""The progress bar every long command shows: drawn when asked, silent when not."""

from __future__ import annotations

import io

from rich.console import Console

from srft.progress import ProgressBar


def console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=120), out


def test_a_disabled_bar_draws_nothing_and_takes_every_call():
    screen, out = console(terminal=True)
    with ProgressBar("critic whole", 3, enabled=False, console=screen) as bar:
        bar.advance("ok 1")
        bar.update(done=2, total=3)
    assert out.getvalue() == ""


def test_off_a_terminal_only_the_final_state_is_written_once():
    screen, out = console(terminal=False)
    with ProgressBar("train", 3, console=screen) as bar:
        for n in range(3):
            bar.advance(f"loss {n}")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("train") and "3/3" in lines[0] and lines[0].endswith("loss 2")


def test_a_transient_bar_leaves_nothing_behind_and_learns_its_total_late():
    screen, out = console(terminal=False)
    with ProgressBar("ingest", None, unit="files", console=screen, transient=True) as bar:
        bar.update(done=4, total=9)
        assert bar.bar is not None and bar.bar.tasks[0].total == 9
    assert out.getvalue().strip() == ""


def test_a_resumed_run_starts_where_it_stopped():
    screen, out = console(terminal=False)
    with ProgressBar("train", 10, done=7, console=screen) as bar:
        bar.advance()
    assert "8/10" in out.getvalue()
