"""Gamma and proton air showers in a water-Cherenkov pond (`bin/generate.py --process shower`): the shower model
(`shower_physics`), the pond (`pond`) and the standard reconstruction (`shower_reco`), written one event per row.

Branches: `label_gamma`, `label_proton`; truth `energy` (TeV), `zenith`, `azimuth` (rad), `core_x`, `core_y` (m),
`em_size`, `age`, `muons` (at ground, all radii); reconstruction `xc`, `yc` (m), `rec_zenith`, `rec_azimuth` (rad);
`event` (unique in a sample of one seed), `nhit`, and the hit collection `hit_x`, `hit_y` (m), `hit_charge` (pe),
`hit_time` (ns), `hit_deltar` (m, to the reconstructed core), `hit_polar` (rad, around it), `hit_dt` (ns, residual to
the fitted front), `hit_muons` (true muons in the cell; 0 for noise), hits sorted by decreasing charge.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from gnnjet.errors import ConfigError, GnnjetError
from gnnjet.generate.pond import Pond, PondHits, respond
from gnnjet.generate.shower_physics import (
    CLASSES,
    Atmosphere,
    GroundShowers,
    Primaries,
    showers_at_ground,
)
from gnnjet.generate.shower_reco import reconstruct
from gnnjet.schema import dataclass_from_mapping, read_yaml_file

BATCH = 128  # showers simulated at once ([BATCH, cells] arrays)


@dataclass(frozen=True)
class ShowerSetup:
    """Everything a shower sample depends on besides the seed; `bin/generate.py --detector FILE` overrides any
    field with a YAML mapping {primaries: {...}, atmosphere: {...}, pond: {...}}."""

    primaries: Primaries = field(default_factory=Primaries)
    atmosphere: Atmosphere = field(default_factory=Atmosphere)
    pond: Pond = field(default_factory=Pond)

    def __post_init__(self) -> None:
        p = self.primaries
        if not 0 < p.energy_min < p.energy_max:
            raise GnnjetError(f"primaries.energy_min {p.energy_min} and energy_max {p.energy_max}: give 0 < "
                              "energy_min < energy_max (TeV)")
        if not 0 <= p.zenith_max < 90:
            raise GnnjetError(f"primaries.zenith_max {p.zenith_max}: give an angle in [0, 90) degrees")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "ShowerSetup":
        raw = read_yaml_file(path, "shower setup file") or {}
        parts = {"primaries": Primaries, "atmosphere": Atmosphere, "pond": Pond}
        if not isinstance(raw, dict) or set(raw) - set(parts):
            raise ConfigError(f"{path}: expected a mapping with keys {', '.join(parts)}")
        return cls(**{key: dataclass_from_mapping(kind, raw.get(key), str(path), key) for key, kind in parts.items()})

    def as_dict(self) -> dict[str, Any]:
        return {"primaries": asdict(self.primaries), "atmosphere": asdict(self.atmosphere), "pond": asdict(self.pond)}


def core_box(setup: ShowerSetup) -> tuple[float, float, float, float]:
    half_x, half_y = setup.pond.half_size()
    margin = setup.primaries.core_margin
    return -half_x - margin, half_x + margin, -half_y - margin, half_y + margin


def simulate_class(cls: str, wanted: int, setup: ShowerSetup, rng: np.random.Generator) -> tuple[list[dict], int]:
    """`wanted` triggered events of class `cls` (rows of jet-level values and hit arrays) and the number of showers
    simulated for them."""
    cells, pond = setup.pond.cells, setup.pond
    rows: list[dict] = []
    simulated = 0
    while len(rows) < wanted:
        ground = showers_at_ground(cls, BATCH, setup.primaries, setup.atmosphere, cells, pond.cell_area,
                                   core_box(setup), rng)
        events = respond(pond, ground.mean_em, ground.mean_muons, ground.axis_r, ground.core, ground.zenith,
                         ground.azimuth, rng)
        simulated += BATCH
        for b, hits in enumerate(events):
            if len(hits.charge) - hits.noise.sum() < pond.trigger_hits or len(rows) >= wanted:
                continue
            rows.append(_row(cls, b, ground, hits, pond))
    return rows, simulated


def _row(cls: str, b: int, ground: GroundShowers, hits: PondHits, pond: Pond) -> dict:
    """Event b of `ground` with its hits and reconstruction: jet-level values and the hit arrays (key `hit`)."""
    reco = reconstruct(hits.xy, hits.charge, hits.time, pond.front_curvature)
    return {"label_gamma": int(cls == "gamma"), "label_proton": int(cls == "proton"),
            "energy": ground.energy[b], "zenith": ground.zenith[b], "azimuth": ground.azimuth[b],
            "core_x": ground.core[b, 0], "core_y": ground.core[b, 1], "em_size": ground.em_size[b],
            "age": ground.age[b], "muons": ground.muons[b], "xc": reco.core[0], "yc": reco.core[1],
            "rec_zenith": reco.zenith, "rec_azimuth": reco.azimuth, "nhit": len(hits.charge),
            "hit": {"x": hits.xy[:, 0], "y": hits.xy[:, 1], "charge": hits.charge, "time": hits.time,
                    "deltar": reco.deltar, "polar": reco.polar, "dt": reco.dt, "muons": hits.muons}}


def shower_branches(rows: list[dict], first_event: int) -> dict[str, Any]:
    """Branches for `write_jets` from event rows; events numbered from first_event."""
    scalars = [k for k in rows[0] if k not in ("hit", "nhit")]
    out: dict[str, Any] = {}
    for key in scalars:
        values = np.array([row[key] for row in rows])
        out[key] = values.astype(np.int32 if key.startswith("label_") else np.float32)
    out["event"] = first_event + np.arange(len(rows), dtype=np.int64)
    hit_keys = list(rows[0]["hit"])
    counts = np.array([len(row["hit"]["x"]) for row in rows])
    flat = {k: np.concatenate([row["hit"][k] for row in rows]) for k in hit_keys}
    out["hit"] = ak.zip({k: ak.unflatten(v.astype(np.int32 if k == "muons" else np.float32), counts)
                         for k, v in flat.items()})
    return out


def simulate_shard(num_events: int, seed: int, setup: ShowerSetup, first_event: int,
                   progress: Any = None) -> tuple[dict[str, Any], dict[str, int]]:
    """One shard: equal quotas of the classes, shuffled; returns its branches and statistics (events simulated per
    class, before the trigger)."""
    rng = np.random.default_rng(seed)
    base, extra = divmod(num_events, len(CLASSES))
    rows, simulated = [], {}
    for i, cls in enumerate(CLASSES):
        taken, simulated[cls] = simulate_class(cls, base + (i < extra), setup, rng)
        rows += taken
        if progress is not None:
            progress.put(len(taken))
    rows = [rows[i] for i in rng.permutation(len(rows))]
    return shower_branches(rows, first_event), simulated
