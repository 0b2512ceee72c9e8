"""The EnergyFlow quark/gluon set (Komiske, Metodiev, Thaler, arXiv:1810.05165) -> gnnjet schema.

Input: ``.npz`` files with ``X[N, M, 4]`` = (pt [GeV], rapidity, phi, PDG id) per particle,
zero-padded to the largest multiplicity of the file, and ``y[N]`` = 1 quark / 0 gluon. Output:
charged (``ch_pt ch_eta ch_phi ch_charge ch_id``) and neutral (``ne_pt ne_eta ne_phi ne_id``)
collections split by the particle's charge, jet ``pt eta phi mass`` summed from the constituents,
``label_q``/``label_g``. Charges and masses (to turn rapidity into pseudorapidity exactly) come
from the `particle` package. ``X`` is streamed from the zip archive chunk by chunk, so memory is
bounded even for the 100k-jet files.
"""

from __future__ import annotations

import zipfile
import zlib
from functools import lru_cache
from typing import IO, Iterator

import awkward as ak
import numpy as np
from particle import Particle
from particle.pdgid import charge as pdg_charge

from gnnjet.convert.kinematics import jet_sum, pt_eta_phi
from gnnjet.data.writer import Branches
from gnnjet.errors import DataError

SUFFIXES = (".npz",)


def _member(archive: zipfile.ZipFile, name: str, path: str) -> IO[bytes]:
    try:
        return archive.open(f"{name}.npy")
    except KeyError:
        raise DataError(f"{path}: no array {name!r} in the .npz file (an EnergyFlow q/g file has X and y)") from None


def _header(stream: IO[bytes], path: str, name: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(stream)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(stream)
    except (ValueError, OSError, EOFError, SyntaxError, zipfile.BadZipFile, zlib.error) as err:
        raise DataError(f"{path}: {name}.npy in the .npz file is not an npy array ({type(err).__name__}: "
                        f"{err})") from None
    if fortran:
        raise DataError(f"{path}: array {name} is stored in Fortran order, which cannot be streamed")
    return shape, dtype


def _open(path: str) -> tuple[zipfile.ZipFile, IO[bytes], tuple[int, ...], np.dtype]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{path}: not a readable .npz file ({err})") from None
    stream = _member(archive, "X", path)
    shape, dtype = _header(stream, path, "X")
    if len(shape) != 3 or shape[2] < 4:
        raise DataError(f"{path}: X has shape {shape}; an EnergyFlow q/g file has X[N, M, 4] = (pt, y, phi, pid)")
    if dtype.kind not in "fiu":
        raise DataError(f"{path}: X holds {dtype} values; an EnergyFlow q/g file has numbers (not objects)")
    return archive, stream, shape, dtype


def count_jets(path: str) -> int:
    archive, stream, shape, _ = _open(path)
    archive.close()
    return shape[0]


@lru_cache(maxsize=None)
def _properties(pid: int) -> tuple[float, float] | None:
    """(charge in e, mass in GeV) of a PDG id, None if the particle package does not know it; 0 (no
    particle-ID information) is a massless neutral."""
    if pid == 0:
        return 0.0, 0.0
    try:
        charge, mass = pdg_charge(pid), Particle.from_pdgid(pid).mass
    except Exception:  # noqa: BLE001 - particle raises several kinds (ParticleNotFound, InvalidParticle, ...)
        return None
    if charge is None or mass is None:
        return None
    return float(charge), mass / 1000.0  # particle gives MeV


def _labels(archive: zipfile.ZipFile, path: str, num_jets: int) -> np.ndarray:
    """y [N]: 1 quark, 0 gluon, checked (numbers, one per jet, only 0 and 1)."""
    if "y.npy" not in archive.namelist():
        raise DataError(f"{path}: no array 'y' in the .npz file (an EnergyFlow q/g file has X and y)")
    try:
        labels = np.load(archive.open("y.npy"))
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: y is not a readable numeric array ({type(err).__name__})") from None
    if labels.dtype.kind not in "fiub":
        raise DataError(f"{path}: y holds {labels.dtype} values; it must be 1 (quark) or 0 (gluon)")
    if len(labels) != num_jets:
        raise DataError(f"{path}: y has {len(labels)} entries but X has {num_jets} jets")
    if not np.isin(labels, (0, 1)).all():
        raise DataError(f"{path}: y holds {np.setdiff1d(labels, [0, 1])[:5].tolist()}; it must be 1 (quark) or "
                        "0 (gluon)")
    return labels


def read_chunks(path: str, chunk_size: int) -> Iterator[Branches]:
    """Chunks of at most `chunk_size` jets in the gnnjet schema."""
    archive, stream, shape, dtype = _open(path)
    with archive:
        labels = _labels(archive, path, shape[0])
        row_bytes = int(np.prod(shape[1:])) * dtype.itemsize
        for start in range(0, shape[0], chunk_size):
            rows = min(chunk_size, shape[0] - start)
            try:
                data = stream.read(rows * row_bytes)
            except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
                raise DataError(f"{path}: X is damaged from jet {start} on ({type(err).__name__})") from None
            if len(data) != rows * row_bytes:
                raise DataError(f"{path}: X is truncated: jets {start} to {start + rows - 1} are incomplete")
            block = np.frombuffer(data, dtype=dtype).reshape(rows, *shape[1:])
            yield _convert(block, labels[start : start + rows], path, start)


def _convert(block: np.ndarray, y: np.ndarray, path: str, first_jet: int) -> Branches:
    real = block[:, :, 0] > 0
    counts = real.sum(axis=1)
    flat = block[real].astype(np.float64)  # [n, 4], jets' particles in order
    pt, rapidity, phi, pid = flat[:, 0], flat[:, 1], flat[:, 2], flat[:, 3].astype(np.int64)
    unique, inverse = np.unique(pid, return_inverse=True)
    properties = [_properties(int(p)) for p in unique]
    for p, known in zip(unique, properties):
        if known is None:
            jet = first_jet + int(np.repeat(np.arange(len(counts)), counts)[pid == p][0])
            raise DataError(f"{path}: jet {jet} has a particle with PDG id {p}, unknown to the particle package")
    table = np.array(properties).reshape(-1, 2)
    charge, mass = table[inverse, 0], table[inverse, 1]
    transverse_mass = np.sqrt(pt**2 + mass**2)
    px, py = pt * np.cos(phi), pt * np.sin(phi)
    pz, energy = transverse_mass * np.sinh(rapidity), transverse_mass * np.cosh(rapidity)
    _, eta, _ = pt_eta_phi(px, py, pz)
    jagged = {name: ak.unflatten(values, counts) for name, values in
              {"px": px, "py": py, "pz": pz, "energy": energy}.items()}
    jet = jet_sum(jagged["px"], jagged["py"], jagged["pz"], jagged["energy"])
    particles = ak.unflatten(ak.zip({"pt": pt, "eta": eta, "phi": phi, "charge": charge.astype(np.int32),
                                     "id": pid.astype(np.int32)}), counts)
    charged = particles.charge != 0
    ch, ne = particles[charged], particles[~charged]
    return {"pt": jet["pt"], "eta": jet["eta"], "phi": jet["phi"], "mass": jet["mass"],
            "label_q": (y == 1).astype(np.int32), "label_g": (y == 0).astype(np.int32),
            "ch": ak.zip({"pt": ch.pt, "eta": ch.eta, "phi": ch.phi, "charge": ch.charge, "id": ch.id}),
            "ne": ak.zip({"pt": ne.pt, "eta": ne.eta, "phi": ne.phi, "id": ne.id})}
