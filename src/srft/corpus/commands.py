"""CLI commands of the corpus stage: `srft ingest` and `srft stats`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from srft.corpus.formats import formats
from srft.files.corpus import CorpusError
from srft.outputs import overwrite_option
from srft.progress import ProgressBar
from srft.shard import Shard, shard_option

# soft_wrap: a message naming a long path stays one line, and the path stays whole.
console = Console(stderr=True, soft_wrap=True)


def _format_help() -> str:
    return "Force one format instead of detecting it: " + ", ".join(f.name for f in formats())


def ingest_command(
    inputs: list[str] = typer.Argument(
        ..., help="Trajectory files, folders (read recursively), globs or dataset folders."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The corpus JSONL to write."),
    labels: list[Path] = typer.Option(
        [],
        "--labels",
        "-l",
        help="Outcome-label file (SWE-bench report.json, run summary, CSV/JSONL); repeatable.",
    ),
    format: str | None = typer.Option(None, "--format", "-f", help=_format_help()),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Reject bad records (with their reason) instead of stopping."
    ),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Where to write rejected records (JSONL), with --skip-invalid."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    overwrite: bool = overwrite_option("Replace an existing output (and rejects) file."),
    shard: Shard | None = shard_option(
        "K/N: read only every N-th record, starting at the K-th (0-based), to split one "
        "ingest over N processes; the N outputs together hold the rows of one run."
    ),
) -> None:
    """Read agent trajectories in any supported format into one canonical corpus (JSONL).

    Each record's format is detected from its content; label files among the inputs are used.

    Without --skip-invalid, the first invalid record stops the run (file, record and reason).
    The exit status is 1 when no trajectory was accepted.
    \f
    (Long only by its option declarations and the progress bar around the one call.)
    """
    from srft.corpus.ingest import NothingAccepted, ingest

    with ProgressBar("[bold]ingest", None, unit="files", console=console, transient=True) as bar:

        def progress(done: int, total: int, path: Path) -> None:
            bar.update(done=done, total=total)

        try:
            summary = ingest(
                inputs,
                labels=labels,
                output=output,
                format=format,
                skip_invalid=skip_invalid,
                rejects=rejects,
                progress=progress,
                overwrite=overwrite,
                shard=shard,
                keep_empty=False,
            )
        except NothingAccepted as e:
            empty = e
        except CorpusError as e:
            _error(str(e))
        else:
            empty = None
    _report(summary if empty is None else empty.summary, as_json)
    if empty is not None:
        _error(str(empty))


def _report(summary: Any, as_json: bool) -> None:
    """The ingest summary (a table, or JSON on stdout), then the warnings on stderr."""
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        _print_summary(summary)
    _print_warnings(summary)


def _error(message: str, status: int = 1) -> NoReturn:
    """Print `error: message` as one line (no markup, no wrapping: paths stay whole) and exit."""
    console.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True, highlight=False)
    raise typer.Exit(status)


def _print_summary(summary: Any) -> None:
    """The human-readable account of an ingest run: every record and file is in it."""
    table = Table(title=f"ingest -> {summary.output}")
    table.add_column("format")
    table.add_column("trajectories", justify="right")
    for name, count in sorted(summary.formats.items()):
        table.add_row(name, str(count))
    console.print(table)
    duplicates = f" + exact duplicates {summary.duplicates}" if summary.duplicates else ""
    console.print(
        f"read {summary.read} = accepted {summary.accepted} + rejected {summary.rejected}"
        f"{duplicates} records from {summary.files} files; {summary.steps} steps; outcomes "
        + ", ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items()) if v),
        highlight=False,
    )
    if summary.ambiguous_labels:
        console.print(
            f"[yellow]{len(summary.ambiguous_labels)} instance-keyed labels match several "
            "equally near runs and were applied to none of them[/yellow] (key them by "
            "trajectory_id, or keep each run's report in its run folder): "
            + "; ".join(summary.ambiguous_labels[:3]),
            highlight=False,
        )
    if summary.label_files:
        console.print(
            f"{summary.labels} labels from {len(summary.label_files)} label files", highlight=False
        )
    if summary.unknown_label_instances:
        shown = ", ".join(summary.unknown_label_instances[:5])
        more = len(summary.unknown_label_instances) - 5
        console.print(
            f"[yellow]{len(summary.unknown_label_instances)} labelled instances have no "
            f"trajectory:[/yellow] {shown}" + (f" (+{more} more)" if more > 0 else ""),
            highlight=False,
        )
    if summary.unknown_label_runs:
        console.print(
            f"[yellow]{len(summary.unknown_label_runs)} labelled runs (trajectory_id) are not "
            f"in the corpus:[/yellow] {', '.join(summary.unknown_label_runs[:5])}",
            highlight=False,
        )
    if summary.skipped_files:
        console.print(
            f"skipped {len(summary.skipped_files)} files that hold no trajectories: "
            + ", ".join(Path(p).name for p in summary.skipped_files[:5]),
            highlight=False,
        )


def _print_warnings(summary: Any) -> None:
    """Files skipped for a reason, empty files and rejected records, one line each (on stderr,
    also under --json: they are what the user has to act on)."""
    for path, reason in summary.refused_files:
        console.print(f"[yellow]skipped[/yellow] {escape(path)}: {reason}", highlight=False)
    for path in summary.empty_files:
        console.print(f"[yellow]empty[/yellow] {escape(path)}: holds no record", highlight=False)
    for rejection in summary.rejections[:10]:
        console.print(
            f"[yellow]rejected[/yellow] {escape(rejection.file)} record {rejection.record}: "
            f"{escape(rejection.reason)}",
            highlight=False,
        )


def stats_command(
    corpus: Path = typer.Argument(..., help="A corpus JSONL written by `srft ingest`."),
    tokenizer: str | None = typer.Option(
        None,
        "--tokenizer",
        help="Count tokens exactly with this Hugging Face tokenizer (path or name) "
        "instead of estimating them (chars / 4).",
    ),
    k: list[int] = typer.Option(
        [],
        "--k",
        help="Show pass@K (repeatable); default: 1 and the most labelled runs of an instance.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Trajectories per format, steps (total, min/median/max per trajectory), outcomes, tokens;
    runs per instance and pass@k (the unbiased estimator of Chen et al. 2021)."""
    from srft.corpus.stats import compute_stats

    count_tokens = None
    if tokenizer:
        from srft.models import ModelNotFound, load_tokenizer

        try:
            tok = load_tokenizer(tokenizer)
        except ModelNotFound as e:
            _error(str(e))

        def count_tokens(text: str) -> int:
            return len(tok.encode(text, add_special_tokens=False))

    try:
        stats = compute_stats(corpus, count_tokens=count_tokens, ks=k or None)
    except (CorpusError, OSError, ValueError) as e:
        _error(str(e))
    if as_json:
        typer.echo(json.dumps(stats.to_dict(), indent=2))
        return
    out = Console()
    if not out.is_terminal:
        out = Console(width=max(out.width, 130))
    out.print(_stats_table(str(corpus), stats))
    out.print(_runs_line(stats.runs_to_dict()), highlight=False)


