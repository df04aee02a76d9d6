"""The run config: everything `srft run CONFIG.yaml` needs, in one validated schema.

One YAML file names the trajectories, the critic, the list of policies to compare, and the
builder, trainer and evaluation settings. The schema is strict (unknown keys are errors, so a
typo never silently falls back to a default) and every field is documented here: the config
reference (`docs/config-reference.md`) is generated from these docstrings and descriptions by
`scripts/gen_config_reference.py`.

Relative paths in the file are resolved against the folder holding the file, so a config and its
data can move together. The model name `smollm2` stands for the offline SmolLM2-135M-Instruct
that ships with srft (`srft.smollm2.smollm2_dir()`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from srft.messages import describe_validation
from srft.models import SMOLLM2_ALIAS, Need

# `critic: {name: file, options: {labels_from: toy}}` imports the toy testbed's true labels.
TOY_LABELS = "toy"
RUN_FORMAT = "srft.run"
RUN_VERSION = 1

# Trainer fields that `srft run` fills in itself (per policy, from the other sections).
TRAIN_FIELDS_SET_BY_RUN = frozenset({"data", "output_dir", "model", "tokenizer", "resume"})

_POLICY_ROW = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConfigError(ValueError):
    """A run config that cannot be used; the message names the file, the field and the reason."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RolloutSettings(_Section):
    """Roll each student (and the base model) out in the toy environment on fresh episodes, the
    same episodes for all: the closed loop's success rates (`srft toy eval`), in the report."""

    episodes: int = Field(
        0, ge=0, description="Fresh episodes per model; 0 turns the rollouts off."
    )
    temperatures: list[float] = Field(
        default_factory=lambda: [0.0],
        description="Decoding temperatures, one rollout of every episode each; 0 is greedy.",
    )
    step_limit: int = Field(8, ge=1, description="Turns per episode before it is cut off.")
    max_new_tokens: int = Field(64, ge=8, description="Longest reply per turn, in tokens.")
    seed: int = Field(
        9_999, description="Seed of the fresh episodes (and of sampling); not the generator's."
    )

    @field_validator("temperatures")
    @classmethod
    def _temperatures(cls, value: list[float]) -> list[float]:
        if not value or any(t < 0 for t in value):
            raise ValueError("give at least one temperature, each >= 0")
        return value


class ToySettings(_Section):
    """Generate the trajectories with the toy testbed (`srft toy generate`) instead of reading
    `inputs`: a closed loop whose outcomes and true step labels are known. Used by the demo."""

    episodes: int = Field(24, ge=2, description="How many toy episodes (trajectories) to generate.")
    seed: int = Field(0, description="Generator seed: the same seed gives the same trajectories.")
    levels: list[int] | None = Field(
        None, description="Difficulty levels to draw episodes from (default: all of them)."
    )
    teacher: str | dict[str, float] = Field(
        "default",
        description=(
            "The scripted teacher's noise: a preset name (`default`, `sloppy`) or its rates "
            "(`typo`, `unnecessary`, `first_hit`, `wrong_value`, `premature_submit`, `recover`)."
        ),
    )
    rollout: RolloutSettings = Field(
        default_factory=RolloutSettings,
        description="The closed loop: roll the models out in the toy environment. See "
        "`toy.rollout` below.",
    )


