"""Strict construction of typed dataclass configs from YAML mappings.

Every component owns a dataclass with defaults in code; ``pipeline.yaml`` only overrides. This module turns a
parsed YAML mapping into those dataclasses and refuses, before any work starts, anything it does not
understand: an unknown key, a value of the wrong type, or a value a ``__post_init__`` rejects. Each error is
one line that names the file and the dotted key, because a typo in a config should never cost a run.

Generic machinery only: it imports nothing of this project, so every package but ``sandbox`` (which imports
nothing of ours at all) may use it.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

__all__ = ["ConfigError", "apply_override", "build", "config_hash", "to_dict"]


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message is one line naming the file and key."""


def build(cls: type, data: Any, *, source: str, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a YAML mapping, strictly.

    Args:
        cls (`type`): the dataclass to build.
        data (`Any`): the parsed YAML value for this section (``None`` means "all defaults").
        source (`str`): the file (or "override") the data came from, named in errors.
        prefix (`str`, *optional*, defaults to `""`): dotted path of this section, named in errors.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class C:
        ...     workers: int = 1
        >>> build(C, {"workers": 2}, source="pipeline.yaml").workers
        2
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: '{prefix.rstrip('.') or '<root>'}' must be a mapping, got {_kind(data)}"
        )
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(f"{source}: unknown key '{prefix}{key}'{_suggest(str(key), fields)}")
    kwargs = {name: _convert(hints[name], data[name], source, f"{prefix}{name}") for name in data}
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{source}: {prefix.rstrip('.') or '<root>'}: {err}") from None


def _convert(tp: Any, value: Any, source: str, key: str) -> Any:
    """Check ``value`` against annotation ``tp`` and convert it (nested dataclasses, tuples, int to float)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a dataclass type, never an instance
        return build(tp, value, source=source, prefix=f"{key}.")
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, source, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(
            errors[0] if len(errors) == 1 else f"{source}: '{key}' must be {_name(tp)}, got {_kind(value)}"
        )
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"{source}: '{key}' must be one of {list(args)}, got {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{source}: '{key}' must be a list, got {_kind(value)}")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise ConfigError(f"{source}: '{key}' must have {len(args)} items, got {len(value)}")
            return tuple(
                _convert(a, v, source, f"{key}[{i}]")
                for i, (a, v) in enumerate(zip(args, value, strict=True))
            )
        item = args[0] if args else Any
        items = [_convert(item, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: '{key}' must be a mapping, got {_kind(value)}")
        ktp, vtp = args or (Any, Any)
        return {
            _convert(ktp, k, source, f"{key}.{k}"): _convert(vtp, v, source, f"{key}.{k}")
            for k, v in value.items()
        }
    return _scalar(tp, value, source, key)


def _scalar(tp: Any, value: Any, source: str, key: str) -> Any:
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads 3e-3 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"{source}: '{key}' must be int, got bool")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{source}: '{key}' must be {_name(tp)}, got {_kind(value)} {value!r}")


def apply_override(data: dict, override: str) -> None:
    """Apply one ``dotted.key=value`` command-line override to a parsed YAML mapping in place.

    The value is parsed as YAML, so ``sandbox.workers=2`` gives an int and ``run.name=abc`` a string.

    Args:
        data (`dict`): the parsed ``pipeline.yaml`` mapping.
        override (`str`): ``KEY=VALUE`` with a dotted key.

    Example:
        >>> d = {"sandbox": {"workers": 1}}
        >>> apply_override(d, "sandbox.workers=2")
        >>> d
        {'sandbox': {'workers': 2}}
    """
    import yaml

    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override: '{override}' is not KEY=VALUE (for example sandbox.workers=2)")
    parts = key.strip().split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override: '{key}' goes through '{part}', which is not a section")
        node = child
    try:
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"override: value of '{key}' is not valid YAML: {_first_line(err)}") from None


def to_dict(obj: Any) -> Any:
    """Plain-data view of a config (tuples as lists) for manifests and hashing.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class C:
        ...     box: tuple = (1, 2)
        >>> to_dict(C())
        {'box': [1, 2]}
    """
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def config_hash(cfg: object) -> str:
    """Stable short hash of a config (or any section), used to name and check run manifests.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class C:
        ...     box: tuple = (1, 2)
        >>> config_hash(C()) == config_hash(C()) != config_hash(C(box=(1, 3)))
        True
    """
    blob = json.dumps(to_dict(cfg), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _suggest(key: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(sorted(known))})"


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
