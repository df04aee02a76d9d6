"""Every `srft` command's --help teaches by example, and the examples name real options."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from srft.cli import app
from srft.cli_help import EXAMPLES


def commands() -> dict[str, Any]:
    """Every leaf command, by the words typed after `srft`."""
    found: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):  # a sub-app (`srft evaluate`, `srft toy`)
                walk(command, f"{prefix}{name} ")
            else:
                found[f"{prefix}{name}"] = command

    walk(typer.main.get_command(app), "")
    return found


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_help_shows_an_example(name: str):
    result = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert f"$ srft {name}" in result.output or name == "train-configs"


def test_every_example_uses_only_options_its_command_has():
    known = commands()
    assert set(EXAMPLES) == set(known)
    for name, example in EXAMPLES.items():
        for line in example.splitlines():
            if not line.startswith(f"srft {name} "):
                continue
            options = {o for p in known[name].params for o in (*p.opts, *p.secondary_opts)}
            for word in shlex.split(line):
                if word.startswith("-"):
                    assert word in options, f"{name}: {word}"
