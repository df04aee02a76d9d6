"""CLI commands of the toy testbed: `srft toy generate`, `srft toy tokenizer`, `srft toy eval`.

Added to `srft` through the `srft.commands` entry-point group (pyproject.toml), so the CLI does
not name the toy and works without it.
"""

from __future__ import annotations

from pathlib import Path

import typer

toy_app = typer.Typer(
    help=(
        "A closed-loop testbed: a toy 'fix a config value' environment, a noisy scripted teacher "
        "with true step labels, and rollouts of trained students."
    ),
    no_args_is_help=True,
)


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as e:
        raise typer.BadParameter(f"levels must be comma-separated integers, not {text!r}") from e
    if not levels or any(lv not in (1, 2, 3) for lv in levels):
        raise typer.BadParameter(f"levels must be among 1,2,3, not {text!r}")
    return levels


@toy_app.command("generate")
def generate_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    episodes: int = typer.Option(1000, "--episodes", "-n", help="How many episodes to play."),
    seed: int = typer.Option(0, "--seed", help="Run seed; different seeds draw disjoint episodes."),
    levels: str = typer.Option("1,2,3", "--levels", help="Difficulty levels, round-robin."),
    teacher: str = typer.Option("default", "--teacher", help="Teacher preset: default or sloppy."),
    first_hit: float = typer.Option(
        None, "--first-hit", help="Override: rate of editing the first grep hit."
    ),
    wrong_value: float = typer.Option(
        None, "--wrong-value", help="Override: rate of a wrong value."
    ),
    typo: float = typer.Option(None, "--typo", help="Override: rate of a failing typo."),
    recover: float = typer.Option(
        None, "--recover", help="Override: rate of recovering a wrong edit."
    ),
) -> None:
    """Play episodes with the teacher; write mini-swe-agent v1 trajectories
    (`trajs/`), a SWE-bench-style run summary (`toy.teacher.json`) and true labels
    (`labels.jsonl`, srft.verdicts)."""
    from dataclasses import replace

    from srft.toy.generate import generate
    from srft.toy.teacher import TeacherConfig

    try:
        config = TeacherConfig.preset(teacher)
        overrides = {
            "first_hit": first_hit,
            "wrong_value": wrong_value,
            "typo": typo,
            "recover": recover,
        }
        config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
        result = generate(out, episodes, seed=seed, config=config, levels=_levels(levels))
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    typer.echo(
        f"{result.episodes} episodes -> {out}: teacher resolved {result.resolved} "
        f"({result.resolved / result.episodes:.1%}), {result.steps} steps, labels {result.labels}"
    )
    typer.echo(
        f"next: srft ingest {out}/trajs --outcomes {out}/toy.teacher.json ; "
        f"true labels for `srft critic --critic file --labels-from {out}/labels.jsonl`"
    )


@toy_app.command("tokenizer")
def tokenizer_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to save the tokenizer to."),
) -> None:
    """Save the word-level toy tokenizer (ChatML chat template) as a Hugging Face folder."""
    from srft.toy.tokenizer import save_tokenizer

    tokenizer = save_tokenizer(out)
    typer.echo(f"toy tokenizer ({len(tokenizer)} tokens) -> {out}")


@toy_app.command("eval")
def eval_cmd(
    model: list[str] = typer.Option(
        ...,
        "--model",
        "-m",
        help="A model or `srft train` run folder; NAME=PATH to name it. Repeatable.",
    ),
    episodes: int = typer.Option(200, "--episodes", "-n", help="Fresh episodes per student."),
    seed: int = typer.Option(9999, "--seed", help="Episode seed (the same for every student)."),
    levels: str = typer.Option("1,2,3", "--levels", help="Difficulty levels, round-robin."),
    temperatures: str = typer.Option("0,1", "--temperatures", help="0 = greedy; comma-separated."),
    tokenizer: Path = typer.Option(
        None, "--tokenizer", help="Tokenizer folder, if not beside the model."
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="Write the rollout results (srft.rollouts) here."
    ),
    keep_episodes: bool = typer.Option(
        False, "--episodes-detail", help="Keep every episode's commands."
    ),
    probes: int = typer.Option(
        100, "--probes", help="Teacher-forced decision probes per decision (0: none)."
    ),
) -> None:
    """Roll trained students out on the same fresh episodes: success with Wilson 95% intervals,
    paired differences, per level, error and wrong-edit rates."""
    from srft.toy.eval import evaluate_paths, format_table, write_eval

    models: dict[str, str] = {}
    for item in model:
        name, sep, path = item.partition("=")
        if not sep:
            name, path = Path(item).name, item
        if name in models:
            raise typer.BadParameter(f"two students are named {name!r}; use NAME=PATH")
        models[name] = path
    try:
        temps = tuple(float(t) for t in temperatures.split(","))
    except ValueError as e:
        raise typer.BadParameter(f"temperatures must be numbers, not {temperatures!r}") from e
    try:
        result = evaluate_paths(
            models,
            tokenizer=tokenizer,
            episodes=episodes,
            seed=seed,
            levels=_levels(levels),
            temperatures=temps,
            keep_episodes=keep_episodes,
            probes=probes,
        )
    except FileNotFoundError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    typer.echo(format_table(result))
    if out is not None:
        write_eval(result, out)
        typer.echo(f"-> {out}")


# The worked example each `--help` ends with (`srft.cli_help`).
EXAMPLES = {
    "toy generate": "srft toy generate --out toy/ --episodes 200",
    "toy tokenizer": "srft toy tokenizer --out toy-tokenizer/",
    "toy eval": "srft toy eval --model run/ --episodes 50",
}


def register(app: typer.Typer) -> None:
    """Add `srft toy ...` and its examples to `app`."""
    from srft.cli_help import EXAMPLES as ALL_EXAMPLES

    ALL_EXAMPLES.update(EXAMPLES)
    app.add_typer(toy_app, name="toy")
