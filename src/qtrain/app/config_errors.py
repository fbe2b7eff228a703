"""How a config mistake is named: the key's path as the user wrote it, and what is allowed.

Pydantic locates an error by a tuple such as ``("backend", "local", "noise", "after", 1,
"channel")``: field names, list indices, and the tags it adds for each member of a union
(``"local"``, ``"constrained-int"``). :func:`describe` turns that into
``backend.noise.after[1].channel: <message>``, dropping the tags, and a validator that wants
to blame a key below its own level raises :class:`KeyedError`. Every config section is a
:class:`StrictModel`: unknown keys are errors, and a parsed config is immutable.
:func:`read_yaml` and :func:`validate_model` turn a file into a model or one ``ConfigError``
naming the file (an empty one: ``config.yaml is empty: expected a mapping of sections``).
"""

from __future__ import annotations

import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from qtrain.errors import ConfigError

__all__ = [
    "KeyedError",
    "StrictModel",
    "describe",
    "location",
    "read_yaml",
    "relative_to_config",
    "validate_model",
]


class StrictModel(BaseModel):
    """A config section: an unknown key is an error, and the parsed value is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyedError(ValueError):
    """A validator's error that names the key it is about, relative to the validated model.

    >>> str(KeyedError("method", "needs shots")), KeyedError("method", "x").key
    ('needs shots', 'method')
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _members(annotation: Any) -> tuple[Any, ...]:
    """The alternatives of a (possibly ``Annotated``) union, each unwrapped; else itself."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(m for arg in typing.get_args(annotation) for m in _members(arg))
    return (annotation,)


def _model_with(annotation: Any, name: str) -> type[BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            if name in member.model_fields:
                return member
    return None


def _inner(annotation: Any, container: tuple[type, ...]) -> Any:
    """The item (list) or value (dict) type of ``annotation``'s container member, if any."""
    for member in _members(annotation):
        if typing.get_origin(member) in container:
            return typing.get_args(member)[-1]
    return None


def _tagged(annotation: Any, tag: str) -> Any:
    """The union member pydantic's ``tag`` names (a discriminator value, or a type's name)."""
    for member in _members(annotation):
        if getattr(member, "__name__", None) == tag:
            return member
        if isinstance(member, type) and issubclass(member, BaseModel):
            for field in member.model_fields.values():
                if typing.get_origin(field.annotation) is typing.Literal:
                    if tag in typing.get_args(field.annotation):
                        return member
        origin = typing.get_origin(member)
        if origin is not None and tag.startswith(getattr(origin, "__name__", "?")):
            return member
    return annotation


def _walk(loc: tuple[Any, ...], root: type[BaseModel]) -> tuple[str, Any]:
    """``(path text, annotation reached)`` for a pydantic ``loc``; union tags are dropped."""
    text, current = "", cast(Any, root)
    for part in loc:
        if isinstance(part, int):
            text, current = f"{text}[{part}]", _inner(current, (list, tuple))
            continue
        model = _model_with(current, str(part))
        if model is not None:
            current = model.model_fields[str(part)].annotation
        elif _inner(current, (dict,)) is not None:
            current = _inner(current, (dict,))
        elif len([m for m in _members(current) if m is not type(None)]) > 1:
            current = _tagged(current, str(part))  # a union tag: not a key the user wrote
            continue
        else:
            current = None
        text = f"{text}.{part}" if text else str(part)
    return text, current


def location(loc: tuple[Any, ...], root: type[BaseModel]) -> str:
    """``backend.noise.after[1].channel`` for pydantic's loc of that key (``config`` if none).

    >>> from qtrain.app.config import RunConfig
    >>> location(("backend", "local", "noise", "after", 1, "channel"), RunConfig)
    'backend.noise.after[1].channel'
    """
    return _walk(loc, root)[0] or "config"


def _allowed_keys(loc: tuple[Any, ...], root: type[BaseModel]) -> str | None:
    """For an unknown key, the keys its section allows."""
    _, current = _walk(loc[:-1], root)
    models = [m for m in _members(current) if isinstance(m, type) and issubclass(m, BaseModel)]
    return ", ".join(models[0].model_fields) if len(models) == 1 else None


def describe(error: dict[str, Any], root: type[BaseModel]) -> str:
    """One line for one pydantic error: the key's path, the message, the bad input."""
    loc = tuple(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, KeyedError):
        loc = loc + tuple(cause.key.split("."))
    where = location(loc, root)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc, root)
        return f"{where}: unknown key" + (f" (allowed: {allowed})" if allowed else "")
    if "input" in error and error["type"] not in ("missing", "value_error"):
        return f"{where}: {message} (got {error['input']!r})"
    return f"{where}: {message}"


def relative_to_config(path: str | None, info: Any) -> str | None:
    """``path`` made absolute against the config file's folder (``info.context["base"]``).

    A field validator's helper: files a config names (calibrations, QASM circuits) are found
    where the config is, whatever the working directory.
    """
    if path is None:
        return None
    base = (getattr(info, "context", None) or {}).get("base") or Path()
    return os.path.abspath(Path(base) / Path(path).expanduser())


Model = TypeVar("Model", bound=BaseModel)


def validate_model(
    model: type[Model], data: Any, *, source: str, what: str, base: Path | None = None
) -> Model:
    """Validate ``data`` as ``model``; relative file paths in it are relative to ``base``.

    Raises:
        ConfigError: every problem found, one per line, each naming its key.
    """
    if data is None:  # an empty file, or comments only
        raise ConfigError(f"{source} is empty: expected a mapping of sections")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
    try:
        return model.model_validate(data, context={"base": base})
    except ValidationError as error:
        lines = ["  " + describe(dict(item), model) for item in error.errors()]
        raise ConfigError(f"{source} is not a valid {what}:\n" + "\n".join(lines)) from None


def read_yaml(path: Path) -> Any:
    """The YAML document at ``path``.

    Raises:
        ConfigError: the file is missing or not YAML.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read config {path}: not a UTF-8 text file") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
