"""Fixtures of the pipeline tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory: pytest.TempPathFactory, smollm2_path: Path) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer and chat template: trains in seconds."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from tests.train.tiny import tiny_config

    tokenizer = AutoTokenizer.from_pretrained(smollm2_path)
    torch.manual_seed(0)
    config = tiny_config(
        "llama",
        vocab_size=len(tokenizer),
        max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-student")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class GridSettings(BaseModel):
    """The settings of the tests' stand-in environment."""

    model_config = ConfigDict(extra="forbid")

    episodes: int = 4


class GridEnvironment:
    """A stand-in environment plug-in: what the pipeline asks of any environment, without the
    toy testbed (so these tests pass where `srft/toy/` is absent). Nothing here runs a stage."""

    name = "grid"
    settings_model = GridSettings
    true_labels = True

    def generate(self, out_dir: Path, settings: BaseModel) -> dict:
        raise NotImplementedError

    def generated(self, out_dir: Path) -> Any:
        raise NotImplementedError

    def rollout(self, models: Any, settings: Any, out: Path) -> Any:
        raise NotImplementedError


@pytest.fixture(scope="session")
def grid_environment() -> GridEnvironment:
    """The stand-in environment, registered as `grid` for the whole session."""
    from srft.evaluate.environment import ENVIRONMENTS

    if "grid" not in ENVIRONMENTS.names():
        ENVIRONMENTS.add("grid", GridEnvironment())
    return ENVIRONMENTS.get("grid")  # type: ignore[return-value]


@pytest.fixture
def toy_environment() -> None:
    """Skip the test where the toy testbed (`srft/toy/`) is not installed."""
    from srft.evaluate.environment import ENVIRONMENTS

    if "toy" not in ENVIRONMENTS:
        pytest.skip("the toy environment (srft.toy) is not installed")
