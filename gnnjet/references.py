"""Users' code named in a config, by form only (nothing is imported here): a model (`model.name`) or a loss
(`task.loss`) given as ``path/to/file.py:name`` (a file, relative to the current directory) or
``package.module:name`` (an installed module). `nn.user` imports and builds them; `runs.code` keeps a run's copies.
"""

from __future__ import annotations

import re
from typing import Any

from gnnjet.errors import ConfigError
from gnnjet.schema import describe

FORM = "'path/to/file.py:name' or 'package.module:name'"
USER_CODE_KEYS = {"model.name": "model", "task.loss": "loss"}  # the keys that may name users' code: a short name each
_REFERENCE = re.compile(r"(?P<where>[^:]+):(?P<attr>[A-Za-z_][A-Za-z0-9_]*)")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def is_user_code(name: Any) -> bool:
    """Whether a model name or loss names users' code (it has a ':') rather than a built-in."""
    return isinstance(name, str) and ":" in name


def parse_reference(text: str, path: str) -> tuple[str, str]:
    """(file or module, attribute) of `text`; anything but FORM is a ConfigError naming `path`."""
    match = _REFERENCE.fullmatch(text)
    where = match["where"] if match else ""
    if not match or not (where.endswith(".py") or _MODULE.fullmatch(where)):
        raise ConfigError(f"{path}: {describe(text)} names no code: use {FORM}")
    return where, match["attr"]


def user_code(config: dict[str, Any]) -> dict[str, str]:
    """{config key: reference} of every key of USER_CODE_KEYS that names users' code in a validated config."""
    found = {}
    for key in USER_CODE_KEYS:  # in this order
        section, name = key.split(".")
        value = config[section].get(name)
        if is_user_code(value):
            found[key] = value
    return found
