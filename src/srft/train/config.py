"""The one schema of a training run, shared by the YAML config file and the `srft train` flags.

Every knob of the trainer is a field here, validated before any model is loaded, so a typo in a
config file fails in a second with the field's name instead of an hour into a run. The resolved
config is written to the run folder (`train.json`), so any run can be reproduced from its folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from srft.messages import describe_validation

AttnImpl = Literal["auto", "flex_attention", "flash_attention_2", "sdpa", "eager"]
LossImpl = Literal["fused", "chunked", "stock"]
Precision = Literal["auto", "bf16", "fp32"]


def _alias(name: str, old: str) -> AliasChoices:
    # The old srft spelling still reads, so configs written before the rename keep working; the
    # docs, `--help` and the saved `train.json` use transformers' name only.
    return AliasChoices(name, old)


# Old srft names of renamed fields -> transformers' names (kept readable, shown nowhere).
DEPRECATED_NAMES = {
    "epochs": "num_train_epochs",
    "lr": "learning_rate",
    "lr_scheduler": "lr_scheduler_type",
    "adam_eps": "adam_epsilon",
    "batch_tokens": "per_device_train_batch_tokens",
    "grad_accum": "gradient_accumulation_steps",
    "activation_checkpointing": "gradient_checkpointing",
    "log_steps": "logging_steps",
}


class TrainConfigError(ValueError):
    """A config file or flag combination that cannot describe a run."""


class TrainConfig(BaseModel):
    """A training run: data, model, method, schedule, fast-path knobs and operations."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), populate_by_name=True)

    # --- what to train on, what to train, where to write -------------------------------------
    data: Path = Field(
        description="Dataset folder from `srft build` (reads `<data>/hf`), or an hf folder."
    )
    output_dir: Path = Field(description="Run folder to create (or resume).")
    model: str | None = Field(None, description="Model path or hub id to start from.")
    model_config_path: Path | None = Field(
        None, description="A transformers config.json: random-initialise this architecture instead."
    )
    tokenizer: str | None = Field(
        None, description="Tokenizer path or id, saved with the final model (default: the model's)."
    )

    # --- method ------------------------------------------------------------------------------
    full: bool = Field(False, description="Full fine-tuning instead of LoRA.")
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha.")
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="LoRA dropout.")
    lora_target_modules: list[str] | str = Field(
        "all-linear", description="PEFT target modules ('all-linear' or a list of module names)."
    )
    load_in_4bit: bool = Field(
        False, description="QLoRA: load the base model in 4 bit (bitsandbytes)."
    )
    merge_lora: bool = Field(False, description="Save the final model with the LoRA merged in.")

    # --- schedule ----------------------------------------------------------------------------
    num_train_epochs: int = Field(
        1,
        ge=1,
        description="Passes over the dataset (unless max_steps stops first).",
        validation_alias=_alias("num_train_epochs", "epochs"),
    )
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps.")
    learning_rate: float = Field(
        1e-4,
        gt=0.0,
        description="Peak learning rate.",
        validation_alias=_alias("learning_rate", "lr"),
    )
    lr_scheduler_type: str = Field(
        "cosine",
        description="transformers scheduler name (cosine, linear, constant_with_warmup, ...).",
        validation_alias=_alias("lr_scheduler_type", "lr_scheduler"),
    )
    warmup_steps: int = Field(0, ge=0, description="Linear warm-up steps.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = Field(1e-8, validation_alias=_alias("adam_epsilon", "adam_eps"))
    max_grad_norm: float | None = Field(
        1.0, description="Clip the global gradient norm (None: no clipping)."
    )
    per_device_train_batch_tokens: int = Field(
        32768,
        ge=1,
        description="Token budget of one micro-batch on each process (one packed row, no "
        "padding): the token-packed counterpart of transformers' per_device_train_batch_size.",
        validation_alias=_alias("per_device_train_batch_tokens", "batch_tokens"),
    )
    gradient_accumulation_steps: int = Field(
        1,
        ge=1,
        description="Micro-batches per optimizer step on each process.",
        validation_alias=_alias("gradient_accumulation_steps", "grad_accum"),
    )
    max_length: int | None = Field(
        None, ge=2, description="Reject (or truncate, see truncate) sequences longer than this."
    )
    truncate: bool = Field(
        False, description="Truncate sequences over max_length instead of failing."
    )
    seed: int = Field(0, description="Seed of initialisation, data order and dropout.")

    # --- fast path ---------------------------------------------------------------------------
    precision: Precision = Field("auto", description="auto: bf16 on GPU, fp32 on CPU.")
    bf16: bool | None = Field(
        None,
        description="transformers' switch: true is `precision: bf16`, false `precision: fp32`.",
    )
    attn_implementation: AttnImpl = Field(
        "auto", description="auto: flex_attention on GPU, sdpa on CPU."
    )
    loss_impl: LossImpl = Field(
        "fused",
        description="fused: chunked CE with gradients in the forward pass; chunked: checkpointed "
        "chunks; stock: the model's full logits (reference).",
    )
    loss_chunk_tokens: int = Field(2048, ge=1, description="Positions per loss chunk.")
    gradient_checkpointing: bool = Field(
        True,
        description="Recompute layer activations in backward (activation checkpointing).",
        validation_alias=_alias("gradient_checkpointing", "activation_checkpointing"),
    )
    checkpoint_every_n_layers: int = Field(
        1, ge=1, description="Checkpoint only every n-th layer (more memory, less recompute)."
    )
    checkpoint_offload: bool = Field(
        False, description="Keep checkpointed activations in pinned host memory."
    )
    compile: bool = Field(False, description="torch.compile each decoder layer.")

    # --- operations --------------------------------------------------------------------------
    save_steps: int | None = Field(None, ge=1, description="Checkpoint every N optimizer steps.")
    save_total_limit: int | None = Field(
        None, ge=1, description="Keep only the newest N checkpoints."
    )
    resume: bool = Field(False, description="Continue from the newest checkpoint in output_dir.")
    logging_steps: int = Field(
        1,
        ge=1,
        description="Print a progress line every N steps.",
        validation_alias=_alias("logging_steps", "log_steps"),
    )
    report_to: list[Literal["tensorboard", "wandb"]] = Field(
        default_factory=list, description="Extra metric sinks besides metrics.jsonl."
    )
    progress: bool = Field(True, description="Show a progress bar.")

    @model_validator(mode="after")
    def _one_model_source(self) -> TrainConfig:
        if self.bf16 is not None:
            wanted = "bf16" if self.bf16 else "fp32"
            if self.precision not in ("auto", wanted):
                raise ValueError(f"bf16: {self.bf16} contradicts precision: {self.precision}")
            self.precision = wanted
        if (self.model is None) == (self.model_config_path is None):
            raise ValueError(
                "give exactly one of `model` (path or id) and `model_config_path` (random init)"
            )
        if self.model_config_path is not None and not self.full:
            raise ValueError(
                "a randomly initialised model must be trained in full (set `full: true`)"
            )
        if self.load_in_4bit and self.full:
            raise ValueError(
                "load_in_4bit (QLoRA) trains a LoRA adapter; it cannot be combined with `full`"
            )
        if self.merge_lora and self.full:
            raise ValueError("merge_lora only applies to LoRA runs")
        return self

    def dump(self) -> dict[str, Any]:
        """The config as plain JSON data (paths as strings)."""
        return self.model_dump(mode="json")


def load_config(path: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """Read a YAML config file (optional) and apply flag overrides (None values are 'not given').

    The file and the flags use the same field names; a flag given on the command line wins.
    """
    values: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as err:
            raise TrainConfigError(f"{path}: cannot read the config file: {err}") from err
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise TrainConfigError(f"{path}: a config file is a mapping of field: value")
        values.update({DEPRECATED_NAMES.get(str(k), str(k)): v for k, v in loaded.items()})
    values.update({DEPRECATED_NAMES.get(k, k): v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig(**values)
    except ValidationError as err:
        where = f"{path}: " if path is not None else ""
        problems = "; ".join(describe_validation(err, TrainConfig))
        raise TrainConfigError(f"{where}{problems}") from err
