"""Shared CLI plumbing: logging set-up and turning user errors into a message and exit code 1."""

from __future__ import annotations

import argparse
import logging
import math
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


def _number_type(kind: type, accept: Callable[[float], bool], what: str) -> Callable[[str], object]:
    """An argparse `type` parsing `kind` and accepting only values for which `accept` holds (NaN and inf never
    pass: every comparison with NaN is false, and accept must hold for a finite value); refusals are argparse's
    one-line usage errors saying `what` was expected."""
    def parse(text: str) -> object:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not (math.isfinite(value) and accept(value)):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    parse.__name__ = what  # argparse names the type in its message
    return parse


positive_int = _number_type(int, lambda v: v > 0, "a positive integer")
non_negative_int = _number_type(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _number_type(float, lambda v: v > 0, "a positive finite number")
non_negative_float = _number_type(float, lambda v: v >= 0, "a finite number >= 0")


def add_trust_code(parser: argparse.ArgumentParser, when: str) -> None:
    """The --trust-code flag of the scripts that load a run (`runs.code`), `when` saying where it applies."""
    parser.add_argument("--trust-code", action="store_true",
                        help=f"{when}: the run's model is users' code (model.name file.py:Name): run its copy in the "
                             "run directory. Only for runs whose author you trust")
