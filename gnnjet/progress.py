"""Progress bars for long loops: shown on a terminal, silent in logs and CI (non-TTY output)."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm


def progress_bar(iterable: Any = None, enabled: bool = True, **kwargs: Any) -> tqdm:
    """tqdm that is off when `enabled` is False and, otherwise, whenever stderr is not a terminal."""
    return tqdm(iterable, disable=None if enabled else True, **kwargs)
