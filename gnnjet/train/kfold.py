"""k-fold training: k ordinary runs in one directory, OUT/fold_0 ... OUT/fold_{k-1}, run i trained (and
validated) on the jets whose fold expression is not i, so that every jet has a model that never saw it
(`predict` combines them into out-of-fold scores). OUT/kfold.json names the folds."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any, Callable

from gnnjet.config import dump_config
from gnnjet.errors import GnnjetError
from gnnjet.fileio import atomic_write_text, make_directory

log = logging.getLogger(__name__)

KFOLD_FILE = "kfold.json"


def fold_name(fold: int) -> str:
    return f"fold_{fold}"


def read_kfold(run_dir: str | Path) -> dict[str, Any] | None:
    """OUT/kfold.json of a k-fold run ({k, expr, folds}), None for an ordinary run directory."""
    path = Path(run_dir) / KFOLD_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        return {"k": int(record["k"]), "expr": str(record["expr"]), "folds": [str(f) for f in record["folds"]]}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise GnnjetError(f"{path}: not a k-fold record ({type(err).__name__}); train again") from None


def train_folds(config: dict[str, Any], output_dir: str | Path, train_one: Callable[..., Any], resume: bool = False,
                overwrite: bool = False, **options: Any) -> None:
    """Train every fold of `config` (training.kfold set, its fold null) with `train_one(config, run_dir,
    resume=..., overwrite=..., **options)`; with `resume`, a fold that has a last.pt continues, the others
    start."""
    kfold = config["training"]["kfold"]
    output_dir = Path(output_dir)
    if (output_dir / KFOLD_FILE).exists() and not (resume or overwrite):
        raise GnnjetError(f"{output_dir} already holds a k-fold run: continue it with --resume, replace it with "
                          "--overwrite, or choose another -o")
    make_directory(output_dir)
    dump_config(config, output_dir / "config.yaml")  # what --resume -o OUT continues
    atomic_write_text(output_dir / KFOLD_FILE, json.dumps(
        {"k": kfold["k"], "expr": kfold["expr"], "folds": [fold_name(f) for f in range(kfold["k"])]}, indent=1))
    for fold in range(kfold["k"]):
        fold_config = copy.deepcopy(config)
        fold_config["training"]["kfold"]["fold"] = fold
        run_dir = output_dir / fold_name(fold)
        log.info("k-fold: fold %d of %d (%s), its jets held out", fold, kfold["k"], run_dir)
        train_one(fold_config, run_dir, resume=resume and (run_dir / "last.pt").exists(), overwrite=overwrite,
                  **options)
