"""Counting prompt tokens without a tokenizer (unless the user gives one).

Budgets (`--max-prompt-tokens`) and the prompt-size accounting only need to be close, and
loading a tokenizer per critic model is slow and often impossible offline, so the default is the
common estimate of one token per four characters (rounded up). For a tight context window
(a small local model), pass `--tokenizer` (a `tokenizer.json` file or a folder holding one) to
count with the model's own tokenizer via the `tokenizers` library, or lower
`--chars-per-token` (code tokenises at about 3 characters per token in most vocabularies).
"""

from __future__ import annotations

import math
from pathlib import Path


class TokenCounter:
    """Counts tokens of text: a chars-per-token estimate, or a real `tokenizers` tokenizer."""

    def __init__(self, *, chars_per_token: float = 4.0, tokenizer: str | Path | None = None):
        if chars_per_token <= 0:
            raise ValueError("chars_per_token must be positive")
        self.chars_per_token = chars_per_token
        self.tokenizer_path = Path(tokenizer) if tokenizer else None
        self._tokenizer = None
        if self.tokenizer_path is not None:
            from tokenizers import Tokenizer

            path = self.tokenizer_path
            if path.is_dir():
                path = path / "tokenizer.json"
            if not path.is_file():
                raise FileNotFoundError(f"no tokenizer.json at {self.tokenizer_path}")
            self._tokenizer = Tokenizer.from_file(str(path))

    def __call__(self, text: str) -> int:
        """The number of tokens of `text`."""
        if not text:
            return 0
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        return math.ceil(len(text) / self.chars_per_token)

    def describe(self) -> str:
        """How tokens are counted, for the summary and the cache key."""
        if self.tokenizer_path is not None:
            return f"tokenizer:{self.tokenizer_path.name}"
        return f"chars/{self.chars_per_token:g}"

    def messages(self, messages: list[dict[str, str]]) -> int:
        """Tokens of a chat request: the contents plus a few tokens of framing per message."""
        return sum(self(m["content"]) + 4 for m in messages)
