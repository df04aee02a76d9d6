"""Real model, real trajectories: SmolLM2-135M with LoRA, two steps through `srft train`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from srft.cli import app

GEMINI = "mini-swe-agent-v1-gemini"
RUNS = ("django__django-16429", "django__django-15127")  # one resolved, one unresolved


@pytest.mark.slow
@pytest.mark.shared
def test_smollm2_lora_trains_two_steps_on_a_dataset_built_from_shared_trajectories(
    shared_trajectories: Path, smollm2_path: Path, tmp_path: Path
):
    from srft.corpus.ingest import ingest
    from srft.corpus.io import read_corpus
    from srft.critic.rules import judge_rules
    from srft.critic.verdicts import write_verdicts
    from srft.dataset.build import build_dataset

    root = shared_trajectories / GEMINI
    ingest(
        [root / "trajs" / run / f"{run}.traj.json" for run in RUNS],
        labels=[root / "logs" / run / "report.json" for run in RUNS],
        output=tmp_path / "corpus.jsonl",
    )
    verdicts = [judge_rules(t) for t in read_corpus(tmp_path / "corpus.jsonl")]
    write_verdicts(verdicts, tmp_path / "verdicts.jsonl")
    build_dataset(
        tmp_path / "corpus.jsonl",
        tmp_path / "verdicts.jsonl",
        policy="srft",
        tokenizer=smollm2_path,
        output=tmp_path / "data",
        max_length=768,
        overlong="truncate",
    )

    result = CliRunner().invoke(
        app,
        [
            "train",
            "--data", str(tmp_path / "data"),
            "--model", str(smollm2_path),
            "-o", str(tmp_path / "run"),
            "--lora-r", "4",
            "--max-steps", "2",
            "--batch-tokens", "768",
            "--lr", "1e-3",
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
