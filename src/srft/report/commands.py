"""CLI commands of the report stage: `srft report`."""

from __future__ import annotations

from pathlib import Path

import typer

from srft.outputs import overwrite_option


def _pairs(specs: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(f"{spec!r}: expected POLICY=PATH", param_hint=option)
        if name in out:
            raise typer.BadParameter(f"policy {name!r} given twice", param_hint=option)
        out[name] = path
    return out


def report_command(
    corpus: Path = typer.Option(..., "--corpus", "-c", help="The corpus JSONL (`srft ingest`)."),
    verdicts: Path | None = typer.Option(
        None, "--verdicts", "-v", help="The verdicts JSONL (`srft critic`)."
    ),
    dataset: list[str] = typer.Option(
        [], "--dataset", "-d", help="POLICY=DIR of a dataset folder (`srft build`); repeat."
    ),
    run: list[str] = typer.Option(
        [], "--run", "-r", help="POLICY=DIR of a train run folder (`srft train`); repeat."
    ),
    eval_json: Path | None = typer.Option(
        None, "--eval", "-e", help="eval.json (`srft evaluate nll`)."
    ),
    handoff: list[str] = typer.Option(
        [], "--handoff", help="NAME=DIR of an agent-evaluation hand-off (`srft evaluate handoff`)."
    ),
    rollout: list[Path] = typer.Option(
        [],
        "--rollout",
        help="A rollout-results file (`rollout/<model>.json` of `srft run`, or `srft toy eval "
        "--out`); repeat for one file per model.",
    ),
    settings: Path | None = typer.Option(
        None, "--settings", help="A JSON or YAML file of settings to show (e.g. the run config)."
    ),
    title: str = typer.Option("SRFT report", help="The report's title."),
    max_text: int = typer.Option(
        6000, help="Cut texts longer than this many characters (in the report only)."
    ),
    max_trajectories: int = typer.Option(
        2000, help="Embed at most this many trajectories in the browser (charts count all)."
    ),
    output: Path = typer.Option(
        Path("report.html"), "--output", "-o", help="Where to write the HTML."
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """Write one self-contained HTML report (works offline): summary, charts, policy
    comparison with held-out NLL, and a trajectory browser with the critic's labels and the
    trained/masked tokens of each step.
    \f
    (Long only by its option declarations and the call that hands them on.)
    """
    import yaml

    from srft.report.build import ReportError, write_report

    shown = None
    if settings is not None:
        shown = yaml.safe_load(settings.read_text(encoding="utf-8"))  # JSON is YAML too
        if not isinstance(shown, dict):
            raise typer.BadParameter(f"{settings}: not a mapping", param_hint="--settings")
    try:
        path = write_report(
            output,
            corpus=corpus,
            verdicts=verdicts,
            datasets=_pairs(dataset, "--dataset"),
            runs=_pairs(run, "--run"),
            eval_json=eval_json,
            handoffs=_pairs(handoff, "--handoff"),
            rollouts=rollout,
            settings=shown,
            title=title,
            max_text=max_text,
            max_trajectories=max_trajectories,
            overwrite=overwrite,
        )
    except (ReportError, ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    size = path.stat().st_size / 1e6
    typer.echo(f"wrote {path} ({size:.1f} MB); open it in a browser, it needs no network")


def register(app: typer.Typer) -> None:
    """Add this stage's subcommands to `app`."""
    app.command("report")(report_command)
