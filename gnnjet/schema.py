"""A small strict schema language for YAML configs: every error names the key path.

A spec validates a parsed YAML value and returns it normalised (defaults filled in). Errors are
`ConfigError`s such as ``data.node_types.charged.features[3].clip: expected a list of 2 numbers,
got 'abc'`` or ``data.node_typs: unknown key; did you mean 'node_types'?``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from gnnjet.errors import ConfigError

REQUIRED = object()  # marker: a Record field without a default
MAX_YAML_DEPTH = 64  # nesting of mappings and lists (a config needs about 6)
MAX_YAML_VALUES = 1_000_000  # values after aliases are expanded (a billion-laughs document has 10^9)
# a value's repr in messages, bounded in depth, items and length whatever the value (a shared alias is not
# expanded a billion times to be cut to 60 characters)
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 4, 4, 50, 50, 50


def describe(value: Any) -> str:
    text = _REPR.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_yaml(text: str, where: str) -> Any:
    """The value of YAML `text` (safe tags only), with one-line ConfigErrors naming `where`, the line and the
    column of a syntax error; a document nested deeper than MAX_YAML_DEPTH, or expanding through aliases to more
    than MAX_YAML_VALUES values, is refused in bounded time and memory before it is built or validated."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):  # iterative: no recursion on deep nesting
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    line = f", line {event.start_mark.line + 1}" if event.start_mark else ""
                    raise ConfigError(f"{where}{line}: nested more than {MAX_YAML_DEPTH} levels deep: not a config")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{where}: not valid YAML: {yaml_problem(err)}") from None
    if _expanded_size(value, {}) > MAX_YAML_VALUES:
        raise ConfigError(f"{where}: expands to more than {MAX_YAML_VALUES} values through YAML aliases (&anchor / "
                          "*alias): not a config")
    return value


def yaml_problem(err: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: line, column and the problem."""
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        mark = err.problem_mark
        context = f" {err.context}" if err.context else ""
        return f"line {mark.line + 1}, column {mark.column + 1}: {err.problem}{context}"
    return " ".join(str(err).split())


def _expanded_size(value: Any, sizes: dict[int, int]) -> int:
    """How many values `value` holds with every alias expanded; `sizes` memoises shared (aliased) nodes, so the
    count costs one visit per distinct node (the depth is bounded by parse_yaml)."""
    if not isinstance(value, (dict, list)):
        return 1
    if id(value) not in sizes:
        children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 1
        for child in children:
            total += _expanded_size(child, sizes)
            if total > MAX_YAML_VALUES:
                break
        sizes[id(value)] = total
    return sizes[id(value)]


def read_yaml_file(path: str | Path, what: str) -> Any:
    """`parse_yaml` of a file; a missing, unreadable or binary file is a one-line ConfigError naming `what`."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory: give a YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not a text file: give a YAML file") from None
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror}") from None
    return parse_yaml(text, str(path))


_FIELD_KINDS = {"float": (int, float), "int": (int,), "bool": (bool,), "str": (str,)}


def dataclass_from_mapping(cls: type, values: Any, where: str, path: str = "") -> Any:
    """An instance of the dataclass `cls` (fields of type float, int, bool or str) with the defaults overridden
    by the mapping `values` (at key `path` of file `where`); a value that is not a mapping, an unknown key (with
    the closest valid one), a value of the wrong type or a non-finite number is a one-line ConfigError."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: {path or 'the file'}: expected a mapping of parameter names to values, got "
                          f"{describe(values)}")
    kinds = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    for name, value in values.items():
        key = _join(path, str(name))
        if name not in kinds:
            close = difflib.get_close_matches(str(name), list(kinds), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(kinds)}"
            raise ConfigError(f"{where}: {key}: unknown parameter; {hint}")
        allowed = _FIELD_KINDS[kinds[name]]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            kind = "a number" if kinds[name] == "float" else f"a {kinds[name]}"
            raise ConfigError(f"{where}: {key}: expected {kind}, got {describe(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: {key}: expected a finite number, got {value}")
    return cls(**values)


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
        return ConfigError(f"{path or 'config'}: expected {self.description}, got {describe(value)}")


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
                raise ConfigError(f"{path}: expected {self.description}, got {describe(value)}{hint}")
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


class KeywordOptions(Spec):
    """Keyword options passed to code (a user's network, an optimizer): a mapping with identifier keys and any
    YAML values; null is an empty mapping."""

    description = "a mapping of keyword options"

    def validate(self, value: Any, path: str) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(value, path)
        for key in value:
            if not isinstance(key, str) or not key.isidentifier():
                raise ConfigError(f"{path}: option {describe(key)} is not a Python keyword name")
        return _listed(dict(value))


def _listed(value: Any) -> Any:
    """`value` with tuples as lists, as a run's config.yaml gives it back: an option given from Python as
    [(16, (64, 64))] must compare equal to the recorded one."""
    if isinstance(value, dict):
        return {k: _listed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_listed(v) for v in value]
    return value
