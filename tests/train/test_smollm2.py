"""Real model, real trajectories: SmolLM2-135M with LoRA, two steps through `srft train`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from srft.cli import app

# The shortest real trajectory (2.7k SmolLM2 tokens; its first assistant step starts at ~870),
# cut between steps to ~1.1k tokens so two CPU steps take seconds, not minutes.
LEGACY = "mini-swe-agent-legacy"


@pytest.mark.slow
@pytest.mark.shared
def test_smollm2_lora_trains_two_steps_on_a_dataset_built_from_shared_trajectories(
    shared_trajectories: Path, smollm2_path: Path, tmp_path: Path
):
    from srft.corpus.ingest import ingest
    from srft.dataset.build import build_dataset

    ingest([shared_trajectories / LEGACY], output=tmp_path / "corpus.jsonl")
    summary = build_dataset(
        tmp_path / "corpus.jsonl",
        None,
        policy="sft",
        tokenizer=smollm2_path,
        output=tmp_path / "data",
        max_length=1100,
        overlong="truncate",
    )
    assert summary.counts["rows"] == 1

    result = CliRunner().invoke(
        app,
        [
            "train",
            "--data", str(tmp_path / "data"),
            "--model", str(smollm2_path),
            "-o", str(tmp_path / "run"),
            "--lora-r", "4",
            "--max-steps", "2",
            "--per-device-train-batch-tokens", "1100",
            "--learning-rate", "1e-3",
            "--no-gradient-checkpointing",  # no recompute: this CPU is the bottleneck
            "--no-progress",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(m["trained_tokens"] > 0 and 0 < m["loss"] < 20 for m in metrics)
    assert (run / "model" / "adapter_model.safetensors").exists()
    from srft.train import load_model

    model, tokenizer = load_model(run)
    assert type(model).__name__ == "PeftModelForCausalLM"
    assert tokenizer is not None and tokenizer.chat_template
