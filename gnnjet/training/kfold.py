"""k-fold training: k ordinary runs in one directory, OUT/fold_0 ... OUT/fold_{k-1}, run i trained (and
validated) on the jets whose fold expression is not i, so that every jet has a model that never saw it
(`runs.prediction` combines them into out-of-fold scores). OUT/kfold.json names the folds (`runs.kfold`)."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any, Callable

from gnnjet.config import dump_config
from gnnjet.errors import GnnjetError
from gnnjet.fileio import make_directory
from gnnjet.runs.kfold import write_kfold
from gnnjet.runs.layout import CONFIG, KFOLD, LAST, fold_name

log = logging.getLogger(__name__)


def train_folds(config: dict[str, Any], output_dir: str | Path, train_one: Callable[..., Any], resume: bool = False,
                overwrite: bool = False, **options: Any) -> None:
    """Train every fold of `config` (training.kfold set, its fold null) with `train_one(config, run_dir,
    resume=..., overwrite=..., **options)`; with `resume`, a fold that has a last.pt continues, the others
    start."""
    kfold = config["training"]["kfold"]
    output_dir = Path(output_dir)
    if (output_dir / KFOLD).exists() and not (resume or overwrite):
        raise GnnjetError(f"{output_dir} already holds a k-fold run: continue it with --resume, replace it with "
                          "--overwrite, or choose another -o")
    make_directory(output_dir)
    dump_config(config, output_dir / CONFIG)  # what --resume -o OUT continues
    write_kfold(output_dir, kfold["k"], kfold["expr"])
    for fold in range(kfold["k"]):
        fold_config = copy.deepcopy(config)
        fold_config["training"]["kfold"]["fold"] = fold
        run_dir = output_dir / fold_name(fold)
        log.info("k-fold: fold %d of %d (%s), its jets held out", fold, kfold["k"], run_dir)
        train_one(fold_config, run_dir, resume=resume and (run_dir / LAST).exists(), overwrite=overwrite,
                  **options)
