"""Tiny random models and datasets built in code, so the trainer's tests run in seconds on CPU."""

from __future__ import annotations

import random
from pathlib import Path

import datasets
import torch
import transformers

VOCAB = 128


def tiny_config(arch: str = "qwen2", **overrides: object) -> transformers.PretrainedConfig:
    """A 2-layer model small enough to train in milliseconds; GQA like the real ones.

    `overrides` replace any field (a real tokenizer's vocabulary size, more positions, ...).
    """
    common = dict(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
    )
    common.update(overrides)
    if arch == "llama":
        return transformers.LlamaConfig(**common)
    return transformers.Qwen2Config(**common)


def tiny_model(arch: str = "qwen2", seed: int = 0) -> torch.nn.Module:
    """A fresh random tiny causal LM in fp32 with SDPA attention."""
    torch.manual_seed(seed)
    return transformers.AutoModelForCausalLM.from_config(
        tiny_config(arch), dtype=torch.float32, attn_implementation="sdpa"
    )


def make_rows(lengths: list[int], seed: int = 0, trained_every: int = 2) -> list[dict]:
    """Rows shaped like `srft build` output: alternating trained / masked spans of 5 tokens.

    `trained_every=0` gives rows with no trained token at all.
    """
    rng = random.Random(seed)
    rows = []
    for n in lengths:
        ids = [rng.randrange(3, VOCAB) for _ in range(n)]
        labels = [
            t if trained_every and (i // 5) % trained_every == 1 else -100
            for i, t in enumerate(ids)
        ]
        rows.append(
            {
                "input_ids": ids,
                "labels": labels,
                "num_tokens": n,
                "num_trained": sum(x != -100 for x in labels),
            }
        )
    return rows


def save_dataset(rows: list[dict], folder: Path) -> Path:
    """A dataset folder with `hf/` as `srft build` writes it; returns the folder."""
    datasets.Dataset.from_list(rows).save_to_disk(str(folder / "hf"))
    return folder
