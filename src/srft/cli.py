"""The `srft` command: one thin subcommand per pipeline stage.

Each stage package owns its commands in a `commands.py` with a `register(app)` function, so a
stage's CLI lives next to its code and adding a stage is one line here. Plug-ins add command
groups through the `srft.commands` entry-point group (a `register(app)` function each; the toy
testbed's `srft toy ...` comes this way), so a missing plug-in only removes its commands.
"""

from __future__ import annotations

import importlib
import os
import warnings

import typer

from srft import __version__
from srft.cli_help import add_examples
from srft.memory import return_freed_memory
from srft.registry import Registry

app = typer.Typer(
    name="srft",
    help=(
        "Step Rejection Fine-Tuning for agent trajectories.\n\n"
        "Pipeline: ingest -> critic -> build -> train -> evaluate -> report "
        "(or all of it at once: `srft run CONFIG.yaml`)."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Stage packages in pipeline order; each has `commands.register(app)`.
STAGES = (
    "srft.corpus",
    "srft.critic",
    "srft.dataset",
    "srft.train",
    "srft.evaluate",
    "srft.report",
    "srft.pipeline",
)
# Plug-in command groups: name -> `register(app)`.
COMMAND_GROUPS: Registry = Registry("command group", "srft.commands")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"srft {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Step Rejection Fine-Tuning for agent trajectories."""


for _stage in STAGES:
    importlib.import_module(f"{_stage}.commands").register(app)
for _name, _register in COMMAND_GROUPS.items():
    _register(app)
add_examples(app)


def main() -> None:
    """Entry point of the `srft` console script.

    srft draws its own (rich) progress and summaries, so the libraries' per-file loading bars
    and deprecation chatter are off unless the user sets these variables themselves.
    """
    return_freed_memory()
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings(
        "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
    )
    app()


if __name__ == "__main__":
    main()
