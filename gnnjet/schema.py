"""A small strict schema language for YAML configs: every error names the key path.

A spec validates a parsed YAML value and returns it normalised (defaults filled in). Errors are
`ConfigError`s such as ``data.node_types.charged.features[3].clip: expected a list of 2 numbers,
got 'abc'`` or ``data.node_typs: unknown key; did you mean 'node_types'?``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable

from gnnjet.errors import ConfigError

REQUIRED = object()  # marker: a Record field without a default


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Spec:
    """Base class: ``validate(value, path)`` returns the normalised value or raises ConfigError."""

    description = "a value"

    def validate(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def fail(self, value: Any, path: str) -> ConfigError:
        return ConfigError(f"{path or 'config'}: expected {self.description}, got {_describe(value)}")


@dataclass
class Scalar(Spec):
    """A bool/int/float/str value, optionally restricted to `choices` or checked by `check`."""

    kind: type | tuple[type, ...]
    choices: tuple | None = None
    nullable: bool = False
    check: Callable[[Any], bool] | None = None
    what: str | None = None

    @property
    def description(self) -> str:  # type: ignore[override]
        if self.what:
            return self.what
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
        text = " or ".join(names.get(k, k.__name__) for k in kinds)
        return text + (" or null" if self.nullable else "")

    def validate(self, value: Any, path: str) -> Any:
        if value is None and self.nullable:
            return None
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok and float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok or (self.choices and value not in self.choices):
            if isinstance(value, str) and self.choices:
                close = difflib.get_close_matches(value, [str(c) for c in self.choices], n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{path}: expected {self.description}, got {value!r}{hint}")
            raise self.fail(value, path)
        if self.check is not None and not self.check(value):
            raise self.fail(value, path)
        return value


@dataclass
class ListOf(Spec):
    """A list whose items all follow `item`; `length` fixes its size, `min_length` bounds it."""

    item: Spec
    length: int | None = None
    min_length: int = 0
    nullable: bool = False

    @property
    def description(self) -> str:  # type: ignore[override]
        size = f"{self.length} " if self.length is not None else ""
        return f"a list of {size}{self.item.description}" + (" or null" if self.nullable else "")

    def validate(self, value: Any, path: str) -> Any:
        if value is None and self.nullable:
            return None
        if not isinstance(value, list):
            raise self.fail(value, path)
        if self.length is not None and len(value) != self.length:
            raise self.fail(value, path)
        if len(value) < self.min_length:
            raise ConfigError(f"{path}: needs at least {self.min_length} item(s), got {len(value)}")
        return [self.item.validate(v, _join(path, i)) for i, v in enumerate(value)]


@dataclass
class OneOf(Spec):
    """The first alternative whose outer shape matches the value validates it."""

    options: list[Spec]
    what: str = "a value"

    @property
    def description(self) -> str:  # type: ignore[override]
        return self.what

    def validate(self, value: Any, path: str) -> Any:
        for option in self.options:
            if isinstance(option, Record) and isinstance(value, dict):
                return option.validate(value, path)
            if isinstance(option, ListOf) and isinstance(value, list):
                return option.validate(value, path)
            if not isinstance(option, (Record, ListOf)):
                try:
                    return option.validate(value, path)
                except ConfigError:
                    continue
        raise self.fail(value, path)


@dataclass
class Record(Spec):
    """A mapping with a fixed set of keys; unknown keys are errors with a spelling suggestion."""

    fields: dict[str, tuple[Spec, Any]] = field(default_factory=dict)
    what: str = "a mapping"
    nullable: bool = False

    @property
    def description(self) -> str:  # type: ignore[override]
        return self.what

    def validate(self, value: Any, path: str) -> Any:
        if value is None and self.nullable:
            return None
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.fail(value, path)
        for key in value:
            if key not in self.fields:
                close = difflib.get_close_matches(str(key), list(self.fields), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                valid = ", ".join(self.fields)
                raise ConfigError(f"{_join(path, str(key))}: unknown key{hint} (valid keys: {valid})")
        out = {}
        for key, (spec, default) in self.fields.items():
            if key in value:
                out[key] = spec.validate(value[key], _join(path, key))
            elif default is REQUIRED:
                raise ConfigError(f"{_join(path, key)}: missing required key ({spec.description})")
            else:
                out[key] = spec.validate(default, _join(path, key)) if default is not None else None
        return out
