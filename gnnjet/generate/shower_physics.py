"""A parametric extensive air shower at ground: the primaries, and the mean numbers of electromagnetic particles and
muons that a flat detector's cells receive.

Sources of the parametrisations (textbook forms; see e.g. Gaisser, Engel and Resconi, "Cosmic Rays and Particle
Physics", 2nd ed., chapters 15-17, and Grieder, "Extensive Air Showers"):

* Electromagnetic size: Greisen's approximation N_e(t) = 0.31 / sqrt(beta0) exp(t (1 - 1.5 ln s)), t the depth in
  radiation lengths (X0 = 36.7 g/cm^2) after the first interaction, beta0 = ln(E / E_c), E_c = 85 MeV, and the
  shower age s = 3 t / (t + 2 beta0). The observation depth is 600 g/cm^2 vertical (LHAASO, 4410 m a.s.l.) over
  cos(zenith); the first interaction depth is exponential (mean 9/7 X0 for photons, 80 g/cm^2 for protons), which
  makes the size and age of a shower fluctuate.
* Lateral distribution: NKG, rho(r) = N C(s) / r_M^2 (r / r_M)^(s - 2) (1 + r / r_M)^(s - 4.5), with the Moliere
  radius scaled to the altitude (9.6 g/cm^2 over the air density at 4410 m: about 130 m).
* Protons: a Beta-distributed fraction of the energy (mean 0.4) goes into the electromagnetic cascade, which is
  older (broader) than a photon's; part of it (30%) arrives as sub-cores, compact electromagnetic sub-showers of
  secondary hadrons displaced by tens of metres, which make proton footprints clumpy.
* Muons: Heitler-Matthews, N_mu = (E / 20 GeV)^0.85 for protons, about 3% of that in photon showers
  (photoproduction), lateral distribution of Greisen's form r^-0.75 (1 + r / 320 m)^-2.5 up to 800 m: few muons,
  spread far beyond the electromagnetic core, each a large signal.

Left out: the hadronic component reaching the ground, the energy spectrum of ground particles, geomagnetic
deflection, heavier primaries, shower-to-shower variation of the Moliere radius, and the exact shape of the
front (see `pond` for the times).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gamma as gamma_function

import numpy as np

RADIATION_LENGTH = 36.7  # g/cm^2 in air
CRITICAL_ENERGY_TEV = 85e-6  # 85 MeV
PROTON_INTERACTION_LENGTH = 80.0  # g/cm^2
MUON_R0, MUON_R_MAX = 320.0, 800.0  # m: Greisen's muon lateral scale and the largest radius drawn
AGE_RANGE = (0.6, 1.9)  # the ages the NKG function is used at (its normalisation needs s < 2.25)
CLASSES = ("gamma", "proton")


@dataclass(frozen=True)
class Primaries:
    """What hits the atmosphere: energies (TeV) from a power law E^-index per class between energy_min and
    energy_max, zenith angles with an isotropic flux on a flat detector up to zenith_max (degrees), cores uniform over
    the pond enlarged by core_margin (m) on every side (edge and outside events exist)."""

    energy_min: float = 0.3
    energy_max: float = 30.0
    index_gamma: float = 2.6
    index_proton: float = 2.7
    zenith_max: float = 40.0
    core_margin: float = 50.0

    def index(self, cls: str) -> float:
        return {"gamma": self.index_gamma, "proton": self.index_proton}[cls]

    def energies(self, cls: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """[n] energies in TeV from E^-index between the bounds (inverse transform of the power law)."""
        lo, hi, index = self.energy_min, self.energy_max, self.index(cls)
        u = rng.uniform(size=n)
        if abs(index - 1) < 1e-9:
            return lo * (hi / lo) ** u
        a, b = lo ** (1 - index), hi ** (1 - index)
        return (a + u * (b - a)) ** (1 / (1 - index))

    def directions(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """[n] zenith and azimuth angles (rad): dN/dcos(zenith) ~ cos(zenith) (flux through a flat surface)."""
        cos_min = np.cos(np.radians(self.zenith_max))
        cos_zenith = np.sqrt(rng.uniform(cos_min**2, 1.0, size=n))
        return np.arccos(cos_zenith), rng.uniform(-np.pi, np.pi, size=n)


@dataclass(frozen=True)
class Atmosphere:
    """The shower parameters of the text above (depth in g/cm^2, lengths in m)."""

    depth: float = 600.0
    moliere_radius: float = 130.0
    photon_factor: float = 2.0  # electromagnetic particles counted in water per electron (converted photons)
    proton_em_fraction: float = 0.4
    proton_age_offset: float = 0.15
    subcore_fraction: float = 0.3  # of a proton's electromagnetic particles, arriving in sub-cores
    subcores_per_decade: float = 2.0  # mean number of sub-cores: 1 + this x log10(E / 1 TeV), at least 0.5
    subcore_distance: float = 25.0  # mean displacement of a sub-core from the core (exponential), m
    muon_scale_tev: float = 0.02  # xi in N_mu = (E / xi)^0.85
    gamma_muon_ratio: float = 0.03


def nkg_norm(age: np.ndarray) -> np.ndarray:
    """C(s) = Gamma(4.5 - s) / (2 pi Gamma(s) Gamma(4.5 - 2 s)): integral of 2 pi r rho(r) dr equals N."""
    gamma = np.vectorize(gamma_function)
    return gamma(4.5 - age) / (2 * np.pi * gamma(age) * gamma(4.5 - 2 * age))


def nkg_density(r: np.ndarray, size: np.ndarray, age: np.ndarray, moliere_radius: float | np.ndarray) -> np.ndarray:
    """Particles per m^2 at distance r (m) from the axis of showers of `size` particles and `age` (broadcast)."""
    x = r / moliere_radius
    return size * nkg_norm(age) / moliere_radius**2 * x ** (age - 2) * (1 + x) ** (age - 4.5)


def greisen_size(energy: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N_e, age) of electromagnetic cascades of `energy` TeV at `depth` g/cm^2 after their first interaction."""
    t = np.maximum(depth, 1.0) / RADIATION_LENGTH
    beta0 = np.log(np.maximum(energy, 2 * CRITICAL_ENERGY_TEV) / CRITICAL_ENERGY_TEV)
    age = 3 * t / (t + 2 * beta0)
    size = 0.31 / np.sqrt(beta0) * np.exp(t * (1 - 1.5 * np.log(age)))
    return size, np.clip(age, *AGE_RANGE)


