"""The one rule for reading a result back: a frozen dataclass from the dict its ``to_dict()`` wrote.

Every record type's ``from_dict`` is ``return from_record(cls, data)`` unless it really does more (the
audit document checks its ``kind`` and ``schema_version`` first); those say why next to the code.

The rule:
- a key the class does not have is an error, and so is a missing field without a default; both name
  the class and the key(s), so a hand-edited or foreign file fails where it is wrong, not later;
- JSON has no tuples: a list becomes a tuple where the field is a tuple;
- a nested record (a field typed as a dataclass, or a list / tuple of them, optionally ``| None``) is
  built with that class's own ``from_dict``.

:meth:`rankbench.bench.config.BenchConfig.from_dict` is a different thing (a YAML config checked value
by value, with key paths) and does not use this.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any

from rankbench.errors import RankbenchError

_HINT = "was the file written by this version of rankbench, and not edited by hand?"


def from_record(cls: type, data: Any) -> Any:
    """``cls(**data)`` for a dataclass ``cls``, checked and with nested records and tuples rebuilt."""
    name = cls.__name__
    if not isinstance(data, dict):
        raise RankbenchError(f"{name} record is not a mapping (got {type(data).__name__})", hint=_HINT)
    fields = dataclasses.fields(cls)
    known = {f.name for f in fields}
    unknown = [str(k) for k in data if k not in known]
    if unknown:
        raise RankbenchError(f"{name} record has unknown key(s): {', '.join(unknown)}", hint=_HINT)
    required = [f.name for f in fields if f.init and _required(f)]
    missing = [k for k in required if k not in data]
    if missing:
        raise RankbenchError(f"{name} record lacks key(s): {', '.join(missing)}", hint=_HINT)
    types_ = _field_types(cls)
    return cls(**{key: _convert(types_[key], value) for key, value in data.items()})


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    """The resolved annotations (``from __future__ import annotations`` leaves them as strings)."""
    return typing.get_type_hints(cls)


def _convert(typ: Any, value: Any) -> Any:
    if value is None:
        return None
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None) and _fits(arg, value):
                return _convert(arg, value)
        return value
    if dataclasses.is_dataclass(typ) and isinstance(value, dict):
        return typ.from_dict(value) if hasattr(typ, "from_dict") else from_record(typ, value)
    if origin is tuple and isinstance(value, (list, tuple)):
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[T, ...]
            return tuple(_convert(args[0], v) for v in value)
        if args and len(args) == len(value):  # tuple[A, B]
            return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
        return tuple(value)
    if origin is list and isinstance(value, list):
        return [_convert(args[0], v) for v in value] if args else list(value)
    return value


def _fits(typ: Any, value: Any) -> bool:
    """Whether a JSON value has the shape of ``typ`` (to pick the member of a union to convert with)."""
    origin = typing.get_origin(typ)
    if dataclasses.is_dataclass(typ):
        return isinstance(value, dict)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple))
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(typ, type) and isinstance(value, typ)
