"""Shared CLI plumbing: logging set-up and turning user errors into a message and exit code 1."""

from __future__ import annotations

import logging
import sys
from typing import Callable

from gnnjet.errors import GnnjetError


def run(main: Callable[[], object]) -> int:
    """Call `main` with logging configured; a GnnjetError prints its message (no traceback) -> 1."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    try:
        main()
    except GnnjetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
