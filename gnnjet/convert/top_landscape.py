"""The Top Tagging Reference Dataset (Kasieczka et al., SciPost Phys. 7, 014 (2019)) -> gnnjet schema.

Input: the HDF5 files written by pandas (key ``table``, pandas' default "fixed" layout: column
names in ``table/block*_items``, values in ``table/block*_values``), with columns ``E_i PX_i PY_i
PZ_i`` for i < 200 (pt-ordered, zero-padded) and ``is_signal_new``. They are read with h5py,
row block by row block. Output: one collection ``part_px part_py part_pz part_energy`` plus
``part_pt part_eta part_phi`` and ``part_deta part_dphi`` to the jet axis (the set has no charge
or particle-ID information), jet ``pt eta phi mass energy`` summed from the constituents,
``label_top``/``label_qcd``.

``part_deta`` follows the ParT repository's conversion (utils/convert_top_datasets.py), which the published
Top Landscape models and the fine-tuning recipes were trained on: (eta - jet eta) * sign(jet eta), the sign of a
jet at eta = 0 taken as +1, so that the forward direction of every jet points the same way. ``part_dphi`` is the
wrapped phi difference, phi - jet phi. Files converted before this convention (gnnjet < 2026-12) hold the
unflipped eta - jet eta: convert them again (`bin/convert.py --overwrite`) before fine-tuning a published model.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import awkward as ak
import h5py
import numpy as np

from gnnjet.convert.kinematics import eta_sign, jet_sum, pt_eta_phi
from gnnjet.data.expressions import delta_phi
from gnnjet.data.writer import Branches
from gnnjet.errors import DataError

SUFFIXES = (".h5", ".hdf5")
KEY = "table"
COMPONENTS = ("E", "PX", "PY", "PZ")


class _Table:
    """Column access to a pandas 'fixed' DataFrame stored in an HDF5 group."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.file = h5py.File(path, "r")
        except OSError as err:
            raise DataError(f"{path}: not a readable HDF5 file ({err})") from None
        if KEY not in self.file:
            raise DataError(f"{path}: no group {KEY!r} (the Top Tagging Reference Dataset stores its DataFrame "
                            f"under key 'table'); groups in the file: {', '.join(self.file) or 'none'}")
        group = self.file[KEY]
        if "table" in group and not any(k.startswith("block") for k in group):
            raise DataError(f"{path}: the DataFrame is stored in pandas' 'table' format; re-save it with "
                            "pandas' default (fixed) format: pd.read_hdf(IN).to_hdf(OUT, key='table')")
        self.where: dict[str, tuple[Any, int]] = {}
        for name in group:
            match = re.fullmatch(r"block(\d+)_items", name)
            if match:
                values, items = group.get(f"block{match[1]}_values"), group[name][()]
                if values is None or values.ndim != 2 or values.shape[1] != len(items):
                    raise DataError(f"{path}: {KEY}/{name} names {len(items)} columns but block{match[1]}_values "
                                    f"has shape {getattr(values, 'shape', 'none')}: the file is damaged")
                for column, item in enumerate(items):
                    self.where[item.decode() if isinstance(item, bytes) else str(item)] = (values, column)
        if not self.where:
            raise DataError(f"{path}: group {KEY!r} holds no pandas DataFrame blocks (block0_items/block0_values)")
        self.rows = next(iter(self.where.values()))[0].shape[0]

    def columns(self, names: list[str], start: int, stop: int) -> np.ndarray:
        """[stop - start, len(names)] float64 values of the named columns."""
        missing = [n for n in names if n not in self.where]
        if missing:
            raise DataError(f"{self.path}: column {missing[0]!r} is not in the DataFrame")
        out = np.empty((stop - start, len(names)))
        blocks: dict[int, np.ndarray] = {}
        for j, name in enumerate(names):
            values, column = self.where[name]
            if id(values) not in blocks:
                blocks[id(values)] = values[start:stop]
            out[:, j] = blocks[id(values)][:, column]
        return out

    def num_particles(self) -> int:
        return sum(1 for name in self.where if re.fullmatch(r"E_\d+", name))


def count_jets(path: str) -> int:
    table = _Table(path)
    table.file.close()
    return table.rows


def read_chunks(path: str, chunk_size: int) -> Iterator[Branches]:
    """Chunks of at most `chunk_size` jets in the gnnjet schema."""
    table = _Table(path)
    with table.file:
        size = table.num_particles()
        if size == 0:
            raise DataError(f"{path}: no particle columns (E_0, PX_0, PY_0, PZ_0, ...) in the DataFrame")
        names = [f"{c}_{i}" for c in COMPONENTS for i in range(size)]
        for start in range(0, table.rows, chunk_size):
            stop = min(start + chunk_size, table.rows)
            values = table.columns(names, start, stop).reshape(stop - start, len(COMPONENTS), size)
            signal = table.columns(["is_signal_new"], start, stop)[:, 0]
            yield _convert(values, signal)


def _convert(values: np.ndarray, signal: np.ndarray) -> Branches:
    energy, px, py, pz = (values[:, i] for i in range(4))
    real = energy > 0
    counts = real.sum(axis=1)
    parts = {name: ak.unflatten(array[real], counts) for name, array in
             {"px": px, "py": py, "pz": pz, "energy": energy}.items()}
    jet = jet_sum(parts["px"], parts["py"], parts["pz"], parts["energy"])
    pt, eta, phi = pt_eta_phi(px[real], py[real], pz[real])
    jet_of = np.repeat(np.arange(len(counts)), counts)
    parts |= {"pt": ak.unflatten(pt, counts), "eta": ak.unflatten(eta, counts), "phi": ak.unflatten(phi, counts),
              "deta": ak.unflatten((eta - jet["eta"][jet_of]) * eta_sign(jet["eta"])[jet_of], counts),
              "dphi": ak.unflatten(delta_phi(phi, jet["phi"][jet_of]), counts)}
    return {**jet, "label_top": (signal == 1).astype(np.int32), "label_qcd": (signal == 0).astype(np.int32),
            "part": ak.zip(parts)}
