"""The config language: a frozen dataclass config to and from a dict / JSON (unknown keys refused with the closest
known one suggested, values coerced to the field's type), and dotted overrides from the command line
(``--train.lr=3e-3``). Generic over any dataclass; ``rnnkit.config`` holds the shared sections and re-exports these.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import types
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from rnnkit.errors import ConfigError

C = TypeVar("C")


# --------------------------------------------------------------------------------------------- dict / JSON


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict (tuples become lists), suitable for JSON."""
    out: dict[str, Any] = {}
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if is_dataclass(v):
            v = to_dict(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unknown(key: str, name: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown config key {key!r}{hint} Known keys here: {', '.join(known)}")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert a JSON value or a CLI string to type ``tp``; ConfigError naming ``key`` when impossible."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"config {key}: cannot parse {value!r}")
    if origin is Literal:
        v = _coerce(value, type(args[0]), key)
        if v not in args:
            raise ConfigError(f"config {key}: must be one of {', '.join(map(repr, args))}, got {v!r}")
        return v
    if origin is tuple:
        if isinstance(value, str):
            value = [s for s in value.strip("()[] ").split(",") if s.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config {key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"config {key}: expected {len(args)} values, got {len(value)} ({value!r})")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"config {key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"config {key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                try:
                    f = float(value)
                except ValueError:
                    f = None
                if f is not None and f.is_integer():
                    return int(f)
        raise ConfigError(f"config {key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"config {key}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"config {key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"config {key}: expected a string, got {value!r}")
    if isinstance(tp, type) and is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"config {key}: expected a section (object), got {value!r}")
        return from_dict(tp, value, prefix=key)
    return value


def from_dict(cls: type[C], data: dict[str, Any], *, prefix: str = "") -> C:
    """Build ``cls`` from a nested dict; unknown keys and bad values raise ConfigError with the dotted key."""
    if not isinstance(data, dict):
        raise ConfigError(f"config {prefix or '<root>'}: expected an object, got {data!r}")
    hints = _hints(cls)
    names = [f.name for f in fields(cls) if f.init]
    kwargs = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else k
        if k not in names:
            raise _unknown(key, k, names)
        kwargs[k] = _coerce(v, hints[k], key)
    try:
        return cls(**kwargs)
    except TypeError as e:  # pragma: no cover - every field has a default
        raise ConfigError(f"config {prefix or '<root>'}: {e}") from None


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = None) -> Path:
    """Write ``obj`` as UTF-8 JSON durably (``rnnkit.durable``: temp file, fsync, rename; the temp file is removed
    if anything fails): a crash never leaves half a file."""
    from rnnkit.durable import write_text

    text = json.dumps(obj, indent=indent, ensure_ascii=False) + "\n"  # serialise first: a bad object writes nothing
    return write_text(path, text)


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file rnnkit wrote; a truncated or edited one is a ConfigError naming it (not a JSONDecodeError)."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"{p} is not valid JSON ({e}): it is truncated or was edited; restore it, or train the run again"
        ) from None


def save_config(cfg: Any, path: str | os.PathLike) -> Path:
    """Write ``cfg`` as indented JSON (durably: ``write_json``)."""
    return write_json(path, to_dict(cfg), indent=2)


def load_config(cls: type[C], path: str | os.PathLike) -> C:
    """Read a ``config.json`` (e.g. a run folder's) into ``cls``."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist; pass a config.json or a run folder holding one") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {p} is not valid JSON ({e}); fix or regenerate it") from None
    return from_dict(cls, data)


# --------------------------------------------------------------------------------------------- overrides


# Short flags every task accepts: `--seed 3` sets train.seed (python, numpy, torch are all seeded from it),
# `--deterministic` sets train.deterministic (torch's documented determinism flags), `--quiet` train.quiet.
ALIASES = {"seed": "train.seed", "deterministic": "train.deterministic", "quiet": "train.quiet"}


def apply_overrides(cfg: C, overrides: dict[str, Any] | list[str]) -> C:
    """A copy of ``cfg`` with dotted keys replaced: ``{"train.lr": "3e-3"}`` or ``["train.lr=3e-3"]``.

    Values are coerced to the field's type (strings from the CLI, or already-typed values). The short keys in
    ``ALIASES`` (``seed``, ``deterministic``, ``quiet``) map to their ``train.*`` fields when ``cfg`` has a
    ``train`` section and no field of that name.
    """
    if isinstance(overrides, list):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"override {item!r} must look like key.sub=value, e.g. train.lr=3e-3")
            k, v = item.split("=", 1)
            pairs[k.strip().removeprefix("--")] = v
        overrides = pairs
    top = {f.name for f in fields(cfg)}
    for key, value in overrides.items():
        if key in ALIASES and key not in top and "train" in top:
            key = ALIASES[key]
        cfg = _set(cfg, key.split("."), value, key)
    return cfg


def _set(obj: Any, path: list[str], value: Any, key: str) -> Any:
    names = [f.name for f in fields(obj) if f.init]
    head = path[0]
    if head not in names:
        raise _unknown(key, head, names)
    hints = _hints(type(obj))
    if len(path) == 1:
        tp = hints[head]
        if isinstance(tp, type) and is_dataclass(tp):
            raise ConfigError(f"config {key}: is a section; set one of its keys, e.g. {key}.{fields(tp)[0].name}=...")
        new = _coerce(value, tp, key)
    else:
        sub = getattr(obj, head)
        if not is_dataclass(sub):
            raise ConfigError(f"config {key}: {head!r} is a value, not a section")
        new = _set(sub, path[1:], value, key)
    return dataclasses.replace(obj, **{head: new})


def parse_cli(args: list[str]) -> tuple[str | None, list[str]]:
    """Split ``["--config", "c.json", "--train.lr=3e-3", "--train.epochs", "4"]`` into (path, overrides)."""
    config_path, overrides, i = None, [], 0
    while i < len(args):
        a = args[i]
        if not a.startswith("--"):
            raise ConfigError(f"unexpected argument {a!r}: overrides look like --train.lr=3e-3")
        a = a[2:]
        if "=" in a:
            k, v = a.split("=", 1)
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            k, v = a, args[i + 1]
            i += 1
        else:
            k, v = a, "true"  # a bare flag: --train.quiet
        if k == "config":
            config_path = v
        else:
            overrides.append(f"{k}={v}")
        i += 1
    return config_path, overrides


def config_from_cli(cls: type[C], args: list[str], *, base: C | None = None) -> C:
    """``cls`` from ``--config path`` (if given, else ``base`` or defaults) plus dotted overrides."""
    path, overrides = parse_cli(args)
    cfg = load_config(cls, path) if path else (base if base is not None else cls())
    return apply_overrides(cfg, overrides)
