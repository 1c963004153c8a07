"""Crisis events on a simulated land-cover layout: floods, burned areas, earthquake damage (chapters 1, 2).

Each function changes a :class:`~closp_lite.simulate.landcover.Layout` the way the event changes
what Dynamic World would map, and returns an :class:`Event` with the per-pixel extent and what
the image renderers need:

* **Flood**: water spreads over the lowest land next to rivers and lakes. Open land under water
  becomes *Water* (sediment-laden: brighter than a lake in S2, dark in S1); trees and shrub
  standing in water become *Flooded Vegetation* (bright in VV by the water-trunk double bounce).
* **Burned area**: a fire perimeter over vegetation; the scar is mapped as *Bare* and shows the
  burn spectrum in S2 (NIR down, SWIR up, NBR below zero).
* **Earthquake damage**: clusters of collapsed buildings inside built-up land. The class map
  stays *Built*; Sentinel-1 sees the loss of wall-ground double bounce and a rougher texture.

The crisis label is given when the event covers at least
:data:`~closp_lite.simulate.landcover.LABEL_MIN_FRACTION` of the patch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from closp_lite.simulate.landcover import (
    BARE,
    BUILT,
    CROPS,
    FLOODED_VEG,
    GRASS,
    LABEL_MIN_FRACTION,
    SHRUB,
    SNOW,
    TREES,
    WATER,
    Layout,
    noise_fields,
)

EVENT_LABELS: dict[str, str] = {"flood": "Flooded Area", "burned": "Burned Area", "earthquake": "Earthquake Damage"}
"""The crisis label of each simulated event."""


@dataclass
class Event:
    """What a crisis event did to a layout (chapters 1, 2).

    ``kind`` is ``flood``, ``burned`` or ``earthquake``; ``extent`` a boolean (H, W) map of the
    affected pixels; ``severity`` float (H, W) in [0, 1] (damage grade for earthquakes);
    ``overrides`` maps surface names of :data:`closp_lite.simulate.spectra.EVENT_SPECTRA` to the
    pixels that show them in Sentinel-2.
    """

    kind: str
    extent: np.ndarray
    severity: np.ndarray
    overrides: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        """Share of the patch the event covers."""
        return float(self.extent.mean())

    @property
    def label(self) -> str | None:
        """The crisis label if the event covers enough of the patch, else None."""
        return EVENT_LABELS[self.kind] if self.fraction >= LABEL_MIN_FRACTION else None


def _check_fraction(fraction: float) -> float:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"an event fraction must lie in [0, 1], got {fraction}")
    return float(fraction)


def _top(score: np.ndarray, allowed: np.ndarray, n: int) -> np.ndarray:
    """Boolean map of the ``n`` allowed pixels with the highest score."""
    chosen = np.zeros(score.shape, dtype=bool)
    candidates = np.flatnonzero(allowed)
    n = min(n, candidates.size)
    if n > 0:
        best = np.argpartition(-score.ravel()[candidates], n - 1)[:n]
        chosen.ravel()[candidates[best]] = True
    return chosen


def flood(layout: Layout, fraction: float, rng: np.random.Generator) -> Event:
    """Flood the lowest land next to the water over ``fraction`` of the patch, in place (chapters 1, 2).

    Raises:
        ValueError: if ``fraction`` is outside [0, 1].
    """
    fraction = _check_fraction(fraction)
    mask = layout.mask
    (detail,) = noise_fields(rng, [4.0], mask.shape[0])
    score = -layout.elevation - np.minimum(layout.water_distance, 200.0) / 25.0 + 0.2 * detail
    land = ~np.isin(mask, (WATER, BUILT, SNOW))
    flooded = _top(score, land, int(round(fraction * mask.size)))
    standing = flooded & np.isin(mask, (TREES, SHRUB))
    open_water = flooded & ~standing
    mask[standing] = FLOODED_VEG
    mask[open_water] = WATER
    return Event("flood", flooded, flooded.astype(np.float32), {"flood water": open_water})


def burn(layout: Layout, fraction: float, rng: np.random.Generator) -> Event:
    """Burn a fire perimeter over ``fraction`` of the patch's vegetation, in place (chapter 1).

    Raises:
        ValueError: if ``fraction`` is outside [0, 1].
    """
    fraction = _check_fraction(fraction)
    mask = layout.mask
    blob, detail = noise_fields(rng, [18.0, 3.0], mask.shape[0])
    vegetation = np.isin(mask, (TREES, SHRUB, GRASS, CROPS, FLOODED_VEG))
    burned = _top(blob + 0.25 * detail, vegetation, int(round(fraction * mask.size)))
    mask[burned] = BARE
    return Event("burned", burned, burned.astype(np.float32), {"burned": burned})


def earthquake(layout: Layout, fraction: float, rng: np.random.Generator) -> Event:
    """Damage clusters of buildings over ``fraction`` of the patch (at most its built-up land) (chapter 2).

    The class map does not change; ``severity`` (0.4-1) grades the damage per pixel.

    Raises:
        ValueError: if ``fraction`` is outside [0, 1].
    """
    fraction = _check_fraction(fraction)
    mask = layout.mask
    blob, detail = noise_fields(rng, [8.0, 1.5], mask.shape[0])
    damaged = _top(blob + 0.5 * detail, mask == BUILT, int(round(fraction * mask.size)))
    severity = np.where(damaged, np.clip(0.7 + 0.3 * detail, 0.4, 1.0), 0.0).astype(np.float32)
    return Event("earthquake", damaged, severity)


EVENTS = {"flood": flood, "burned": burn, "earthquake": earthquake}
"""The event functions by kind."""


def apply_event(kind: str, layout: Layout, fraction: float, rng: np.random.Generator) -> Event:
    """Apply crisis event ``kind`` (``flood``, ``burned``, ``earthquake``) to ``layout`` in place (chapters 1, 2).

    Raises:
        ValueError: for an unknown kind or a fraction outside [0, 1].
    """
    if kind not in EVENTS:
        raise ValueError(f"unknown crisis event {kind!r}: choose one of {sorted(EVENTS)}")
    return EVENTS[kind](layout, fraction, rng)
