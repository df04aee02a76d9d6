"""Fixtures of the evaluate tests: a tiny random causal LM and dataset folders built in code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

VOCAB = 97


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised one-layer Llama saved as an ordinary Hugging Face folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def make_row(
    trajectory_id: str,
    outcome: str,
    spans: list[tuple[int, int, bool, str | None]],
    length: int,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """One row of the dataset contract; `spans` are (start, end, trained, label) per step."""
    ids = [(seed * 31 + 7 * t) % VOCAB for t in range(length)]
    labels = [-100] * length
    for start, end, trained, _label in spans:
        if trained:
            labels[start:end] = ids[start:end]
    steps = [
        {"index": i, "start": s, "end": e, "trained": t, "label": lab}
        for i, (s, e, t, lab) in enumerate(spans)
    ]
    return {
        "trajectory_id": trajectory_id,
        "instance_id": None,
        "outcome": outcome,
        "policy": "srft",
        "input_ids": ids,
        "labels": labels,
        "steps": steps,
        "num_tokens": length,
        "num_trained": sum(1 for x in labels if x != -100),
    }


@pytest.fixture
def write_dataset(tmp_path: Path) -> Callable[[list[dict[str, Any]]], Path]:
    """Write rows as a dataset folder (`hf/` + `build.json`) and return the folder."""
    import json

    import datasets

    def write(rows: list[dict[str, Any]], name: str = "dataset") -> Path:
        folder = tmp_path / name
        datasets.Dataset.from_list(rows).save_to_disk(str(folder / "hf"))
        (folder / "build.json").write_text(
            json.dumps({"format": "srft.dataset", "version": 1, "policy": "srft"})
        )
        return folder

    return write