class CriticSettings(_Section):
    """Which critic labels the steps (`srft critic`)."""

    name: str = Field(
        "rules",
        description=(
            "Critic name from the critic registry: `rules` (offline, no model), `file` (import "
            "labels made elsewhere: `options.labels_from`), or `llm` (any OpenAI-compatible "
            "endpoint)."
        ),
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "The critic's settings. `llm`: `model`, `base_urls`, `api_key_env` (the NAME of the "
            "environment variable holding the key, never the key), `mode`, `concurrency`, "
            "`max_tokens`, ...; `file`: `labels_from` (a verdicts file, or `toy` for the toy "
            "testbed's true labels). See docs/critic.md."
        ),
    )
    on_partial_failure: Literal["continue", "stop"] = Field(
        "continue",
        description=(
            "When some trajectories got no verdict (`srft critic` exit status 3): `continue` "
            "(the policies' `on_failed` decides about them; the run log names the reasons) or "
            "`stop` (rerun to retry only the failed ones). A critic that judged nothing always "
            "stops the run."
        ),
    )

    @field_validator("options")
    @classmethod
    def _no_literal_secrets(cls, options: dict[str, Any]) -> dict[str, Any]:
        # Config files get committed and hashed into the manifest; keys belong in env vars.
        for key in options:
            if key.lower() in {"api_key", "apikey", "key", "token", "password", "secret"}:
                raise ValueError(
                    f"critic.options.{key}: put secrets in an environment variable and name it "
                    "with `api_key_env` instead"
                )
        return options


class PolicySpec(_Section):
    """One row of the comparison: a masking policy (and its options) that gets its own student."""

    name: str = Field(
        description="Policy from the policy registry: sft, rft, srft, srft-resolved-only, srft-unresolved-only, rule-mask."
    )
    row: str | None = Field(
        None,
        description=(
            "Name of this row in the comparison and of its folders (default: the policy name); "
            "set it to compare one policy under two option sets."
        ),
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Policy options, e.g. `{mask_unnecessary: true}` for srft. See docs/dataset.md.",
    )
    labels: Literal["critic", "truth"] = Field(
        "critic",
        description=(
            "Whose step labels the policy reads: the critic's, or (toy runs only) the toy "
            "testbed's true labels, so a row built from the truth shows what a perfect critic "
            "would give beside the row built from the real one."
        ),
    )

    @property
    def key(self) -> str:
        """The row name: folder name and table row."""
        return self.row or self.name

    @model_validator(mode="after")
    def _row_is_a_folder_name(self) -> PolicySpec:
        if not _POLICY_ROW.match(self.key) or self.key in {"heldout", "base"}:
            raise ValueError(
                f"policy row {self.key!r} must be a plain folder name (letters, digits, . _ -) "
                "and not `heldout` or `base`"
            )
        return self


class BuildSettings(_Section):
    """How the masked training datasets are built (`srft build`), the same for every policy."""

    tokenizer: str | None = Field(
        None, description="Tokenizer path or id; default: the student model of `train.model`."
    )
    max_length: int = Field(4096, ge=16, description="Longest sequence in tokens.")
    overlong: Literal["error", "skip", "truncate"] = Field(
        "skip",
        description=(
            "What to do with a trajectory longer than `max_length`: `skip` it (counted in the "
            "build summary), `truncate` it, or stop with an `error`."
        ),
    )
    chat_template: str | None = Field(
        None, description="A Jinja chat template file that replaces the tokenizer's own."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Further keyword arguments of the dataset builder."
    )


class TrainSettings(_Section):
    """How each student is trained (`srft train`), the same for every policy."""

    model: str = Field(
        description="The student: a local model folder or hub id; `smollm2` for the bundled model."
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Trainer settings: any field of the `srft train` config, spelt as its flags "
            "(`max_steps`, `learning_rate`, `num_train_epochs`, `per_device_train_batch_tokens`, "
            "`gradient_accumulation_steps`, `lora_r`, `full`, `merge_lora`, `save_steps`, `seed`, "
            "`bf16`, ...; see docs/training.md) except the ones the pipeline sets: "
            + ", ".join(f"`{k}`" for k in sorted(TRAIN_FIELDS_SET_BY_RUN))
            + "."
        ),
    )

    launcher: str | None = Field(
        None,
        description=(
            "Run each training under this launcher as a subprocess, e.g. `accelerate launch "
            "--config_file zero3.yaml --num_processes 8` or `torchrun --nproc_per_node 8` "
            "(srft appends `-m srft.cli train --config FILE`). Default: in the `srft run` process."
        ),
    )

    @model_validator(mode="after")
    def _valid_trainer_options(self) -> TrainSettings:
        # Checked against the trainer's own schema now, so a typo fails before any stage runs.
        reserved = sorted(TRAIN_FIELDS_SET_BY_RUN & set(self.options))
        if reserved:
            raise ValueError(f".options.{reserved[0]}: set by `srft run` per policy; remove it")
        from srft.train.config import TrainConfig

        try:
            TrainConfig(data=Path("."), output_dir=Path("."), model=self.model, **self.options)
        except ValidationError as e:
            # The leading dot tells `describe_error` the message names a key below `train`.
            problems = describe_validation(e, TrainConfig, prefix="options.")
            raise ValueError("\n".join(f".{p}" for p in problems)) from None
        return self


