"""CLI commands of the pipeline: `srft run CONFIG.yaml` and `srft demo`."""

from __future__ import annotations

from pathlib import Path

import typer

NEXT_STEPS = """\
Next steps (edit {config} and rerun `srft run {config}`; only what changed runs again):
  - a real critic: any OpenAI-compatible endpoint (vLLM, llama.cpp, a hosted API)
        critic:
          name: llm
          options: {{base_urls: http://localhost:8000/v1, model: Qwen/Qwen2.5-72B-Instruct,
                    api_key_env: OPENAI_API_KEY}}   # the variable's NAME; the key stays in env
  - a real student: a model folder or hub id, trained on a GPU (or several, via a launcher)
        train:
          model: Qwen/Qwen2.5-Coder-7B-Instruct
          launcher: accelerate launch --num_processes 8    # optional
  - your own trajectories instead of the toy ones: replace `environment:` with
        inputs: [path/to/trajs]
        labels: [path/to/results.json]
  docs/tutorial.md walks through the real workflow (vLLM critic, multi-GPU training)."""


def _print_result(result, *, config: Path | None) -> None:
    from srft.pipeline.run import RunResult

    assert isinstance(result, RunResult)
    ran = ", ".join(result.ran) or "nothing (everything was up to date)"
    typer.echo(f"\nRan: {ran}")
    if result.comparison.exists():
        typer.echo(f"\n{result.comparison.read_text(encoding='utf-8')}")
    typer.echo(f"Run folder: {result.run_dir}")
    if result.report is not None:
        typer.echo(f"Report:     {result.report}  (open it in a browser; it works offline)")
    if config is not None:
        typer.echo("\n" + NEXT_STEPS.format(config=config))


def split_command(
    corpus: Path = typer.Argument(..., help="The corpus JSONL (`srft ingest`)."),
    output: Path = typer.Option(
        ..., "-o", "--output-dir", help="Folder for train.jsonl and heldout.jsonl (and verdicts)."
    ),
    verdicts: Path | None = typer.Option(
        None, "--verdicts", help="The critic's verdicts, split the same way (`*.verdicts.jsonl`)."
    ),
    heldout_fraction: float = typer.Option(
        0.1, "--heldout-fraction", min=0.0, max=1.0, help="Share of task instances held out."
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the split (the same seed, the same split)."
    ),
) -> None:
    """Split a corpus into training and held-out files by task instance (as `srft run` does).

    All runs of one task fall on the same side, so the held-out NLL is never measured on a task
    the student trained on. Writes OUT/train.jsonl, OUT/heldout.jsonl and, with --verdicts,
    OUT/train.verdicts.jsonl and OUT/heldout.verdicts.jsonl.
    """
    from srft.pipeline.split import split_corpus, split_verdicts

    sides = {side: output / f"{side}.jsonl" for side in ("train", "heldout")}
    try:
        counts = split_corpus(
            corpus, sides["train"], sides["heldout"], fraction=heldout_fraction, seed=seed
        )
        if verdicts is not None:
            split_verdicts(
                verdicts, sides, {side: output / f"{side}.verdicts.jsonl" for side in sides}
            )
    except (OSError, ValueError) as e:  # unreadable files, bad records, stray verdicts
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    typer.echo(
        f"{counts['train']} trajectories to {sides['train']}, {counts['heldout']} to "
        f"{sides['heldout']} ({counts['heldout_instances']} of {counts['instances']} task "
        "instances held out)"
    )


def run_command(
    config: Path | None = typer.Argument(
        None, help="The run config (YAML); see docs/config-reference.md.", show_default=False
    ),
    demo: bool = typer.Option(
        False, "--demo", help="Run the embedded demo (the same as `srft demo`)."
    ),
    demo_dir: Path = typer.Option(
        Path("srft-demo"), "--demo-dir", help="Where the demo puts its config and run folder."
    ),
    force: list[str] = typer.Option(
        [],
        "--force",
        help="Rerun this stage even if it is up to date (a key such as `train/srft`, or a "
        "kind such as `train`); repeatable.",
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Check the config and print the stage plan (what would run or rerun, and why) "
        "and the critic's estimated requests and tokens; run nothing.",
    ),
) -> None:
    """`srft run CONFIG.yaml` / `srft run --demo`."""
    from srft.pipeline.config import ConfigError
    from srft.pipeline.graph import PipelineError
    from srft.pipeline.manifest import ManifestError
    from srft.pipeline.plan import dry_run as dry_run_lines
    from srft.pipeline.run import checked_config, demo_unavailable, prepare_demo, run_config

    if demo == (config is not None):
        raise typer.BadParameter("give a CONFIG file or --demo (one of them)")
    if demo and (why := demo_unavailable()) is not None:
        typer.echo(f"error: {why}", err=True)
        raise typer.Exit(2)
    path = prepare_demo(demo_dir) if demo else config
    assert path is not None
    try:
        if dry_run:
            for line in dry_run_lines(checked_config(path), force=force):
                typer.echo(line)
            return
        result = run_config(path, force=force, log=typer.echo)
    except (ConfigError, PipelineError, ManifestError) as e:
        for line in str(e).splitlines():
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(1) from e
    _print_result(result, config=path if demo else None)


def demo_command(
    folder: Path = typer.Option(
        Path("srft-demo"), "--dir", help="Where to put the demo's config and run folder."
    ),
) -> None:
    """`srft demo`: the same as `srft run --demo`."""
    run_command(config=None, demo=True, demo_dir=folder, force=[], dry_run=False)


def register(app: typer.Typer) -> None:
    """Add `srft run`, `srft demo` and `srft split` to `app`."""
    app.command("split")(split_command)
    app.command(
        "run",
        help=(
            "Run the whole pipeline from one config (ingest -> critic -> build -> train -> "
            "evaluate -> report) into one run folder. A rerun skips every stage whose inputs and "
            "settings are unchanged, and resumes an interrupted training."
        ),
    )(run_command)
    app.command(
        "demo",
        help=(
            "The embedded demo, with no network, GPU or API key: toy agent trajectories, the "
            "`rules` critic, one SmolLM2-135M + LoRA student per policy, held-out NLL, a "
            "comparison table and the HTML report, in minutes on a laptop CPU."
        ),
    )(demo_command)
