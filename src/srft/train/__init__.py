"""Stage 4, fine-tuning on existing engines (transformers, PEFT, accelerate).

Entry points: `srft.train.trainer.train(config) -> run folder`, and `load_model(path)` which
returns (model, tokenizer) from a run folder or any model folder it wrote (full, merged, LoRA).
torch and transformers are imported only when these are called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_model(path: str | Path, **kwargs: Any) -> tuple[Any, Any]:
    """(model, tokenizer) from a run folder, its `model/`, or any model path; see `model.load_model`."""
    from srft.train.model import load_model as _load

    return _load(path, **kwargs)


__all__ = ["load_model"]