class EvaluateSettings(_Section):
    """Held-out evaluation: negative log-likelihood per step label for each student and the base."""

    enabled: bool = Field(True, description="Run the evaluation stage.")
    heldout_fraction: float = Field(
        0.2,
        gt=0,
        lt=1,
        description=(
            "Share of task instances held out of training. The split is by instance id (all "
            "trajectories of one task fall on the same side) and deterministic."
        ),
    )
    seed: int = Field(0, description="Seed of the held-out split.")
    base_model: bool = Field(
        True, description="Also evaluate the untrained student, as a baseline."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Further keyword arguments of the evaluator."
    )


class HandoffSettings(_Section):
    """The agent-evaluation hand-off of every student (`srft evaluate handoff`): a servable model
    folder (a LoRA adapter merged into its base) and the commands that serve it with vLLM, run
    mini-swe-agent on SWE-bench with it and score the patches with the harness. srft writes
    them; running them needs a GPU server, Docker and hours."""

    enabled: bool = Field(False, description="Write `handoff/<row>/` for every student.")
    subset: Literal["verified", "lite", "full"] = Field(
        "verified", description="The SWE-bench subset the commands run."
    )
    split: str = Field("test", description="The subset's split.")
    workers: int = Field(8, ge=1, description="Parallel agent workers in the agent command.")
    port: int = Field(8000, ge=1, le=65535, description="The vLLM server's port.")
    max_model_len: int = Field(32768, ge=1024, description="vLLM's context length.")
    merge: bool = Field(
        True,
        description="Merge a LoRA adapter into its base (vLLM serves plain checkpoints most "
        "simply); false names the adapter folder as it is.",
    )
    tool_call_parser: str | None = Field(
        None,
        description="vLLM's tool-call parser (e.g. `hermes`) for students trained on tool calls; "
        "mini-swe-agent's text actions need none.",
    )


class ReportSettings(_Section):
    """The static HTML report (`srft report`)."""

    enabled: bool = Field(True, description="Write `report.html`.")
    title: str | None = Field(None, description="Title of the report; default: the config's name.")


