"""The run config: everything `srft run CONFIG.yaml` needs, in one validated schema.

One YAML file names the trajectories, the critic, the list of policies to compare, and the
builder, trainer and evaluation settings. The schema is strict (unknown keys are errors, so a
typo never silently falls back to a default) and every field is documented here: the config
reference (`docs/config-reference.md`) is generated from these docstrings and descriptions by
`scripts/gen_docs.py`.

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

from srft.evaluate.environment import (
    ENVIRONMENTS,
    Environment,
    EnvironmentUnavailable,
    RolloutSettings,
    generates_trajectories,
    get_environment,
    has_true_labels,
)
from srft.messages import describe_validation, unknown_name
from srft.models import SMOLLM2_ALIAS, Need

# `critic: {name: file, options: {labels_from: truth}}` imports the environment's true labels.
TRUE_LABELS = "truth"

# Trainer fields that `srft run` fills in itself (per policy, from the other sections).
TRAIN_FIELDS_SET_BY_RUN = frozenset({"data", "output_dir", "model", "tokenizer", "resume"})

_POLICY_ROW = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConfigError(ValueError):
    """A run config that cannot be used; the message names the file, the field and the reason."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnvironmentSpec(_Section):
    """The environment plug-in of the run (`srft.evaluate.environment`; the toy testbed is
    `toy`, see docs/toy.md). One that generates trajectories replaces `inputs`: it writes the
    trajectories, their outcomes and the true label of every step, so the run also scores its
    critic. With `rollout.episodes` > 0 every student (and the base model) is rolled out in it,
    and the report shows the closed loop's success rates."""

    name: str = Field(description="The environment's name in the `srft.environments` registry.")
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="The environment's own settings (the toy's: docs/toy.md); checked against "
        "its schema when the config is read.",
    )
    rollout: RolloutSettings = Field(
        default_factory=RolloutSettings,
        description="The closed loop: roll the models out in the environment. See "
        "`environment.rollout` below.",
    )

    @field_validator("name")
    @classmethod
    def _installed(cls, name: str) -> str:
        if name not in ENVIRONMENTS.names():
            raise ValueError(unknown_name("environment", name, ENVIRONMENTS.names()))
        try:
            get_environment(name)
        except EnvironmentUnavailable as e:
            raise ValueError(str(e)) from None
        return name

    @model_validator(mode="after")
    def _valid_settings(self) -> EnvironmentSpec:
        # Checked against the plug-in's schema now, and kept with its defaults filled in, so the
        # manifest and the input hashes see every setting the environment will use.
        self.settings = self.parsed_settings().model_dump(mode="json")
        return self

    def plugin(self) -> Environment:
        """The environment object (installed: the name was checked when the config was read)."""
        return get_environment(self.name)

    def parsed_settings(self) -> BaseModel:
        """`settings` as the environment's own settings model."""
        model = self.plugin().settings_model
        try:
            return model.model_validate(self.settings)
        except ValidationError as e:
            problems = describe_validation(e, model, prefix="settings.")
            raise ValueError("\n".join(f".{p}" for p in problems)) from None


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
            "`max_tokens`, ...; `file`: `labels_from` (a verdicts file, or `truth` for the "
            "true labels of the run's `environment`). See docs/critic.md."
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
            "Whose step labels the policy reads: the critic's, or the true labels of the run's "
            "`environment` (the toy testbed knows them), so a row built from the truth shows "
            "what a perfect critic would give beside the row built from the real one."
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
    environment: EnvironmentSpec | None = Field(
        None,
        description=(
            "An environment plug-in that generates the trajectories instead of `inputs` (the "
            "demo's `toy`) and/or rolls the students out. The old `toy: {...}` section is read "
            "as `environment: {name: toy, settings: {...}}`."
        ),
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

    @model_validator(mode="before")
    @classmethod
    def _old_toy_section(cls, data: Any) -> Any:
        """Configs written before environments were plug-ins (the demo's `demo.yaml` a user kept)
        had a `toy:` section and `labels_from: toy`; they read as the `toy` environment."""
        if not isinstance(data, dict) or "toy" not in data:
            return data
        if "environment" in data:
            raise ValueError(
                "give `environment` only: `toy` is its old spelling (environment: {name: toy})"
            )
        data = dict(data)
        toy = data.pop("toy")
        if isinstance(toy, dict):
            settings = {k: v for k, v in toy.items() if k != "rollout"}
            rollout = {"rollout": toy["rollout"]} if "rollout" in toy else {}
            data["environment"] = {"name": "toy", "settings": settings, **rollout}
        elif toy is not None:
            data["environment"] = toy  # let the schema say what is wrong with it
        critic = data.get("critic")
        options = critic.get("options") if isinstance(critic, dict) else None
        if isinstance(options, dict) and options.get("labels_from") == "toy":
            data["critic"] = {**critic, "options": {**options, "labels_from": TRUE_LABELS}}  # type: ignore[dict-item]
        return data

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
        for problem in (self._source_problem(), self._truth_problem()):
            if problem is not None:
                raise ValueError(problem)
        return self

    def _source_problem(self) -> str | None:
        """Trajectories come from `inputs` or from the environment, never both or neither."""
        env = self.environment.plugin() if self.environment is not None else None
        generates = env is not None and generates_trajectories(env)
        if not self.inputs and not generates:
            return (
                "inputs: name at least one trajectory file or folder (or an `environment` that "
                "generates them, such as `toy`)"
            )
        if self.inputs and generates:
            return (
                f"give either `inputs` or the environment {env.name!r} that generates "  # type: ignore[union-attr]
                "trajectories, not both"
            )
        return None

    def _truth_problem(self) -> str | None:
        """The true labels are there only when the environment generated the trajectories."""
        if self.has_true_labels:
            return None
        if self.critic.options.get("labels_from") == TRUE_LABELS:
            return (
                "critic.options.labels_from: `truth` needs an `environment` that generates the "
                "trajectories with their true labels (such as `toy`)"
            )
        truth = [p.key for p in self.policies if p.labels == "truth"]
        if truth:
            return (
                f"policies: row {truth[0]!r} reads `labels: truth`, which only a run whose "
                "environment generates the true labels has (name one in `environment`, such as "
                "`toy`, or use the critic's labels)"
            )
        return None

    @property
    def has_true_labels(self) -> bool:
        """Whether the run's environment generates its trajectories with true step labels."""
        return self.environment is not None and has_true_labels(self.environment.plugin())

    def recorded(self) -> dict[str, Any]:
        """The config as `manifest.json` records it.

        `environment` took the place of the `toy` section, and a run without an environment
        records `"toy": null` there as before: the manifest of such a run (every real one) stays
        byte-identical across the change.
        """
        data = self.model_dump(mode="json")
        if self.environment is not None:
            return data
        return {("toy" if key == "environment" else key): value for key, value in data.items()}

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
        if isinstance(labels_from, str) and labels_from != TRUE_LABELS:
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
