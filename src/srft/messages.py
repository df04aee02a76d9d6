"""Errors in the user's words: did-you-mean suggestions and pydantic errors without pydantic.

Every config schema of srft is a pydantic model, and pydantic's own messages ("Input should be a
valid integer, unable to parse string as an integer") name its internals, not the user's file.
These helpers turn one validation error into `key: 'value' is not a whole number` lines, with
the allowed values and the closest known name when the user misspelt one, so `srft run`,
`srft train --config` and the CLI flags all speak alike.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice to a misspelt `word`, or `''`."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name(kind: str, word: str, choices: Iterable[str]) -> str:
    """`'srtf' is not a known policy (did you mean 'srft'?); choose one of: a, b, c`."""
    names = sorted(choices)
    return (
        f"{word!r} is not a known {kind}{did_you_mean(word, names)}; choose one of: "
        + ", ".join(names)
    )


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model whose field `loc` walks into, or None where it leaves the models."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _sub_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _sub_model(annotation: Any) -> Any:
    """The model class inside `X | None` or `list[X]`, else the annotation itself."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return annotation


def field_names(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts: its field names and their aliases."""
    names: list[str] = []
    for name, field in model.model_fields.items():
        names.append(name)
        if isinstance(field.alias, str):
            names.append(field.alias)
    return names


def format_key(loc: tuple[Any, ...]) -> str:
    """`('policies', 0, 'name')` as the user reads it: `policies[0].name`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe_error(
    err: dict[str, Any], model: type[BaseModel] | None = None, prefix: str = ""
) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) as `key: what is wrong`."""
    loc = tuple(err.get("loc") or ())
    key = prefix + format_key(loc) if loc else (prefix.rstrip(".") or "(top level)")
    value = err.get("input")
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1]) if model is not None and loc else None
        known = [n for n in field_names(parent) if not n.startswith("_")] if parent else []
        hint = did_you_mean(str(loc[-1]), known) if loc else ""
        # The closest name is the answer to a typo; the whole list only when there is none.
        allowed = f"; allowed keys: {', '.join(sorted(set(known)))}" if known and not hint else ""
        return f"{key}: unknown key{hint}{allowed}"
    if kind == "missing":
        return f"{key}: required, but not given"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace(" or ", ", ")
        names = [e.strip().strip("'") for e in expected.split(",")]
        return f"{key}: {value!r} is not allowed{did_you_mean(str(value), names)}; choose one of: {expected}"
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"{key}: {value!r} is not a whole number"
    if kind in {"float_parsing", "float_type"}:
        return f"{key}: {value!r} is not a number"
    if kind in {"bool_parsing", "bool_type"}:
        return f"{key}: {value!r} is not true or false"
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if message.startswith("."):  # a validator's messages about keys below this one
        return "\n".join(f"{key}{line}" for line in message.split("\n"))
    if not loc and not prefix:  # a whole-config rule names its keys itself
        return message
    if message.startswith("Input should be"):
        message = f"{value!r} should be" + message.removeprefix("Input should be")
    return f"{key}: {message}"


def describe_validation(
    error: ValidationError, model: type[BaseModel] | None = None, prefix: str = ""
) -> list[str]:
    """Every error of a `ValidationError`, one line each (see `describe_error`)."""
    return [describe_error(dict(e), model, prefix) for e in error.errors()]