class RunConfig(_Section):
    """A whole `srft run`: trajectories in, one student per policy, a comparison and a report out."""

    name: str | None = Field(None, description="A short name for the run, shown in the report.")
    run_dir: str = Field(
        "runs/srft",
        description=(
            "The run folder that receives every stage's output and `manifest.json`; relative "
            "to the config file."
        ),
    )
    inputs: list[str] = Field(
        default_factory=list,
        description="Trajectory files, folders or globs, in any format `srft ingest` reads.",
    )
    labels: list[str] = Field(
        default_factory=list,
        description="Outcome label files (SWE-bench reports, run summaries, CSV/JSONL).",
    )
    format: str | None = Field(None, description="Force one input format instead of detecting it.")
    skip_invalid: bool = Field(
        True,
        description=(
            "Ingest: set aside records that cannot be read (each with its file, record and "
            "reason, in `corpus.rejects.jsonl`; the count is printed) instead of stopping."
        ),
    )
    toy: ToySettings | None = Field(
        None, description="Generate toy trajectories instead of reading `inputs` (the demo)."
    )
    critic: CriticSettings = Field(default_factory=CriticSettings)
    policies: list[PolicySpec] = Field(
        default_factory=lambda: [PolicySpec(name="srft")],
        description=(
            "The policies to compare, one student each. A plain name (`- sft`) or "
            "`{name, row, options}`."
        ),
    )
    build: BuildSettings = Field(default_factory=BuildSettings)
    train: TrainSettings
    evaluate: EvaluateSettings = Field(default_factory=EvaluateSettings)
    handoff: HandoffSettings = Field(default_factory=HandoffSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)

    @field_validator("policies", mode="before")
    @classmethod
    def _plain_policy_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        if not self.policies:
            raise ValueError("policies: give at least one policy")
        rows = [p.key for p in self.policies]
        duplicates = sorted({r for r in rows if rows.count(r) > 1})
        if duplicates:
            raise ValueError(
                f"policies: row {duplicates[0]!r} appears twice; give one of them a distinct `row`"
            )
        if not self.inputs and self.toy is None:
            raise ValueError("inputs: name at least one trajectory file or folder (or set `toy`)")
        if self.inputs and self.toy is not None:
            raise ValueError("give either `inputs` or `toy`, not both")
        if self.critic.options.get("labels_from") == TOY_LABELS and self.toy is None:
            raise ValueError("critic.options.labels_from: `toy` needs a `toy` section")
        truth = [p.key for p in self.policies if p.labels == "truth"]
        if truth and self.toy is None:
            raise ValueError(
                f"policies: row {truth[0]!r} reads `labels: truth`, which only a toy run has "
                "(set a `toy` section or use the critic's labels)"
            )
        return self

    # -- paths ----------------------------------------------------------------------------------

    def resolved(self, base: Path) -> RunConfig:
        """A copy whose relative paths are made absolute against `base` (the config's folder)."""

        def path(p: str) -> str:
            return str((base / Path(p).expanduser()).resolve())

        def model(p: str | None) -> str | None:
            if p is None or p == SMOLLM2_ALIAS or _looks_like_hub_id(p, base):
                return p
            return path(p)

        data = self.model_copy(deep=True)
        data.run_dir = path(data.run_dir)
        data.inputs = [path(p) for p in data.inputs]
        data.labels = [path(p) for p in data.labels]
        data.build.tokenizer = model(data.build.tokenizer)
        if data.build.chat_template is not None:
            data.build.chat_template = path(data.build.chat_template)
        data.train.model = model(data.train.model) or data.train.model
        labels_from = data.critic.options.get("labels_from")
        if isinstance(labels_from, str) and labels_from != TOY_LABELS:
            data.critic.options["labels_from"] = path(labels_from)
        return data

    @property
    def tokenizer(self) -> str:
        """The builder's tokenizer: `build.tokenizer`, else the student model."""
        return self.build.tokenizer or self.train.model


def _looks_like_hub_id(p: str, base: Path) -> bool:
    """`org/name` that is not a local path: left as is so transformers resolves it."""
    return (
        re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", p) is not None
        and not (base / p).exists()
        and not Path(p).exists()
    )


def resolve_model(name: str, need: Need = "model") -> str:
    """A model reference as transformers takes it (see `srft.models.resolve_model`): `smollm2`
    becomes the bundled model's folder, a cached hub id its snapshot folder."""
    from srft.models import resolve_model as resolve

    return resolve(name, need)


def parse_config(data: Any, *, where: str = "<config>", base: Path | None = None) -> RunConfig:
    """Validate a config mapping; errors name `where`, the field and the reason."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: a run config must be a YAML mapping, got {type(data).__name__}"
        )
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as e:
        problems = [line for p in describe_validation(e, RunConfig) for line in p.split("\n")]
        raise ConfigError("\n".join(f"{where}: {p}" for p in problems)) from None
    return config.resolved(base) if base is not None else config


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run config; relative paths resolve against its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config: {e.strerror}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    return parse_config(data, where=str(path), base=path.resolve().parent)
