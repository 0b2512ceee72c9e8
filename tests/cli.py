"""Running a bin/ script in the test process: its argparse, `gnnjet.cli.run`'s error handling and exit code,
its stdout, and its stderr with the log, without the interpreter start and torch import a subprocess costs
(seconds each). Tests that need a process of their own (signals, DDP, a clean environment) use subprocess."""

from __future__ import annotations

import io
import logging
import runpy
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

BIN = Path(__file__).resolve().parents[1] / "bin"


@dataclass
class Completed:
    """What a script run left: exit code, stdout, stderr (log lines included)."""

    returncode: int
    stdout: str
    stderr: str


def run_bin(script: str, *args: object) -> Completed:
    """Run bin/`script` with `args` as its command line; an exception the script does not handle propagates (in
    a subprocess it would be a traceback)."""
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level, argv = root.level, sys.argv
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    sys.argv = [str(BIN / script), *map(str, args)]
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            runpy.run_path(str(BIN / script), run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        sys.argv = argv
        root.removeHandler(handler)
        root.setLevel(level)
    return Completed(code, out.getvalue(), err.getvalue())
