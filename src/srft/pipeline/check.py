"""Check a whole run config before any stage runs, and say what is wrong in the user's words.

The schema (`config.py`) checks shapes and types; this module checks what the schema cannot:
that the names exist in their registries (policies, critics, formats), that the options of each
named part are its own, that the files the config names exist, that the launcher is on PATH,
and that the student model and tokenizer can be had (offline too). Without it a typo in a
policy name surfaced only after ingest, critic, build and training had run.

Every problem is one line: the config file, the key, the value, what is allowed and the closest
allowed name. All problems are reported at once; the model check, which may have to convert the
bundled model on a first run, runs only when everything else is right.
"""

from __future__ import annotations

import inspect
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from srft.messages import did_you_mean, unknown_name
from srft.pipeline.config import TRUE_LABELS, ConfigError, RunConfig


def check_config(config: RunConfig, where: str = "<config>") -> None:
    """Raise `ConfigError` (one line per problem) unless every stage can start with `config`."""
    problems = [
        *_policies(config),
        *_critic(config),
        *_format(config),
        *_paths(config),
        *_options("build.options", config.build.options, _build_parameters()),
        *_options("evaluate.options", config.evaluate.options, _evaluate_parameters()),
        *_launcher(config),
    ]
    if not problems:
        problems = _models(config)
    if problems:
        raise ConfigError("\n".join(f"{where}: {p}" for p in problems))


def _policies(config: RunConfig) -> list[str]:
    from srft.dataset.policies import PolicyError, make_policy, policy_names

    problems = []
    for i, spec in enumerate(config.policies):
        if spec.name not in policy_names():
            problems.append(
                f"policies[{i}].name: {unknown_name('policy', spec.name, policy_names())}"
            )
            continue
        try:
            make_policy(spec.name, spec.options)
        except PolicyError as e:
            problems.append(f"policies[{i}].options: {e}")
    return problems


def _critic(config: RunConfig) -> list[str]:
    from srft.critic.registry import critic_names, critic_options, get_critic

    name, options = config.critic.name, dict(config.critic.options)
    if name not in critic_names():
        return [f"critic.name: {unknown_name('critic', name, critic_names())}"]
    if name == "file":
        labels_from = options.get("labels_from")
        if labels_from is None:
            return ["critic.options.labels_from: the `file` critic needs it (a verdicts file, or "
                    "`truth` for the environment's true labels)"]  # fmt: skip
        if labels_from == TRUE_LABELS:
            return []
    try:
        get_critic(name, **options)
    except TypeError as e:
        return [f"critic.options: {_unknown_keyword(e, critic_options(name))}"]
    except (ValueError, OSError) as e:
        return [f"critic.options: {e}"]
    return []


def _unknown_keyword(error: TypeError, known: list[str]) -> str:
    text = str(error)
    if "unexpected keyword argument" in text:
        word = text.rsplit("'", 2)[-2] if text.count("'") >= 2 else text
        return f"{word}: unknown option{did_you_mean(word, known)}; allowed: {', '.join(known)}"
    return text


def _parameters(function: Callable[..., Any]) -> list[str]:
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [
        n
        for n, p in inspect.signature(function).parameters.items()
        if p.kind in kinds and n != "self"
    ]


def _build_parameters() -> list[str]:
    from srft.dataset.build import build_dataset

    return _parameters(build_dataset)


def _evaluate_parameters() -> list[str]:
    from srft.evaluate.nll import evaluate_nll

    return _parameters(evaluate_nll)


def _options(key: str, options: dict[str, Any], known: list[str]) -> list[str]:
    return [
        f"{key}.{k}: unknown option{did_you_mean(k, known)}; allowed: {', '.join(known)}"
        for k in options
        if k not in known
    ]


def _format(config: RunConfig) -> list[str]:
    if config.format is None:
        return []
    from srft.corpus.formats import formats

    names = [f.name for f in formats()]
    return (
        []
        if config.format in names
        else [f"format: {unknown_name('format', config.format, names)}"]
    )


def _paths(config: RunConfig) -> list[str]:
    from srft.pipeline.manifest import expand

    problems = []
    for key, patterns in (("inputs", config.inputs), ("labels", config.labels)):
        for i, pattern in enumerate(patterns):
            if not any(p.exists() for p in expand([pattern])):
                problems.append(f"{key}[{i}]: {pattern}: no such file or folder")
    single = {
        "build.chat_template": config.build.chat_template,
        "critic.options.labels_from": config.critic.options.get("labels_from"),
    }
    for key, value in single.items():
        if isinstance(value, str) and value != TRUE_LABELS and not Path(value).exists():
            problems.append(f"{key}: {value}: no such file")
    return problems


def _launcher(config: RunConfig) -> list[str]:
    if config.train.launcher is None:
        return []
    words = shlex.split(config.train.launcher)
    if not words:
        return ["train.launcher: empty; leave it out to train in the `srft run` process"]
    if words[0] in ("python", "python3") or shutil.which(words[0]):
        return []
    return [
        f"train.launcher: {words[0]!r} is not on PATH (install it, e.g. `pip install accelerate`)"
    ]


def _models(config: RunConfig) -> list[str]:
    from srft.models import ModelNotFound, resolve_model

    problems = []
    checks = [("train.model", config.train.model, "model")]
    if config.build.tokenizer is not None:
        checks.append(("build.tokenizer", config.build.tokenizer, "tokenizer"))
    for key, name, need in checks:
        try:
            resolve_model(name, need)  # type: ignore[arg-type]
        except ModelNotFound as e:
            problems.append(f"{key}: {e}")
    return problems
