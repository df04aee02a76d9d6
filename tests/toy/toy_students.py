"""Scripted stand-ins for trained students, so rollout and evaluation logic is tested exactly."""

from __future__ import annotations

import re
from typing import Any

import torch

from srft.toy.protocol import assistant_message


def tiny_llama(tokenizer: Any, seed: int = 0, max_positions: int = 1024) -> Any:
    """A random one-layer Llama over the toy vocabulary: real forward passes, no training."""
    from transformers import LlamaForCausalLM

    from tests.train.tiny import tiny_config

    torch.manual_seed(seed)
    config = tiny_config(
        "llama",
        vocab_size=len(tokenizer),
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=max_positions,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config).eval()


class ScriptedStudent:
    """A stand-in model whose `generate` reads the prompt and answers by a fixed script.

    `oracle=True` plays perfectly (grep, edit the line with the issue's old value, submit);
    otherwise it always edits the first grep hit.
    """

    def __init__(self, tokenizer: Any, oracle: bool = True) -> None:
        self.tokenizer = tokenizer
        self.oracle = oracle
        self.config = type("Config", (), {"max_position_embeddings": 2048})()

    def _reply(self, prompt: str) -> str:
        key, old, new = re.search(r"(\S+) is (\d+) but it should be (\d+)", prompt).groups()
        last = prompt.rsplit("<|im_start|>user\n", 1)[-1]
        if "->" in last:
            return assistant_message("done .", "submit")
        hits = re.findall(r"^(\S+):(\S+) = (\d+)$", last, re.M)
        if not hits:
            return assistant_message("search .", f"grep {key}")
        line = next((h for h in hits if h == (h[0], key, old)), hits[0]) if self.oracle else hits[0]
        return assistant_message("edit .", f"edit {line[0]} {line[1]} {new}")

    def generate(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kw: Any
    ) -> torch.Tensor:
        rows = []
        for ids, mask in zip(input_ids, attention_mask, strict=True):
            prompt = self.tokenizer.decode(ids[mask.bool()])
            reply = self.tokenizer(self._reply(prompt), add_special_tokens=False)["input_ids"]
            rows.append([*reply, kw["eos_token_id"]])
        width = max(map(len, rows))
        new = torch.tensor([r + [kw["pad_token_id"]] * (width - len(r)) for r in rows])
        return torch.cat([input_ids, new], dim=1)


class Babbler(ScriptedStudent):
    """Never writes a bash block."""

    def _reply(self, prompt: str) -> str:
        return "THOUGHT: hmm ."


class WrongFileStudent(ScriptedStudent):
    """Greps the issue's key, then edits that key in a file that does not exist."""

    def _reply(self, prompt: str) -> str:
        reply = super()._reply(prompt)
        return re.sub(r"edit \S+ ", "edit nowhere.cfg ", reply)
