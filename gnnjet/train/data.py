"""Training and validation data of a config: files, split (by file or by fraction), preprocessing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gnnjet.data.cache.build import build_store
from gnnjet.data.dataset import JetDataset
from gnnjet.data.inputs import expand_files
from gnnjet.data.preprocess import Preprocessing
from gnnjet.data.spec import DataSpec
from gnnjet.errors import ConfigError


@dataclass
class Split:
    """Training and validation jets: datasets and the jet indices to draw from each."""

    train: JetDataset
    train_index: np.ndarray
    val: JetDataset
    val_index: np.ndarray


def fraction_split(num_jets: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) sorted jet indices; val is a seeded random `fraction` of the jets."""
    order = np.random.default_rng(seed).permutation(num_jets)
    num_val = int(round(num_jets * fraction))
    return np.sort(order[num_val:]), np.sort(order[:num_val])


def prepare_split(config: dict[str, Any], spec: DataSpec, progress: bool = True,
                  preprocessing: Preprocessing | None = None) -> Split:
    """Read (or reuse the cache of) the training data, split it and fit preprocessing on the training jets
    (or use `preprocessing`: a resumed run's own, or a pretrained model's)."""
    data, seed = config["data"], config["training"]["seed"]
    if not data["train"]:
        raise ConfigError("data.train: no training files given (set it in the config or pass -i)")
    cache = Path(data["cache_dir"]) if data["cache_dir"] else None
    train_store = build_store(spec, expand_files(data["train"]), cache, progress, data["workers"])
    kfold = config["training"]["kfold"]
    candidates = np.arange(train_store.num_jets)
    if kfold is not None and kfold["fold"] is not None:  # k-fold run: its fold is held out of training and validation
        candidates = np.flatnonzero(np.asarray(train_store.arrays["fold"]) != kfold["fold"])
    if data["val"]:
        val_store = build_store(spec, expand_files(data["val"]), cache, progress, data["workers"])
        train_index, val_index = candidates, np.arange(val_store.num_jets)
    else:
        val_store = train_store
        train_part, val_part = fraction_split(len(candidates), data["val_fraction"], seed)
        train_index, val_index = candidates[train_part], candidates[val_part]
    if data["fraction"] < 1.0:  # a seeded subset of the training jets (drawn apart from the validation split)
        kept = int(round(len(train_index) * data["fraction"]))
        train_index = np.sort(np.random.default_rng(seed + 1).permutation(train_index)[:kept])
    if len(train_index) == 0 or len(val_index) == 0:
        raise ConfigError(f"data: the split leaves {len(train_index)} training and {len(val_index)} validation "
                          "jets; give more jets, data.val files or another data.val_fraction")
    if preprocessing is None:
        preprocessing = Preprocessing.fit(spec, train_store, seed=seed, jets=train_index)
    train = JetDataset(spec, train_store, preprocessing)
    val = train if val_store is train_store else JetDataset(spec, val_store, preprocessing)
    return Split(train, train_index, val, val_index)
