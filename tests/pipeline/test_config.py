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


def test_inputs_or_an_environment_that_generates_is_required_but_not_both(
    tmp_path: Path, grid_environment
) -> None:
    with pytest.raises(ConfigError, match="inputs"):
        load_config(write(tmp_path, {"train": {"model": "smollm2"}}))
    with pytest.raises(ConfigError, match="not both"):
        load_config(write(tmp_path, {**MINIMAL, "environment": {"name": "grid"}}))


def test_an_unknown_environment_is_named_with_the_known_ones(tmp_path: Path, grid_environment):
    data = {"environment": {"name": "gird"}, "train": {"model": "smollm2"}}
    with pytest.raises(ConfigError, match=r"environment.name: 'gird' is not a known environment "
                       r"\(did you mean 'grid'\?\)"):  # fmt: skip
        load_config(write(tmp_path, data))


def test_the_environments_settings_are_checked_against_its_own_schema(
    tmp_path: Path, grid_environment
) -> None:
    data = {"environment": {"name": "grid", "settings": {"episodes": "x"}}, **TRAIN}
    with pytest.raises(ConfigError, match=r"environment.settings.episodes: 'x' is not a whole"):
        load_config(write(tmp_path, data))
    config = load_config(write(tmp_path, {"environment": {"name": "grid"}, **TRAIN}))
    assert config.environment is not None and config.environment.settings == {"episodes": 4}


def test_true_labels_need_an_environment_that_generates_them(tmp_path: Path) -> None:
    truth_row = {**MINIMAL, "policies": [{"name": "srft", "labels": "truth"}]}
    with pytest.raises(ConfigError, match="labels: truth"):
        load_config(write(tmp_path, truth_row))
    truth_critic = {**MINIMAL, "critic": {"name": "file", "options": {"labels_from": "truth"}}}
    with pytest.raises(ConfigError, match="labels_from: `truth` needs an `environment`"):
        load_config(write(tmp_path, truth_critic))


def test_a_run_without_environment_records_its_config_as_before(tmp_path: Path) -> None:
    # The manifest of a run from `inputs` stays byte-identical: `"toy": null` where the
    # section `environment` now stands, the keys in their old order.
    recorded = load_config(write(tmp_path, MINIMAL)).recorded()
    assert list(recorded) == [
        "name", "run_dir", "inputs", "labels", "format", "skip_invalid", "toy", "critic",
        "policies", "build", "train", "evaluate", "handoff", "report",
    ]  # fmt: skip
    assert recorded["toy"] is None


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("inputs: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config(path)


def test_a_config_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        parse_config(["sft"], where="x.yaml")


def test_the_shipped_demo_config_is_valid(tmp_path: Path, toy_environment) -> None:
    config = parse_config(yaml.safe_load(demo_config_text()), base=tmp_path)
    assert config.environment is not None and config.environment.name == "toy"
    assert config.critic.name == "rules"
    assert config.build.max_length <= 1024 and config.train.model == "smollm2"
    assert len(config.policies) >= 2


TRAIN = {"train": {"model": "smollm2"}}
GRID = {"environment": {"name": "grid"}, **TRAIN}


def test_an_old_toy_section_reads_as_the_toy_environment(tmp_path: Path, toy_environment):
    old = {
        "toy": {"episodes": 6, "rollout": {"episodes": 2}},
        "critic": {"name": "file", "options": {"labels_from": "toy"}},
        **TRAIN,
    }
    config = load_config(write(tmp_path, old))
    assert config.environment is not None and config.environment.name == "toy"
    assert config.environment.settings["episodes"] == 6
    assert config.environment.rollout.episodes == 2
    assert config.critic.options["labels_from"] == "truth"
    with pytest.raises(ConfigError, match="give `environment` only"):
        load_config(write(tmp_path, {**old, "environment": {"name": "toy"}}))


def test_rollouts_are_off_unless_asked_for_and_validated_when_they_are(
    tmp_path: Path, grid_environment
) -> None:
    from srft.pipeline.stages import build_graph

    def rollout_stages(data: dict) -> list[str]:
        keys = [s.key for s in build_graph(load_config(write(tmp_path, data)))]
        return [k for k in keys if k.startswith("rollout/")]

    assert rollout_stages(GRID) == []
    on = {**GRID, "environment": {"name": "grid", "rollout": {"episodes": 5}},
          "policies": ["sft", "srft"]}  # fmt: skip
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
            load_config(write(tmp_path, {**GRID, "environment": {"name": "grid", "rollout": bad}}))


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


def test_an_environment_that_generates_with_true_labels_adds_its_stages(
    tmp_path: Path, grid_environment
) -> None:
    from srft.pipeline.stages import build_graph

    data = {**GRID, "policies": ["sft", {"name": "srft", "row": "truth", "labels": "truth"}]}
    stages = {s.key: s for s in build_graph(load_config(write(tmp_path, data)))}
    assert list(stages)[:5] == ["generate", "ingest", "critic", "truth", "critic-quality"]
    assert stages["generate"].outputs == ["grid"]  # the environment's folder in the run
    assert stages["generate"].settings == {"name": "grid", "settings": {"episodes": 4}}
    assert stages["ingest"].after == ["generate"]
    assert "split/train.truth.verdicts.jsonl" in stages["split"].outputs
    assert "critic-quality" in stages["report"].after


def test_a_run_from_inputs_has_no_environment_stages(tmp_path: Path) -> None:
    from srft.pipeline.stages import build_graph

    kinds = {s.kind for s in build_graph(load_config(write(tmp_path, MINIMAL)))}
    assert kinds.isdisjoint({"generate", "truth", "critic-quality", "rollout"})
