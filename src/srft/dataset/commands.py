"""CLI commands of the dataset stage: `srft build` and `srft export`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from srft.dataset.policies import policy_names
from srft.outputs import overwrite_option
from srft.shard import Shard, shard_option

# Options `srft build` and `srft template check` share: the same template is judged the same way.
TokenizerOption = Annotated[str, typer.Option("--tokenizer", help="Tokenizer folder or hub id.")]
ChatTemplateOption = Annotated[
    Path | None,
    typer.Option(
        "--chat-template",
        exists=True,
        dir_okay=False,
        help="Jinja file (or JSON with `chat_template`) overriding the tokenizer's template.",
    ),
]
EndOfTurnOption = Annotated[
    list[str],
    typer.Option(
        "--end-of-turn",
        help="A token that ends the model's turn (repeatable), added to those found from the "
        "template, generation_config.json and the known families.",
    ),
]


def _parse_options(pairs: list[str]) -> dict:
    """`--option key=value` pairs; values are JSON where they parse (lists, booleans)."""
    options: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--option")
        key, value = pair.split("=", 1)
        try:
            options[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip().replace("-", "_")] = value
    return options


def build(
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help="Corpus JSONL."),
    verdicts: Path | None = typer.Option(
        None, "--verdicts", exists=True, dir_okay=False, help="Verdicts JSONL from `srft critic`."
    ),
    policy: str = typer.Option(
        "srft", "--policy", help=f"Masking policy: {', '.join(policy_names())}."
    ),
    option: list[str] = typer.Option(
        [],
        "--option",
        help='Policy option KEY=VALUE, repeatable; e.g. mask=\'["mistake","unnecessary"]\', '
        "judge_resolved=true, on_failed=mask, unknown_outcome=judge.",
    ),
    tokenizer: TokenizerOption = ...,
    chat_template: ChatTemplateOption = None,
    max_length: int = typer.Option(..., "--max-length", help="Maximum tokens per row."),
    overlong: str = typer.Option(
        "error", "--overlong", help="Longer trajectories: error, skip, or truncate (whole steps)."
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Reject bad trajectories into rejected.jsonl, not fail."
    ),
    num_proc: int = typer.Option(1, "--num-proc", help="Worker processes for encoding."),
    end_of_turn: EndOfTurnOption = [],  # noqa: B006 - typer copies the default
    reasoning: str = typer.Option(
        "template",
        "--reasoning",
        help="template: train the text the chat template keeps (history-rewriting templates "
        "drop earlier turns' reasoning, counted in build.json); every-turn: train each such turn "
        "with its reasoning in a row of its own, as the latest turn.",
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Dataset folder to write."),
    overwrite: bool = overwrite_option("Replace an existing dataset folder at OUTPUT."),
    shard: Shard | None = shard_option(
        "K/N: build only every N-th corpus line, starting at the K-th (0-based); the N "
        "folders' data.parquet files together hold the rows of one build."
    ),
) -> None:
    """Build the masked training set: one row per kept trajectory, masked steps in context.
    \f
    (Long only by its option declarations and the call that hands them on.)
    """
    import datasets

    from srft.dataset.build import BuildError, build_dataset
    from srft.dataset.stats import print_stats

    datasets.disable_progress_bars()  # our own summary follows; the save bar is noise
    try:
        summary = build_dataset(
            corpus,
            verdicts,
            policy=policy,
            tokenizer=tokenizer,
            output=output,
            max_length=max_length,
            overlong=overlong,  # type: ignore[arg-type]
            chat_template=chat_template,
            policy_options=_parse_options(option),
            skip_invalid=skip_invalid,
            num_proc=num_proc,
            overwrite=overwrite,
            shard=shard,
            end_of_turn=end_of_turn,
            reasoning=reasoning,  # type: ignore[arg-type]
        )
    except BuildError as e:
        _fail(e)
    print_stats(summary.counts, summary.stats)
    _print_unknown_verdicts(summary, verdicts, corpus)
    typer.echo(f"wrote {summary.output}")


def _fail(error: Exception) -> NoReturn:
    """Print `error: ...` as one line on stderr and exit with status 1."""
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(1) from error


def _print_unknown_verdicts(summary: Any, verdicts: Path | None, corpus: Path) -> None:
    if summary.counts.get("unknown_verdicts"):
        typer.echo(
            f"{verdicts}: rejected {summary.counts['unknown_verdicts']} verdicts for "
            f"trajectories not in {corpus} (listed in {summary.output / 'rejected.jsonl'})",
            err=True,
        )


def export(
    dataset: Path = typer.Argument(..., exists=True, file_okay=False, help="Dataset folder."),
    to: str = typer.Option(..., "--to", help="Target trainer: axolotl, llamafactory or trl."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder to write the export to."),
    overwrite: bool = overwrite_option(),
) -> None:
    """Export a built dataset for another trainer (data file + its config snippet)."""
    from srft.dataset.build import BuildError
    from srft.dataset.export import export_dataset

    try:
        result = export_dataset(dataset, to, output, overwrite=overwrite)
    except BuildError as e:
        _fail(e)
    typer.echo(f"wrote {result['rows']} rows to {output}: {', '.join(result['files'])}")


template_app = typer.Typer(help="Inspect how a chat template frames and masks the turns.")


@template_app.command("check")
def template_check(
    tokenizer: TokenizerOption = ...,
    chat_template: ChatTemplateOption = None,
    end_of_turn: EndOfTurnOption = [],  # noqa: B006 - typer copies the default
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Print the detected features and a sample conversation with trained, masked and context
    spans, before building anything."""
    from srft.dataset.encoder import BuildError, make_encoder
    from srft.dataset.render import RenderError, load_template_file
    from srft.dataset.template_check import check_template, print_report

    try:
        template = load_template_file(chat_template) if chat_template is not None else None
        report = check_template(make_encoder(tokenizer, template, tuple(end_of_turn)))
    except (BuildError, RenderError, OSError) as e:
        _fail(e)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report)


def register(app: typer.Typer) -> None:
    """Add this stage's subcommands to `app`."""
    app.command("build")(build)
    app.command("export")(export)
    app.add_typer(template_app, name="template")