def _muon_profile(r: np.ndarray) -> np.ndarray:
    return r**-0.75 * (1 + r / MUON_R0) ** -2.5


def _muon_norm() -> float:
    """Integral of 2 pi r profile(r) dr from 1 m to MUON_R_MAX, so that N_mu profile / norm is a density."""
    r = np.geomspace(1.0, MUON_R_MAX, 4000)
    integrand = 2 * np.pi * r * _muon_profile(r)
    return float(np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(r)))


MUON_NORM = _muon_norm()


def muon_density(r: np.ndarray, number: np.ndarray) -> np.ndarray:
    """Muons per m^2 at distance r (m) from the axis of showers with `number` muons in all (0 beyond 800 m)."""
    r = np.clip(r, 1.0, None)
    return np.where(r <= MUON_R_MAX, number * _muon_profile(r) / MUON_NORM, 0.0)


@dataclass
class GroundShowers:
    """B showers: truth per shower and the mean numbers of electromagnetic particles and muons in each of C cells
    ([B, C]), in the cells' own (ground) area."""

    energy: np.ndarray  # [B] TeV
    zenith: np.ndarray  # [B] rad
    azimuth: np.ndarray  # [B] rad, direction the shower comes from
    core: np.ndarray  # [B, 2] m
    em_size: np.ndarray  # [B] electromagnetic particles at ground (all radii, photons counted per photon_factor)
    age: np.ndarray  # [B]
    muons: np.ndarray  # [B] muons at ground (all radii)
    axis_r: np.ndarray  # [B, C] distance of each cell centre from the shower axis, m
    mean_em: np.ndarray  # [B, C]
    mean_muons: np.ndarray  # [B, C]


