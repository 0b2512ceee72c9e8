"""A water-Cherenkov pond of square cells (LHAASO-WCDA-like): each cell's charge in photoelectrons from the shower
particles it receives, its arrival time, noise hits and the trigger.

Per cell, N_em ~ Poisson(mean) electromagnetic particles each give an exponentially distributed light yield
(mean pe_per_em photoelectrons: track lengths and conversion depths vary), N_mu ~ Poisson(mean) muons each about
pe_per_muon / cos(zenith) (a gamma spread of 50%); the photoelectrons are Poisson in that yield and the PMT adds a
Gaussian charge spread of gain_spread sqrt(npe). A cell is hit above threshold_pe. Times: a plane front along the
shower axis, delayed by a curvature of front_curvature ns per m from the axis (muons, which come from higher up,
muon_curvature), and a jitter of time_jitter / sqrt(npe) plus time_floor (ns). Noise: each cell fires at
noise_rate (Hz) in a window_ns window with 1-3 photoelectrons at a uniform time. An event is kept when at least
trigger_hits cells are hit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gnnjet.errors import GnnjetError

LIGHT_SPEED = 0.299792458  # m/ns


@dataclass(frozen=True)
class Pond:
    """The geometry (m) and response of the pond; defaults: WCDA-1 (150 m x 150 m, 900 cells of 5 m x 5 m)."""

    size_x: float = 150.0
    size_y: float = 150.0
    cell_size: float = 5.0
    pe_per_em: float = 3.0
    pe_per_muon: float = 60.0
    gain_spread: float = 0.3
    threshold_pe: float = 1.0
    time_jitter: float = 2.0
    time_floor: float = 0.5
    front_curvature: float = 0.05
    muon_curvature: float = 0.02
    noise_rate: float = 2.0e4
    window_ns: float = 400.0
    trigger_hits: int = 20

    def __post_init__(self) -> None:
        if not (self.size_x > 0 and self.size_y > 0 and self.cell_size > 0):
            raise GnnjetError(f"pond geometry {self.size_x} m x {self.size_y} m with {self.cell_size} m cells: the "
                              "sizes must be positive")
        if self.cell_size > min(self.size_x, self.size_y):
            raise GnnjetError(f"pond geometry: cells of {self.cell_size} m do not fit in a {self.size_x} m x "
                              f"{self.size_y} m pond (no cells)")

    @property
    def grid(self) -> tuple[int, int]:
        """Cells along x and y (whole cells that fit)."""
        return int(self.size_x // self.cell_size), int(self.size_y // self.cell_size)

    @property
    def cells(self) -> np.ndarray:
        """Cell centres [C, 2] (m), the pond centred on the origin, row by row."""
        (nx, ny), (half_x, half_y) = self.grid, self.half_size()
        x = (np.arange(nx) + 0.5) * self.cell_size - half_x
        y = (np.arange(ny) + 0.5) * self.cell_size - half_y
        return np.stack(np.meshgrid(x, y, indexing="xy"), axis=-1).reshape(-1, 2)

    @property
    def cell_area(self) -> float:
        return self.cell_size**2

    def half_size(self) -> tuple[float, float]:
        """Half the extent (m) of the cells along x and y."""
        nx, ny = self.grid
        return nx * self.cell_size / 2, ny * self.cell_size / 2


@dataclass
class PondHits:
    """One event's hit cells (sorted by decreasing charge): positions [H, 2] (m), charges [H] (pe), times [H] (ns),
    muons [H] (true muons in the cell), noise [H] bool (a noise hit)."""

    xy: np.ndarray
    charge: np.ndarray
    time: np.ndarray
    muons: np.ndarray
    noise: np.ndarray


def respond(pond: Pond, mean_em: np.ndarray, mean_muons: np.ndarray, axis_r: np.ndarray, core: np.ndarray,
            zenith: np.ndarray, azimuth: np.ndarray, rng: np.random.Generator) -> list[PondHits]:
    """Hits of B showers from their mean particle numbers per cell [B, C] and axis distances [B, C] (m)."""
    cells = pond.cells
    n_em, n_mu = rng.poisson(mean_em), rng.poisson(mean_muons)
    em_yield = rng.gamma(np.maximum(n_em, 1), pond.pe_per_em) * (n_em > 0)
    muon_mean = pond.pe_per_muon / np.cos(zenith)[:, None]
    muon_yield = rng.gamma(np.maximum(4 * n_mu, 1), muon_mean / 4) * (n_mu > 0)
    npe = rng.poisson(em_yield + muon_yield)
    charge = npe + rng.normal(0.0, 1.0, npe.shape) * pond.gain_spread * np.sqrt(npe)
    hit = (npe > 0) & (charge >= pond.threshold_pe)
    # plane front: cells on the source's side are reached first; then the curvature delay and the jitter
    direction = np.stack([np.sin(zenith) * np.cos(azimuth), np.sin(zenith) * np.sin(azimuth)], axis=1)
    along = ((cells[None, :, :] - core[:, None, :]) * direction[:, None, :]).sum(axis=-1)
    curvature = np.where(n_mu > n_em, pond.muon_curvature, pond.front_curvature)
    jitter = pond.time_jitter / np.sqrt(np.maximum(npe, 1)) + pond.time_floor
    time = pond.window_ns / 2 - along / LIGHT_SPEED + curvature * axis_r + rng.normal(0.0, 1.0, npe.shape) * jitter
    events = []
    expected_noise = pond.noise_rate * pond.window_ns * 1e-9 * len(cells)
    for b in range(len(mean_em)):
        index = np.flatnonzero(hit[b])
        quiet = np.setdiff1d(np.arange(len(cells)), index)
        noisy = rng.choice(quiet, size=min(rng.poisson(expected_noise), len(quiet)), replace=False)
        both = np.concatenate([index, noisy])
        event_charge = np.concatenate([charge[b, index], rng.uniform(1.0, 3.0, len(noisy))])
        event_time = np.concatenate([time[b, index], rng.uniform(0.0, pond.window_ns, len(noisy))])
        order = np.argsort(-event_charge, kind="stable")
        events.append(PondHits(cells[both][order], event_charge[order], event_time[order],
                               np.concatenate([n_mu[b, index], np.zeros(len(noisy), np.int64)])[order],
                               (np.arange(len(both)) >= len(index))[order]))
    return events
