"""The GeoCLOSP location encoder: (lon, lat) -> spherical harmonics -> SIREN -> 384-d (chapter 7).

GeoCLOSP (Rege Cambrin et al., 2025) encodes a patch's location with SatCLIP's encoder: real
spherical harmonics up to degree ``L - 1`` (``L = 10`` gives ``L**2 = 100`` features), then a SIREN
MLP (sine activations), then a linear projection into the shared 384-d space.

Angle convention of the reference: azimuth ``phi = rad(lon + 180)`` and polar angle
``theta = rad(lat + 90)``, so ``theta = 0`` is the south pole. Any fixed convention gives an
orthonormal basis on the sphere; this one is kept so that features match the reference.

Real harmonics (no Condon-Shortley phase), with ``N_l^m = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!)``::

    Y_l^0  = N_l^0 P_l^0(cos theta)
    Y_l^m  = sqrt(2) N_l^m P_l^m(cos theta) cos(m phi)     (m > 0)
    Y_l^-m = sqrt(2) N_l^m P_l^m(cos theta) sin(m phi)     (m > 0)

ordered ``l = 0 .. L-1`` and ``m = -l .. l`` within a degree.

Upstream freezes a *pretrained* SatCLIP encoder. Its weights are not available offline, so the
default here (``trainable=False``) freezes the harmonics + SIREN at their seeded SIREN
initialisation: fixed random Fourier-like features of the location, from which only the
projection to 384-d is learned. ``trainable=True`` learns the SIREN too.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from closp_lite.models.image import EMBED_DIM

N_HARMONICS = 10  # L: degrees 0 .. 9
SIREN_WIDTH = 256
SIREN_LAYERS = 2  # sine layers; a linear layer follows
FIRST_W0 = 30.0
HIDDEN_W0 = 1.0
DROPOUT = 0.5


def harmonic_angles(lonlat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (theta, phi) in radians of (N, 2) lon/lat degrees in the reference convention (chapter 7).

    ``theta = rad(lat + 90)`` (0 at the south pole, pi at the north pole), ``phi = rad(lon + 180)``.

    Raises:
        ValueError: for a shape other than (N, 2) or latitudes outside [-90, 90].
    """
    if lonlat.ndim != 2 or lonlat.shape[1] != 2:
        raise ValueError(f"locations must have shape (N, 2) as (lon, lat) degrees, got {tuple(lonlat.shape)}")
    if bool((lonlat[:, 1].abs() > 90).any()):
        raise ValueError("latitudes must lie in [-90, 90] degrees: are lon and lat swapped?")
    return torch.deg2rad(lonlat[:, 1] + 90.0), torch.deg2rad(lonlat[:, 0] + 180.0)


def associated_legendre(n_degrees: int, theta: torch.Tensor) -> dict[tuple[int, int], torch.Tensor]:
    """``P_l^m(cos theta)`` for ``0 <= m <= l < n_degrees``, without the Condon-Shortley phase (chapter 7).

    Uses the stable three-term recurrence in ``l`` from ``P_m^m = (2m-1)!! sin(theta)^m``;
    ``sin(theta)`` is taken directly (not ``sqrt(1 - x^2)``) so the poles are exact.
    """
    x, s = torch.cos(theta), torch.sin(theta)
    p: dict[tuple[int, int], torch.Tensor] = {}
    for m in range(n_degrees):
        p[m, m] = math.prod(range(1, 2 * m, 2)) * s**m
        if m + 1 < n_degrees:
            p[m + 1, m] = (2 * m + 1) * x * p[m, m]
        for degree in range(m + 2, n_degrees):
            p[degree, m] = ((2 * degree - 1) * x * p[degree - 1, m] - (degree + m - 1) * p[degree - 2, m]) / (degree - m)
    return p


def harmonic_index(n_degrees: int = N_HARMONICS) -> list[tuple[int, int]]:
    """The (l, m) of every feature, in feature order: l = 0 .. L-1, m = -l .. l (chapter 7)."""
    return [(degree, m) for degree in range(n_degrees) for m in range(-degree, degree + 1)]


def spherical_harmonics(lonlat: torch.Tensor, n_degrees: int = N_HARMONICS) -> torch.Tensor:
    """Real spherical harmonics of (N, 2) lon/lat degrees -> (N, n_degrees**2), computed in float64 (chapter 7)."""
    theta, phi = harmonic_angles(lonlat.to(torch.float64))
    legendre = associated_legendre(n_degrees, theta)
    columns = []
    for degree, m in harmonic_index(n_degrees):
        a = abs(m)
        norm = math.sqrt((2 * degree + 1) / (4 * math.pi) * math.factorial(degree - a) / math.factorial(degree + a))
        if m == 0:
            columns.append(norm * legendre[degree, 0])
        else:
            wave = torch.cos(a * phi) if m > 0 else torch.sin(a * phi)
            columns.append(math.sqrt(2) * norm * legendre[degree, a] * wave)
    return torch.stack(columns, dim=1)


class Sine(nn.Module):
    """A SIREN layer: ``sin(w0 * (W x + b))`` with the SIREN initialisation (Sitzmann et al., 2020; chapter 7).

    First layer: ``W ~ U(-1/n_in, 1/n_in)``; later layers: ``W ~ U(-sqrt(6/n_in)/w0, sqrt(6/n_in)/w0)``,
    which keeps the pre-activations of every layer distributed alike.
    """

    def __init__(self, n_in: int, n_out: int, w0: float, first: bool) -> None:
        super().__init__()
        self.w0 = w0
        self.linear = nn.Linear(n_in, n_out)
        bound = 1 / n_in if first else math.sqrt(6 / n_in) / w0
        nn.init.uniform_(self.linear.weight, -bound, bound)
        nn.init.uniform_(self.linear.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer."""
        return torch.sin(self.w0 * self.linear(x))


def siren(n_in: int = N_HARMONICS**2, width: int = SIREN_WIDTH, dropout: float = DROPOUT) -> nn.Sequential:
    """SIREN MLP 100 -> 256 (sine, w0 30) -> 256 (sine, w0 1) -> dropout -> 256 (linear) (chapter 7)."""
    last = nn.Linear(width, width)
    bound = math.sqrt(6 / width) / HIDDEN_W0
    nn.init.uniform_(last.weight, -bound, bound)
    return nn.Sequential(
        Sine(n_in, width, FIRST_W0, first=True),
        Sine(width, width, HIDDEN_W0, first=False),
        nn.Dropout(dropout),
        last,
    )


class LocationEncoder(nn.Module):
    """(lon, lat) degrees -> 384-d unit vectors: harmonics, SIREN, projection (chapter 7).

    Args:
        trainable: learn the SIREN as well (default False: frozen at its seeded initialisation,
            standing in for the frozen pretrained SatCLIP encoder of the reference; the projection
            is always trained).
        n_degrees: L, the number of harmonic degrees (features = L**2).
    """

    def __init__(self, trainable: bool = False, n_degrees: int = N_HARMONICS) -> None:
        super().__init__()
        self.n_degrees = n_degrees
        self.siren = siren(n_degrees**2)
        self.siren.requires_grad_(trainable)
        self.projection = nn.Linear(SIREN_WIDTH, EMBED_DIM)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Embed (N, 2) lon/lat degrees to (N, 384) unit vectors."""
        device = self.projection.weight.device
        features = spherical_harmonics(lonlat.cpu(), self.n_degrees).to(device=device, dtype=torch.float32)
        return nn.functional.normalize(self.projection(self.siren(features)), dim=-1)