def axis_distance(cells: np.ndarray, core: np.ndarray, zenith: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    """Distance (m) from ground points `cells` [C, 2] to the axes of showers through `core` [B, 2] -> [B, C]."""
    d = cells[None, :, :] - core[:, None, :]
    along = d[..., 0] * (np.sin(zenith) * np.cos(azimuth))[:, None] + d[..., 1] * (np.sin(zenith) *
                                                                                 np.sin(azimuth))[:, None]
    return np.sqrt(np.maximum((d**2).sum(axis=-1) - along**2, 0.0))


def showers_at_ground(cls: str, n: int, primaries: Primaries, atmosphere: Atmosphere, cells: np.ndarray,
                      cell_area: float, core_box: tuple[float, float, float, float], rng: np.random.Generator
                      ) -> GroundShowers:
    """Draw n primaries of class `cls` and the mean particle numbers of every cell (centres `cells` [C, 2], each of
    `cell_area` m^2); cores uniform in core_box (x_min, x_max, y_min, y_max)."""
    energy = primaries.energies(cls, n, rng)
    zenith, azimuth = primaries.directions(n, rng)
    core = np.stack([rng.uniform(core_box[0], core_box[1], n), rng.uniform(core_box[2], core_box[3], n)], axis=1)
    slant = atmosphere.depth / np.cos(zenith)
    r_min = np.sqrt(cell_area / np.pi)  # the NKG density averaged over a cell around the axis stays finite
    axis_r = axis_distance(cells, core, zenith, azimuth)
    r = np.maximum(axis_r, r_min)
    projected = cell_area * np.cos(zenith)[:, None]  # a cell's area seen from the shower plane
    if cls == "gamma":
        size, age = greisen_size(energy, slant - rng.exponential(RADIATION_LENGTH * 9 / 7, n))
        size = size * atmosphere.photon_factor
        mean_em = nkg_density(r, size[:, None], age[:, None], atmosphere.moliere_radius) * projected
        muon_share = atmosphere.gamma_muon_ratio  # photoproduction: a fraction of a proton's muons
    else:
        fraction = rng.beta(10 * atmosphere.proton_em_fraction, 10 * (1 - atmosphere.proton_em_fraction), n)
        size, age = greisen_size(fraction * energy, slant - rng.exponential(PROTON_INTERACTION_LENGTH, n))
        size = size * atmosphere.photon_factor
        age = np.clip(age + atmosphere.proton_age_offset + rng.normal(0, 0.05, n), *AGE_RANGE)
        main = size * (1 - atmosphere.subcore_fraction)
        mean_em = nkg_density(r, main[:, None], age[:, None], atmosphere.moliere_radius) * projected
        mean_em = mean_em + _subcores(energy, size * atmosphere.subcore_fraction, age, core, zenith, azimuth, cells,
                                      r_min, projected, atmosphere, rng)
        muon_share = 1.0
    muons = (energy / atmosphere.muon_scale_tev) ** 0.85 * muon_share * rng.lognormal(0.0, 0.2, n)
    mean_muons = muon_density(r, muons[:, None]) * projected
    return GroundShowers(energy, zenith, azimuth, core, size, age, muons, axis_r, mean_em, mean_muons)


def _subcores(energy: np.ndarray, size: np.ndarray, age: np.ndarray, core: np.ndarray, zenith: np.ndarray,
              azimuth: np.ndarray, cells: np.ndarray, r_min: float, projected: np.ndarray, atmosphere: Atmosphere,
              rng: np.random.Generator, most: int = 8) -> np.ndarray:
    """Mean electromagnetic particles per cell [B, C] of each proton's sub-cores: Poisson in number (at most
    `most`), Dirichlet shares of `size`, displaced exponentially from the core, younger (more compact) than the
    main cascade, with half its Moliere radius."""
    n = len(energy)
    mean_count = np.maximum(1 + atmosphere.subcores_per_decade * np.log10(energy), 0.5)
    count = np.clip(rng.poisson(mean_count), 1, most)
    shares = rng.dirichlet(np.ones(most), n) * (np.arange(most)[None, :] < count[:, None])
    shares = shares / shares.sum(axis=1, keepdims=True)
    distance = rng.exponential(atmosphere.subcore_distance, (n, most))
    angle = rng.uniform(-np.pi, np.pi, (n, most))
    total = np.zeros((n, len(cells)))
    sub_age = np.clip(age - 0.2, *AGE_RANGE)
    for k in range(most):
        used = shares[:, k] > 0
        if not used.any():
            continue
        where = core + distance[:, k, None] * np.stack([np.cos(angle[:, k]), np.sin(angle[:, k])], axis=1)
        r = np.maximum(axis_distance(cells, where, zenith, azimuth), r_min)
        total += nkg_density(r, (size * shares[:, k])[:, None], sub_age[:, None], atmosphere.moliere_radius / 2)
    return total * projected
