"""The `srft run` / `srft demo` commands and the launcher hand-off of training."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from srft.cli import app
from srft.pipeline.actions import launch_training
from srft.pipeline.graph import StageContext
from srft.pipeline.run import prepare_demo
from srft.train.config import TrainConfig


def test_run_with_a_bad_config_exits_1_and_names_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("inputs: [x]\ntrain: {model: smollm2}\npolicies: [sft, sft]\n")
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 1
    assert "bad.yaml" in result.output and "appears twice" in result.output


def test_run_needs_a_config_or_demo_but_not_both(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code != 0 and "CONFIG file or --demo" in result.output


def test_the_demo_config_is_copied_once_and_user_edits_survive(tmp_path: Path) -> None:
    path = prepare_demo(tmp_path / "demo")
    assert "environment:" in path.read_text()
    path.write_text(path.read_text() + "\n# my edit\n")
    assert prepare_demo(tmp_path / "demo").read_text().endswith("# my edit\n")


def test_a_launcher_runs_srft_train_with_the_written_config(tmp_path: Path) -> None:
    # A fake launcher that records the command it was asked to run instead of training.
    fake = tmp_path / "launcher.py"
    record = tmp_path / "argv.json"
    fake.write_text(f"import json, sys\njson.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n")
    config = TrainConfig(data=tmp_path / "d", output_dir=tmp_path / "run", model="m", max_steps=3)
    ctx = StageContext(run_dir=tmp_path, key="train/x", resume=False, log=lambda m: None)
    launch_training(f"{sys.executable} {fake} --num_processes 8", config, tmp_path / "t.yaml", ctx)
    argv = json.loads(record.read_text())
    assert argv == [
        "--num_processes",
        "8",
        "-m",
        "srft.cli",
        "train",
        "--config",
        str(tmp_path / "t.yaml"),
    ]
    assert "max_steps: 3" in (tmp_path / "t.yaml").read_text()


def test_a_failing_launcher_is_an_error_naming_the_command(tmp_path: Path) -> None:
    config = TrainConfig(data=tmp_path / "d", output_dir=tmp_path / "run", model="m")
    ctx = StageContext(run_dir=tmp_path, key="train/x", resume=False, log=lambda m: None)
    with pytest.raises(RuntimeError, match="exited with status 3"):
        launch_training(
            f"{sys.executable} -c 'raise SystemExit(3)'", config, tmp_path / "t.yaml", ctx
        )


def test_an_interrupted_training_is_restarted_with_the_trainers_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import srft.train.trainer
    from srft.pipeline.actions import train_action
    from srft.pipeline.config import parse_config

    seen: list[TrainConfig] = []
    monkeypatch.setattr(srft.train.trainer, "train", lambda cfg: seen.append(cfg) or cfg.output_dir)
    (tmp_path / "student").mkdir()
    for name in ("config.json", "tokenizer_config.json"):
        (tmp_path / "student" / name).write_text("{}")
    config = parse_config(
        {
            "inputs": ["x"],
            "train": {"model": str(tmp_path / "student"), "options": {"max_steps": 5}},
        },
        base=tmp_path,
    )
    action = train_action(config, "srft")
    action(StageContext(run_dir=tmp_path, key="train/srft", resume=False, log=lambda m: None))
    action(StageContext(run_dir=tmp_path, key="train/srft", resume=True, log=lambda m: None))
    assert [c.resume for c in seen] == [False, True]
    assert seen[0].output_dir == tmp_path / "runs" / "srft" and seen[0].max_steps == 5
    assert seen[0].data == tmp_path / "datasets" / "srft"


def test_the_demo_without_its_environment_says_so_in_one_line_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from srft.evaluate import environment

    # As where srft/toy/ is absent: the entry point names a module that cannot be imported.
    registry = environment.Registry(
        "environment", "srft.no-such-group", error=environment.EnvironmentUnavailable
    )
    registry.lazy("toy", "srft.no_such_toy:ENVIRONMENT")
    monkeypatch.setattr(environment, "ENVIRONMENTS", registry)
    result = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path / "demo")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: the demo plays in the 'toy' environment, which is not")
    assert not (tmp_path / "demo").exists()
