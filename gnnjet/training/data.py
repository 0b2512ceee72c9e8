"""Training and validation data of a config: files, split (by file or by fraction), preprocessing, jet weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gnnjet.data.cache.build import build_store
from gnnjet.data.dataset import JetDataset
from gnnjet.data.inputs import expand_files
from gnnjet.data.preprocess import Preprocessing
from gnnjet.data.reweight import Reweighting, check_weights
from gnnjet.data.spec import DataSpec
from gnnjet.errors import ConfigError


@dataclass
class Split:
    """Training and validation jets: datasets (with their jets' loss weights) and the jet indices to draw from
    each; the reweighting fitted on the training jets (None without data.weights.reweight)."""

    train: JetDataset
    train_index: np.ndarray
    val: JetDataset
    val_index: np.ndarray
    reweighting: Reweighting | None = None
    calibration_index: np.ndarray | None = None  # jets of `val` kept for calibration (data.calibration_fraction)

    @property
    def weighted(self) -> bool:
        """True when the jets' loss weights are not all 1 (data.weights given)."""
        return self.train.spec.weight is not None or self.reweighting is not None


def fraction_split(num_jets: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) sorted jet indices; val is a seeded random `fraction` of the jets."""
    order = np.random.default_rng(seed).permutation(num_jets)
    num_val = int(round(num_jets * fraction))
    return np.sort(order[num_val:]), np.sort(order[:num_val])


def prepare_split(config: dict[str, Any], spec: DataSpec, progress: bool = True,
                  preprocessing: Preprocessing | None = None, reweighting: Reweighting | None = None) -> Split:
    """Read (or reuse the cache of) the training data, split it and fit preprocessing on the training jets
    (or use `preprocessing`: a resumed run's own, or a pretrained model's), and the reweighting (or use
    `reweighting`: a resumed run's own); the datasets' weights are set and checked (`set_weights`)."""
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
    calibration_index = None
    if data["calibration_fraction"] > 0:  # drawn from the validation jets, then out of validation too
        val_part, calibration_part = fraction_split(len(val_index), data["calibration_fraction"], seed + 2)
        val_index, calibration_index = val_index[val_part], val_index[calibration_part]
    if len(train_index) == 0 or len(val_index) == 0:
        raise ConfigError(f"data: the split leaves {len(train_index)} training and {len(val_index)} validation "
                          "jets; give more jets, data.val files or another data.val_fraction")
    if preprocessing is None:
        preprocessing = Preprocessing.fit(spec, train_store, seed=seed, jets=train_index)
    train = JetDataset(spec, train_store, preprocessing)
    val = train if val_store is train_store else JetDataset(spec, val_store, preprocessing)
    split = Split(train, train_index, val, val_index, calibration_index=calibration_index)
    if data["weights"] is not None:
        set_weights(split, config, reweighting)
    return split


def set_weights(split: Split, config: dict[str, Any], reweighting: Reweighting | None) -> None:
    """Fit the reweighting on the training jets (unless given), multiply both datasets' weights by it and check
    the training and validation weights (`check_weights`)."""
    settings, labels = config["data"]["weights"], config["task"]["labels"]
    labels = list(labels or [])
    train = split.train
    if settings["reweight"] is not None:
        if reweighting is None:
            index = split.train_index
            reweighting = Reweighting.fit(settings["reweight"], labels, train.y.numpy()[index],
                                          np.asarray(train.store.arrays["aux"])[index], train.weight.numpy()[index])
        for dataset in dict.fromkeys([split.train, split.val]):  # once each, also when they are one dataset
            factors = reweighting.weights(dataset.y.numpy(), np.asarray(dataset.store.arrays["aux"]))
            dataset.weight = dataset.weight * torch.from_numpy(factors)
        split.reweighting = reweighting
    is_classification = config["task"]["type"] == "classification"
    for where, dataset, index in (("training", split.train, split.train_index), ("validation", split.val,
                                                                                 split.val_index)):
        check_weights(dataset.weight.numpy()[index], dataset.y.numpy()[index] if is_classification else None,
                      labels, settings["allow_negative"], where)
