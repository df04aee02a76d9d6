"""CLI commands of the evaluate stage: `srft evaluate nll` and `srft evaluate handoff`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from srft.outputs import overwrite_option

evaluate_app = typer.Typer(
    help=(
        "Evaluate students without running an agent (held-out NLL per step label), and write "
        "the hand-off for agent evaluation (vLLM + mini-swe-agent + SWE-bench harness)."
    ),
    no_args_is_help=True,
)


def _parse_models(specs: list[str]) -> dict[str, str]:
    models: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(f"{spec!r}: expected NAME=PATH", param_hint="--model")
        if name in models:
            raise typer.BadParameter(f"model name {name!r} given twice", param_hint="--model")
        models[name] = path
    return models


@evaluate_app.command("nll")
def nll_command(
    dataset: Path = typer.Argument(
        ..., help="A dataset folder (`srft build` output) of held-out rows."
    ),
    model: list[str] = typer.Option(
        ...,
        "--model",
        "-m",
        help="NAME=PATH of a model folder; repeat. Put the base model first: deltas are against it.",
    ),
    output: Path = typer.Option(
        Path("eval.json"), "--output", "-o", help="Where to write eval.json."
    ),
    max_tokens: int | None = typer.Option(
        None, help="Skip (and list) rows longer than this many tokens."
    ),
    max_rows: int | None = typer.Option(None, help="Evaluate only the first N rows."),
    device: str = typer.Option("cpu", help="torch device, e.g. cpu or cuda."),
    overwrite: bool = overwrite_option(),
) -> None:
    """Held-out NLL per step label (good / unnecessary / mistake / recover) for each model."""
    from rich.console import Console
    from rich.text import Text

    from srft.evaluate.nll import EvaluateError, evaluate_nll, nll_table

    console = Console(stderr=True)
    try:
        report = evaluate_nll(
            dataset,
            _parse_models(model),
            output,
            max_tokens=max_tokens,
            max_rows=max_rows,
            device=device,
            progress=console.print,
            overwrite=overwrite,
        )
    except (EvaluateError, OSError) as e:
        console.print(Text.assemble(("error:", "red"), f" {e}"), soft_wrap=True)
        raise typer.Exit(1) from e
    Console().print(_nll_table(nll_table(report)))
    d = report["dataset"]
    console.print(
        f"rows read {d['rows_read']}, evaluated {d['rows_evaluated']}, skipped "
        f"{d['rows_skipped']}; wrote {output}"
    )


def _nll_table(rows: list[dict[str, Any]]) -> Any:
    """The rich table of NLL per token by label, each model's change against the first."""
    from rich.table import Table

    labels = [k for k in rows[0] if k not in ("model", "overall") and not k.startswith("delta_")]
    table = Table(title="NLL per token (lower = more likely)")
    for column in ["model", "overall", *labels]:
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in rows:
        cells = [row["model"], _fmt(row["overall"])]
        for label in labels:
            delta = row[f"delta_{label}"]
            shown = _fmt(row[label])
            if delta is not None and row is not rows[0]:
                shown += f" ({delta:+.3f})"
            cells.append(shown)
        table.add_row(*cells)
    return table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@evaluate_app.command("handoff")
def handoff_command(
    run_dir: Path = typer.Argument(..., help="The run folder to write `handoff/NAME/` into."),
    model_dir: Path = typer.Argument(..., help="The trained model (or LoRA adapter) folder."),
    name: str = typer.Option("student", help="A name for the model (served as srft-NAME)."),
    merge: bool = typer.Option(True, help="Merge a LoRA adapter into its base model first."),
    subset: str = typer.Option("verified", help="SWE-bench subset: verified, lite or full."),
    split: str = typer.Option("test", help="SWE-bench split."),
    workers: int = typer.Option(8, help="Parallel agent runs / harness workers."),
    port: int = typer.Option(8000, help="Port of the vLLM server."),
    max_model_len: int = typer.Option(32768, help="vLLM --max-model-len."),
    tool_call_parser: str | None = typer.Option(
        None, help="vLLM tool-call parser (e.g. hermes) for students trained on tool calls."
    ),
    overwrite: bool = overwrite_option("Replace an existing hand-off of the same name."),
) -> None:
    """Write the commands that evaluate MODEL_DIR as an agent on SWE-bench."""
    from srft.evaluate.handoff import write_handoff

    try:
        h = write_handoff(
            run_dir,
            model_dir,
            name=name,
            merge=merge,
            port=port,
            subset=subset,
            split=split,
            workers=workers,
            max_model_len=max_model_len,
            tool_call_parser=tool_call_parser,
            overwrite=overwrite,
        )
    except (ValueError, OSError) as e:  # OutputError (a bad --name, an existing hand-off)
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    for step in ("serve", "agent", "harness"):
        typer.echo(f"# {step}\n{h.commands[step]}\n")
    typer.echo(f"wrote {Path(run_dir) / 'handoff' / name}")


def register(app: typer.Typer) -> None:
    """Add this stage's subcommands to `app`."""
    app.add_typer(evaluate_app, name="evaluate")
