"""Users' code in a run directory: a run whose model or loss is a user's file keeps a copy of it
(``code/model/<file>``, ``code/loss/<file>``) and its SHA-256 (``code.json``), so that the run does not depend on
the file staying where and as it was; and loading such a run (resume, predict, export, the Python API) runs that
code, so it is refused unless the caller trusts the run (``--trust-code``), as a checkpoint is read weights-only so
that opening it never runs code.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from gnnjet.errors import GnnjetError
from gnnjet.fileio import atomic_path, atomic_write_text, make_directory
from gnnjet.references import USER_CODE_KEYS, parse_reference, user_code
from gnnjet.runs.layout import CODE, CODE_RECORD


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def keep_code(run_dir: Path, config: dict[str, Any]) -> None:
    """Copy every file of users' code the config names (model.name, task.loss: ``file.py:name``) into
    ``run_dir/code/model/`` or ``code/loss/`` and record it with its hash in code.json (an installed module's
    reference is recorded alone). A config of built-ins leaves nothing."""
    references = user_code(config)
    if not references:
        return
    record: dict[str, dict[str, str]] = {}
    for key, reference in references.items():
        where, _ = parse_reference(reference, key)
        record[key] = {"reference": reference}
        if where.endswith(".py"):
            copy = make_directory(run_dir / CODE / USER_CODE_KEYS[key], "code directory") / Path(where).name
            with atomic_path(copy) as tmp:
                shutil.copyfile(where, tmp)
            record[key] |= {"file": copy.relative_to(run_dir).as_posix(), "sha256": sha256_of(copy)}
        else:
            record[key]["module"] = where
    atomic_write_text(run_dir / CODE_RECORD, json.dumps(record, indent=1))


def trusted_code(run_dir: Path, config: dict[str, Any], trust_code: bool) -> dict[str, Path]:
    """{config key: the run's copy of its file} to build the run's users' code from (empty for built-ins; an
    installed module is imported as it is installed). A run naming users' code is a GnnjetError unless
    `trust_code`, and so is a copy whose content differs from the hash recorded at training."""
    references = user_code(config)
    if not references:
        return {}
    try:
        record = json.loads((run_dir / CODE_RECORD).read_text())
        entries = {key: record[key] for key in references}
    except (OSError, ValueError, KeyError, TypeError):
        raise GnnjetError(f"{run_dir}: its config names users' code ({', '.join(references.values())}) but "
                          f"{CODE_RECORD} is missing, damaged or incomplete: train the run again") from None
    if not trust_code:
        runs = ", ".join(str(run_dir / entry["file"]) if "file" in entry else f"module {entry.get('module')}"
                         for entry in entries.values())
        raise GnnjetError(f"{run_dir}: its config names users' code; loading it runs {runs}: pass --trust-code "
                          "(trust_code=True) only if you trust whoever wrote this run")
    files = {}
    for key, entry in entries.items():
        if "file" not in entry:
            continue
        copy = run_dir / entry["file"]
        if not copy.is_file() or sha256_of(copy) != entry.get("sha256"):
            raise GnnjetError(f"{copy}: missing, or changed since the run was trained (its SHA-256 differs from "
                              f"{CODE_RECORD}'s): the run cannot be rebuilt as it was trained")
        files[key] = copy
    return files
