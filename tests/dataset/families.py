"""Stand-in tokenizers for the real chat templates in `../shared/data/chat-templates/`.

A stand-in is SmolLM2's tokenizer plus the family's own special tokens, so a template renders and
tokenizes as with the real model, without downloading it. Three variants, because a mask must
not depend on which tokens a tokenizer marks special (issue #20): `special` (every family token
special), `plain-tags` (the structural tokens special, tool/think tags ordinary added tokens) and
`bare` (every family token an ordinary added token; EOS stays SmolLM2's `<|im_end|>`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

CHATML = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
QWEN_TAGS = [
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
]
DEEPSEEK = [
    "<｜begin▁of▁sentence｜>",
    "<｜end▁of▁sentence｜>",
    "<｜User｜>",
    "<｜Assistant｜>",
]
DEEPSEEK_TAGS = [
    "<｜tool▁calls▁begin｜>",
    "<｜tool▁calls▁end｜>",
    "<｜tool▁call▁begin｜>",
    "<｜tool▁call▁end｜>",
    "<｜tool▁sep｜>",
    "<｜tool▁outputs▁begin｜>",
    "<｜tool▁outputs▁end｜>",
    "<｜tool▁output▁begin｜>",
    "<｜tool▁output▁end｜>",
    "<think>",
    "</think>",
]
MISTRAL = ["<s>", "</s>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"]
MISTRAL_TAGS = [
    "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]",
    "[TOOL_CALLS]",
    "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]",
    "[TOOL_CONTENT]",
    "[ARGS]",
    "[CALL_ID]",
]
LLAMA3 = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|eom_id|>",
]

# family -> (structural tokens, tool/think tags, bos, eos)
FAMILIES: dict[str, tuple[list[str], list[str], str | None, str]] = {
    "qwen2.5-instruct": (CHATML, QWEN_TAGS, None, "<|im_end|>"),
    "qwen3": (CHATML, QWEN_TAGS, None, "<|im_end|>"),
    "qwen3-coder": (CHATML, QWEN_TAGS, None, "<|im_end|>"),
    "qwq-32b": (CHATML, QWEN_TAGS, None, "<|im_end|>"),
    "hermes-3-tool-use": (
        [*LLAMA3, "<|im_start|>", "<|im_end|>"],
        QWEN_TAGS,
        "<|begin_of_text|>",
        "<|im_end|>",
    ),
    "glm-4.6": (
        [
            "[gMASK]",
            "<sop>",
            "<|system|>",
            "<|user|>",
            "<|assistant|>",
            "<|observation|>",
            "<|endoftext|>",
        ],
        [*QWEN_TAGS, "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>"],
        None,
        "<|endoftext|>",
    ),
    "gpt-oss": (
        [
            "<|startoftext|>",
            "<|endoftext|>",
            "<|start|>",
            "<|end|>",
            "<|message|>",
            "<|channel|>",
            "<|constrain|>",
            "<|return|>",
            "<|call|>",
        ],
        [],
        None,
        "<|return|>",
    ),
    "deepseek-v3.1": (DEEPSEEK, DEEPSEEK_TAGS, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-r1-distill-qwen": (
        DEEPSEEK,
        DEEPSEEK_TAGS,
        "<｜begin▁of▁sentence｜>",
        "<｜end▁of▁sentence｜>",
    ),
    "llama-3.3-instruct": (LLAMA3, ["<|python_tag|>"], "<|begin_of_text|>", "<|eot_id|>"),
    "devstral-small-2507": (MISTRAL, MISTRAL_TAGS, "<s>", "</s>"),
    "mistral-small-3.2": (MISTRAL, MISTRAL_TAGS, "<s>", "</s>"),
    "gemma-2": (["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"], [], "<bos>", "<eos>"),
}

VARIANTS = ("special", "plain-tags", "bare")


def standin(base: Path, family: str, variant: str) -> Any:
    """SmolLM2's tokenizer with `family`'s tokens added as `variant` says (see module doc)."""
    from transformers import AutoTokenizer

    structural, tags, bos, eos = FAMILIES[family]
    tok = AutoTokenizer.from_pretrained(str(base))
    if variant == "bare":
        tok.add_tokens(
            [t for t in [*structural, *tags] if t not in tok.get_vocab()], special_tokens=False
        )
        if bos:
            tok.bos_token = None
        return tok
    special: dict[str, Any] = {
        "additional_special_tokens": structural + (tags if variant == "special" else [])
    }
    special["eos_token"] = eos
    if bos:
        special["bos_token"] = bos
    tok.add_special_tokens(special)
    if variant == "plain-tags":
        tok.add_tokens(tags, special_tokens=False)
    return tok


# Token-like literals of a template: `<|...|>`, `<｜...｜>`, `<start_of_turn>`, `[INST]`, ...
_TOKEN_LITERAL = re.compile(
    r"<\|[^|<>\s]{1,40}\|>|<｜[^｜<>]{1,40}｜>|<[a-z_]+_of_turn>|<turn\|>|<\|turn>"
    r"|<\|tool_call>|<tool_call\|>|\[/?[A-Z_]{3,20}\]|<eos>|<bos>|</?s>"
)


def standin_from_templates(base: Path, templates: list[str]) -> Any:
    """SmolLM2's tokenizer plus every token-like literal of `templates`, as special tokens:
    a stand-in for a family whose token list is not written down here."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base))
    literals = sorted({t for text in templates for t in _TOKEN_LITERAL.findall(text)})
    tok.add_special_tokens({"additional_special_tokens": literals})
    return tok