def _stats_table(title: str, stats: Any) -> Table:
    """One row per format and a total: trajectories, steps, outcomes and tokens."""
    token_title = "tokens" if stats.tokens_exact else "tokens (est.)"
    table = Table(title=title)
    table.add_column("format", no_wrap=True)
    for column in ("trajectories", "steps", "min", "median", "max"):
        table.add_column(column, justify="right")
    for column in ("resolved", "unresolved", "unknown", token_title):
        table.add_column(column, justify="right")
    rows = [*sorted(stats.by_format.items()), ("total", stats.total)]
    for name, group in rows:
        d = group.to_dict()
        table.add_row(
            name,
            str(d["trajectories"]),
            str(d["steps"]),
            str(d["steps_min"]),
            f"{d['steps_median']:g}",
            str(d["steps_max"]),
            str(d["resolved"]),
            str(d["unresolved"]),
            str(d["unknown"]),
            f"{d['tokens']:,}",
            end_section=name == rows[-2][0] if len(rows) > 1 else False,
        )
    return table


def _runs_line(runs: dict) -> str:
    """`runs per instance ...; pass@1 0.333 (2 instances), pass@3 ...` for the stats table."""
    line = (
        f"{runs['instances']} instances; runs per instance min {runs['runs_min']}, "
        f"median {runs['runs_median']:g}, max {runs['runs_max']}"
    )
    shown = [
        f"pass@{k} {v['value']:.3f} ({v['instances']} instances)"
        if v["value"] is not None
        else f"pass@{k} - (no instance has {k} labelled runs)"
        for k, v in runs["pass_at_k"].items()
    ]
    return line + ("; " + ", ".join(shown) if shown else "; pass@k: no labelled runs")


def register(app: typer.Typer) -> None:
    """Add this stage's subcommands to `app`."""
    app.command("ingest")(ingest_command)
    app.command("stats")(stats_command)
