"""The config files shipped in the package load where they are used."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from srft.cli import app
from srft.train.commands import CONFIGS
from srft.train.config import load_config

ACCELERATE = sorted((CONFIGS / "accelerate").glob("*.yaml"))
TRAIN = sorted(CONFIGS.glob("*.yaml"))


def test_train_configs_lists_every_shipped_file():
    result = CliRunner().invoke(app, ["train-configs"])
    assert result.exit_code == 0
    for path in [*ACCELERATE, *TRAIN]:
        assert str(path) in result.output


def test_train_configs_prints_the_path_of_one_by_name():
    result = CliRunner().invoke(app, ["train-configs", "fsdp2"])
    assert result.output.strip() == str(CONFIGS / "accelerate" / "fsdp2.yaml")


@pytest.mark.parametrize("path", ACCELERATE, ids=lambda p: p.stem)
def test_accelerate_configs_are_read_by_accelerate(path: Path):
    from accelerate.commands.config.config_args import ClusterConfig

    cfg = ClusterConfig.from_yaml_file(path)
    assert cfg.num_processes >= 1
    expected = {"ddp": "MULTI_GPU", "fsdp2": "FSDP"}.get(path.stem, "DEEPSPEED")
    assert str(cfg.distributed_type).endswith(expected)
    if path.stem == "fsdp2":
        assert cfg.fsdp_config["fsdp_version"] == 2


@pytest.mark.parametrize("path", TRAIN, ids=lambda p: p.stem)
def test_train_configs_validate_against_the_schema(path: Path):
    assert isinstance(yaml.safe_load(path.read_text()), dict)
    cfg = load_config(path, {"data": "d", "output_dir": "o", "model": "m"})
    assert cfg.per_device_train_batch_tokens == 32768
