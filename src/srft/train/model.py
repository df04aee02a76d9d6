"""Building the model to train, saving the final one, and loading any of them back.

A run starts from a checkpoint (path or hub id) or from a bare config (random initialisation, for
the toy testbed and the benchmarks), trains either the full weights or a PEFT LoRA adapter, and
ends with a `model/` folder that transformers and vLLM load: a full model, a merged LoRA model,
or a LoRA adapter. `load_model` takes any of these (or a run folder) and returns the model and
its tokenizer, so the evaluate stage never needs to know how a run was trained.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from srft.files.train_run import is_train_run
from srft.models import resolve_model
from srft.train.config import TrainConfig

log = logging.getLogger(__name__)


def resolve_precision(config: TrainConfig) -> torch.dtype:
    """bf16 on a GPU that supports it, fp32 otherwise (CPU bf16 is slow and inexact)."""
    if config.precision == "bf16":
        return torch.bfloat16
    if config.precision == "fp32":
        return torch.float32
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def resolve_attention(config: TrainConfig) -> str:
    """On GPU: flash-attention's varlen kernel when installed, else flex_attention (block-sparse
    packed masks, 2.5x SDPA on a packed row); SDPA on CPU. All read restarting position_ids."""
    import importlib.util

    if config.attn_implementation != "auto":
        return config.attn_implementation
    if not torch.cuda.is_available():
        return "sdpa"
    return "flash_attention_2" if importlib.util.find_spec("flash_attn") else "flex_attention"


def decoder_layers(model: nn.Module) -> nn.ModuleList | None:
    """The repeated transformer blocks of a causal LM (PEFT-wrapped or not), if it has them."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
    return getattr(decoder, "layers", None)


def enable_checkpointing(model: nn.Module, every_n_layers: int, offload: bool) -> None:
    """transformers' own activation checkpointing: every n-th layer, optionally to host memory.

    Selective and offloaded checkpointing arrived in transformers 5.23
    (`activation_checkpointing_enable`); before it, `gradient_checkpointing_enable` checkpoints
    every layer and nothing else, so only that configuration runs there (the GPU image this
    project is benchmarked on has 5.17).
    """
    import transformers

    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(
            activation_checkpointing_kwargs=kwargs, every_n_layers=every_n_layers, offload=offload
        )
        return
    if every_n_layers != 1 or offload:
        raise ValueError(
            f"checkpoint_every_n_layers={every_n_layers} and checkpoint_offload={offload} need "
            f"transformers >= 5.23 (installed: {transformers.__version__}); with this version "
            "only checkpointing every layer (checkpoint_every_n_layers=1, no offload) works"
        )
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def build_model(config: TrainConfig) -> nn.Module:
    """The model a run trains, with LoRA, activation checkpointing and compilation applied."""
    from transformers import AutoConfig, AutoModelForCausalLM

    dtype = resolve_precision(config)
    attn = resolve_attention(config)
    if config.model_config_path is not None:
        model_cfg = AutoConfig.from_pretrained(config.model_config_path)
        model = AutoModelForCausalLM.from_config(model_cfg, dtype=dtype, attn_implementation=attn)
    else:
        kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": attn}
        if config.load_in_4bit:
            kwargs["quantization_config"] = _four_bit(dtype)
        model = AutoModelForCausalLM.from_pretrained(resolve_model(config.model), **kwargs)
    model.config.use_cache = False
    if config.gradient_checkpointing:
        enable_checkpointing(model, config.checkpoint_every_n_layers, config.checkpoint_offload)
    if not config.full:
        model = _add_lora(model, config)
    if config.compile:
        layers = decoder_layers(model)
        if layers is None:
            raise ValueError("compile: this model has no decoder layers to compile")
        for layer in layers:
            # Per layer, not the whole model: packed rows change length every step, and one
            # small dynamic graph recompiles far less than the whole model would.
            layer.compile(dynamic=True)
    return model


def _four_bit(dtype: torch.dtype) -> Any:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "load_in_4bit (QLoRA) needs bitsandbytes: pip install bitsandbytes"
        ) from err
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
    )


def _add_lora(model: nn.Module, config: TrainConfig) -> nn.Module:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if config.load_in_4bit:
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing
        )
    if config.gradient_checkpointing:
        # With frozen embeddings, no input of the first checkpointed block requires grad, and
        # non-reentrant checkpointing would then skip the LoRA weights' gradients.
        model.enable_input_require_grads()
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def load_tokenizer(config: TrainConfig) -> Any | None:
    """The tokenizer to save with the model: the configured one, else the model's own if any."""
    from transformers import AutoTokenizer

    source = config.tokenizer or config.model
    if source is None:
        return None
    # A tokenizer the user named must load; the model's own is optional (a config-only folder).
    source = resolve_model(source, "tokenizer" if config.tokenizer is not None else "model")
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as err:
        if config.tokenizer is not None:
            raise ValueError(f"tokenizer {config.tokenizer}: cannot load it: {err}") from err
        log.warning("no tokenizer found at %s; the model folder will have none", source)
        return None


def save_final_model(
    model: nn.Module,
    config: TrainConfig,
    target: Path,
    tokenizer: Any | None,
    state_dict: dict[str, torch.Tensor] | None = None,
) -> str:
    """Write `model/`: full weights, a merged LoRA model, or a LoRA adapter. Returns which."""
    target.mkdir(parents=True, exist_ok=True)
    if config.full:
        model.save_pretrained(target, state_dict=state_dict, safe_serialization=True)
        kind = "full"
    elif config.merge_lora:
        merged = model.merge_and_unload()
        merged.save_pretrained(target, safe_serialization=True)
        kind = "merged"
    else:
        model.save_pretrained(target, state_dict=state_dict, safe_serialization=True)
        kind = "lora"
    if tokenizer is not None:
        tokenizer.save_pretrained(target)
    return kind


def _model_folder(path: Path) -> Path:
    return path / "model" if is_train_run(path) else path


def load_model(
    path: str | Path, dtype: torch.dtype | None = None, **kwargs: Any
) -> tuple[nn.Module, Any | None]:
    """Load (model, tokenizer) from a run folder, a model folder (full, merged or LoRA) or an id.

    A LoRA adapter folder is loaded onto its base model (`base_model_name_or_path` in its
    `adapter_config.json`). The tokenizer is the one saved beside the model, else the base
    model's; None when neither has one. Extra keyword arguments go to `from_pretrained`.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = _model_folder(Path(path))
    if dtype is not None:
        kwargs["dtype"] = dtype
    adapter_cfg = folder / "adapter_config.json"
    tokenizer_sources: list[str] = [str(folder)]
    if adapter_cfg.exists():
        from peft import PeftModel

        base_path = json.loads(adapter_cfg.read_text()).get("base_model_name_or_path")
        if not base_path:
            raise ValueError(f"{adapter_cfg}: no base_model_name_or_path, cannot load the adapter")
        base_path = resolve_model(base_path)
        base = AutoModelForCausalLM.from_pretrained(base_path, **kwargs)
        model = PeftModel.from_pretrained(base, str(folder))
        tokenizer_sources.append(base_path)
    else:
        model = AutoModelForCausalLM.from_pretrained(
            str(folder) if folder.exists() else resolve_model(str(path)), **kwargs
        )
    tokenizer = None
    for source in tokenizer_sources:
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            break
        except (OSError, ValueError):
            continue
    return model, tokenizer
