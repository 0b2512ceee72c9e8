"""The layout of a k-fold run: ``kfold.json`` ({k, expr, folds}) beside the fold directories, each an ordinary
run (training them: `gnnjet.training.kfold`; combining their outputs: `gnnjet.runs.prediction`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gnnjet.errors import GnnjetError
from gnnjet.fileio import atomic_write_text
from gnnjet.runs.layout import KFOLD, fold_name


def read_kfold(run_dir: str | Path) -> dict[str, Any] | None:
    """RUN/kfold.json of a k-fold run ({k, expr, folds}), None for an ordinary run directory."""
    path = Path(run_dir) / KFOLD
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        return {"k": int(record["k"]), "expr": str(record["expr"]), "folds": [str(f) for f in record["folds"]]}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise GnnjetError(f"{path}: not a k-fold record ({type(err).__name__}); train again") from None


def write_kfold(run_dir: str | Path, k: int, expr: str) -> None:
    """Write RUN/kfold.json naming the k folds (atomically)."""
    record = {"k": k, "expr": expr, "folds": [fold_name(fold) for fold in range(k)]}
    atomic_write_text(Path(run_dir) / KFOLD, json.dumps(record, indent=1))
