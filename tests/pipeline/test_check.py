"""`srft run` checks the whole config before the first stage, and `--dry-run` shows the plan."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from srft.cli import app
from srft.pipeline.check import check_config
from srft.pipeline.config import ConfigError, load_config
from srft.pipeline.graph import Stage, StageContext, plan_stages, run_stages

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mini-swe-agent-v1"


def write_config(folder: Path, **overrides) -> Path:
    """A small run config over the fixture trajectories, `overrides` merged in at the top."""
    config = {
        "run_dir": "run",
        "inputs": [str(FIXTURES / "trajs")],
        "labels": [str(FIXTURES / "logs")],
        "policies": ["sft", "srft"],
        "train": {"model": "smollm2", "options": {"max_steps": 1}},
    }
    config.update(overrides)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_a_misspelt_policy_fails_in_seconds_before_any_stage_runs(tmp_path: Path):
    path = write_config(tmp_path, policies=["sft", "srtf"])
    started = time.perf_counter()
    result = run_cli("run", str(path))
    assert time.perf_counter() - started < 5
    assert result.exit_code == 1
    assert (
        f"error: {path}: policies[1].name: 'srtf' is not a known policy "
        "(did you mean 'srft'?); choose one of: rft, rule-mask, sft, srft" in result.output
    )
    assert not (tmp_path / "run").exists()  # no stage ran, no run folder was made


def test_every_problem_is_reported_at_once_one_line_each(tmp_path: Path):
    path = write_config(tmp_path, policies=["sfft"], critic={"name": "rulez"}, format="openhand")
    out = run_cli("run", str(path)).output.splitlines()
    lines = [line for line in out if line.startswith("error:")]
    assert len(lines) == 3
    assert "critic.name: 'rulez' is not a known critic (did you mean 'rules'?)" in lines[1]
    assert "format: 'openhand' is not a known format (did you mean 'openhands'?)" in lines[2]


def test_a_misspelt_training_option_names_the_key_and_the_transformers_name(tmp_path: Path):
    path = write_config(
        tmp_path, train={"model": "smollm2", "options": {"lern_rate": 1e-4, "max_steps": "x"}}
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).splitlines() == [
        f"{path}: train.options.max_steps: 'x' is not a whole number",
        f"{path}: train.options.lern_rate: unknown key (did you mean 'learning_rate'?)",
    ]


def test_a_value_outside_a_choice_lists_what_is_allowed(tmp_path: Path):
    path = write_config(tmp_path, build={"overlong": "skp"})
    with pytest.raises(ConfigError, match=r"build.overlong: 'skp' is not allowed \(did you mean "
                       r"'skip'\?\); choose one of: 'error', 'skip', 'truncate'"):  # fmt: skip
        load_config(path)


def test_an_unknown_top_level_key_suggests_the_right_one(tmp_path: Path):
    path = write_config(tmp_path, polices=["sft"])
    with pytest.raises(ConfigError, match=r"polices: unknown key \(did you mean 'policies'\?\)"):
        load_config(path)


def test_missing_input_and_label_files_are_named(tmp_path: Path):
    config = {
        "inputs": ["trajs/*.json", "missing.jsonl"],
        "labels": ["results.json"],
        "train": {"model": "smollm2"},
    }
    (tmp_path / "trajs").mkdir()
    (tmp_path / "trajs" / "a.json").write_text("{}")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as err:
        check_config(load_config(path), str(path))
    assert str(err.value).splitlines() == [
        f"{path}: inputs[1]: {tmp_path / 'missing.jsonl'}: no such file or folder",
        f"{path}: labels[0]: {tmp_path / 'results.json'}: no such file or folder",
    ]


def test_an_unknown_critic_option_suggests_the_right_one(tmp_path: Path):
    critic = {"name": "llm", "options": {"model": "m", "base_urls": "http://127.0.0.1:9/v1",
                                         "concurency": 4}}  # fmt: skip
    path = write_config(tmp_path, critic=critic)
    with pytest.raises(ConfigError, match=r"critic.options: concurency: unknown option "
                       r"\(did you mean 'concurrency'\?\)"):  # fmt: skip
        check_config(load_config(path), str(path))


def test_a_model_folder_without_its_config_is_named_before_any_stage(tmp_path: Path):
    (tmp_path / "student").mkdir()
    path = write_config(tmp_path, train={"model": "./student"})
    result = run_cli("run", str(path))
    assert result.exit_code == 1
    assert f"train.model: model folder {tmp_path / 'student'}: config.json is missing" in (
        result.output
    )


def test_an_uncached_hub_model_offline_fails_at_once(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = write_config(tmp_path, train={"model": "srft-tests/no-such-model"})
    started = time.perf_counter()
    result = run_cli("run", str(path))
    assert time.perf_counter() - started < 2
    assert "train.model: model 'srft-tests/no-such-model' is not in the local Hugging Face " in (
        result.output
    )


# -- --dry-run ---------------------------------------------------------------------------------


def toy_config(folder: Path, **overrides) -> Path:
    """A small toy-run config: the toy testbed generates 6 trajectories."""
    return write_config(folder, inputs=[], labels=[], toy={"episodes": 6}, **overrides)


def test_dry_run_on_a_new_config_plans_every_stage_and_the_offline_critic_costs_nothing(
    tmp_path: Path, toy_environment
):
    path = toy_config(tmp_path)
    result = run_cli("run", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Plan for {tmp_path / 'run'} (16 of 16 stages would run):"
    assert lines[1].split() == [
        "run",
        "generate",
        "has",
        "not",
        "run",
        "in",
        "this",
        "run",
        "folder",
    ]
    assert [line.split()[1] for line in lines[1:17]] == [
        "generate", "ingest", "critic", "truth", "critic-quality", "split", "build/sft", "train/sft", "build/srft",
        "train/srft", "build/heldout", "eval/base", "eval/sft", "eval/srft", "compare", "report",
    ]  # fmt: skip
    assert lines[17] == (
        "critic `rules`: offline, 0 requests, 0 tokens (6 trajectories, counted on the inputs, "
        "ingested into a temporary folder)"
    )
    assert not (tmp_path / "run").exists()


def test_dry_run_of_a_run_from_inputs_counts_the_ingested_inputs(tmp_path: Path):
    result = run_cli("run", str(write_config(tmp_path)), "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Plan for {tmp_path / 'run'} (13 of 13 stages would run):"
    assert [line.split()[1] for line in lines[1:3]] == ["ingest", "critic"]
    assert lines[-1] == (
        "critic `rules`: offline, 0 requests, 0 tokens (2 trajectories, counted on the inputs, "
        "ingested into a temporary folder)"
    )


def test_dry_run_of_the_published_critic_costs_nothing(tmp_path: Path):
    path = write_config(tmp_path, critic={"name": "published"})
    result = run_cli("run", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "critic `published`: offline, 0 requests, 0 tokens (2 trajectories, counted on the "
        "inputs, ingested into a temporary folder)"
    )


def test_dry_run_estimates_an_llm_critics_requests_and_tokens(tmp_path: Path, toy_environment):
    critic = {"name": "llm", "options": {"model": "m", "base_urls": "http://127.0.0.1:9/v1",
                                         "mode": "whole", "tokens_per_step": 50}}  # fmt: skip
    path = toy_config(tmp_path, critic=critic)
    result = run_cli("run", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    line = result.output.splitlines()[-1]
    # whole mode: one request per trajectory (the toy's are short), nothing sent to the URL
    assert line.startswith("critic `llm`: 6 requests for 6 trajectories, ~")
    prompt = int(line.split("~")[1].split(" prompt")[0].replace(",", ""))
    assert prompt > 6 * 200


class Writer:
    def __init__(self) -> None:
        self.ran: list[str] = []

    def __call__(self, out: str):
        def action(ctx: StageContext) -> dict:
            self.ran.append(ctx.key)
            ctx.path(out).write_text("x")
            return {}

        return action


def three_stages(writer: Writer, setting: str) -> list[Stage]:
    return [
        Stage("ingest", "ingest", writer("corpus.jsonl"), outputs=["corpus.jsonl"]),
        Stage("critic", "critic", writer("verdicts.jsonl"), outputs=["verdicts.jsonl"],
              settings={"name": setting}, after=["ingest"]),
        Stage("build", "build", writer("data"), outputs=["data"], after=["critic"]),
        Stage("report", "report", writer("report.html"), outputs=["report.html"],
              after=["ingest"]),
    ]  # fmt: skip


def test_the_plan_says_what_reruns_and_why_and_runs_nothing(tmp_path: Path):
    writer = Writer()
    run_stages(three_stages(writer, "rules"), tmp_path, log=lambda _m: None)
    (tmp_path / "report.html").unlink()
    writer.ran.clear()
    plan = plan_stages(three_stages(writer, "llm"), tmp_path, force=["ingest"])
    assert [(p.key, p.decision, p.reason) for p in plan] == [
        ("ingest", "run", "forced (--force)"),
        ("critic", "run", "reads ingest, which runs first"),
        ("build", "run", "reads critic, which runs first"),
        ("report", "run", "reads ingest, which runs first"),
    ]
    plan = plan_stages(three_stages(writer, "llm"), tmp_path)
    assert [(p.key, p.decision, p.reason) for p in plan] == [
        ("ingest", "skip", "up to date"),
        ("critic", "run", "its settings, srft version or input files changed since it ran"),
        ("build", "run", "reads critic, which runs first"),
        ("report", "run", "its output report.html is missing"),
    ]
    assert writer.ran == []
