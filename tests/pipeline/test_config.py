"""The run config: one validated YAML file, with errors that name the file, field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from srft.pipeline.config import ConfigError, load_config, parse_config
from srft.pipeline.run import demo_config_text


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "conf" / "run.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


MINIMAL = {"inputs": ["trajs"], "train": {"model": "smollm2"}}


def test_a_minimal_config_gets_the_documented_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.critic.name == "rules"
    assert [p.key for p in config.policies] == ["srft"]
    assert config.evaluate.enabled and config.report.enabled


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {**MINIMAL, "run_dir": "out/run", "labels": ["l.json"]}))
    assert config.run_dir == str((tmp_path / "conf" / "out" / "run").resolve())
    assert config.inputs == [str((tmp_path / "conf" / "trajs").resolve())]
    assert config.labels == [str((tmp_path / "conf" / "l.json").resolve())]


def test_the_bundled_model_alias_and_hub_ids_are_not_treated_as_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.train.model == "smollm2"
    hub = load_config(write(tmp_path, {**MINIMAL, "train": {"model": "Qwen/Qwen2.5-0.5B"}}))
    assert hub.train.model == "Qwen/Qwen2.5-0.5B"


def test_plain_policy_names_and_option_rows_mix(tmp_path: Path) -> None:
    data = {
        **MINIMAL,
        "policies": [
            "sft",
            {"name": "srft", "row": "srft-unn", "options": {"mask_unnecessary": True}},
        ],
    }
    config = load_config(write(tmp_path, data))
    assert [(p.name, p.key) for p in config.policies] == [("sft", "sft"), ("srft", "srft-unn")]


def test_a_policy_row_used_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="row 'srft' appears twice"):
        load_config(write(tmp_path, {**MINIMAL, "policies": ["srft", "srft"]}))


def test_an_unknown_key_is_an_error_naming_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, {**MINIMAL, "critc": {"name": "rules"}})
    with pytest.raises(ConfigError, match=r"run\.yaml: critc: unknown key \(did you mean 'critic'"):
        load_config(path)


def test_a_trainer_option_typo_fails_before_anything_runs(tmp_path: Path) -> None:
    path = write(tmp_path, {**MINIMAL, "train": {"model": "smollm2", "options": {"max_step": 3}}})
    with pytest.raises(ConfigError, match=r"yaml: train\.options\.max_step: unknown key \(did you"):
        load_config(path)


def test_trainer_options_the_run_sets_itself_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, {**MINIMAL, "train": {"model": "smollm2", "options": {"output_dir": "x"}}}
    )
    with pytest.raises(ConfigError, match=r"train\.options\.output_dir: set by `srft run`"):
        load_config(path)


def test_an_api_key_written_into_the_config_is_refused(tmp_path: Path) -> None:
    data = {**MINIMAL, "critic": {"name": "llm", "options": {"api_key": "sk-123"}}}
    with pytest.raises(ConfigError, match="environment variable"):
        load_config(write(tmp_path, data))


def test_inputs_or_toy_is_required_but_not_both(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="inputs"):
        load_config(write(tmp_path, {"train": {"model": "smollm2"}}))
    with pytest.raises(ConfigError, match="not both"):
        load_config(write(tmp_path, {**MINIMAL, "toy": {"episodes": 4}}))


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("inputs: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config(path)


def test_a_config_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        parse_config(["sft"], where="x.yaml")


def test_the_shipped_demo_config_is_valid(tmp_path: Path) -> None:
    config = parse_config(yaml.safe_load(demo_config_text()), base=tmp_path)
    assert config.toy is not None and config.critic.name == "rules"
    assert config.build.max_length <= 1024 and config.train.model == "smollm2"
    assert len(config.policies) >= 2


TOY = {"toy": {"episodes": 4}, "train": {"model": "smollm2"}}


def test_toy_rollouts_are_off_unless_asked_for_and_validated_when_they_are(tmp_path: Path) -> None:
    from srft.pipeline.stages import build_graph

    def rollout_stages(data: dict) -> list[str]:
        keys = [s.key for s in build_graph(load_config(write(tmp_path, data)))]
        return [k for k in keys if k.startswith("rollout/")]

    assert rollout_stages(TOY) == []
    on = {**TOY, "toy": {"episodes": 4, "rollout": {"episodes": 5}}, "policies": ["sft", "srft"]}
    assert rollout_stages(on) == ["rollout/base", "rollout/sft", "rollout/srft"]
    no_base = {**on, "evaluate": {"base_model": False}}
    assert rollout_stages(no_base) == ["rollout/sft", "rollout/srft"]
    for bad, reason in (
        ({"temperatures": [-1.0]}, "temperature"),
        ({"temperatures": []}, "temperature"),
        ({"episodes": -2}, "episodes"),
        ({"epsiodes": 3}, "epsiodes"),
    ):
        with pytest.raises(ConfigError, match=reason):
            load_config(write(tmp_path, {**TOY, "toy": {"episodes": 4, "rollout": bad}}))


def test_the_handoff_stages_follow_each_students_training_when_enabled(tmp_path: Path) -> None:
    from srft.pipeline.stages import build_graph

    data = {**MINIMAL, "policies": ["sft", "srft"]}
    assert not [s for s in build_graph(load_config(write(tmp_path, data))) if s.kind == "handoff"]
    stages = build_graph(load_config(write(tmp_path, {**data, "handoff": {"enabled": True}})))
    handoffs = {s.key: s.after for s in stages if s.kind == "handoff"}
    assert handoffs == {"handoff/sft": ["train/sft"], "handoff/srft": ["train/srft"]}
    report = next(s for s in stages if s.key == "report")
    assert {"handoff/sft", "handoff/srft"} <= set(report.after)
    with pytest.raises(ConfigError, match="subset"):
        load_config(write(tmp_path, {**data, "handoff": {"enabled": True, "subset": "mini"}}))
