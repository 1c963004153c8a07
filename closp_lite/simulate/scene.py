"""One simulated scene: place, date, land cover, crisis event and the Sentinel-1/-2 images (chapters 1, 2).

:func:`simulate_scene` is the experimenting API of the physics chapters: change the season, the
cloud fraction, the flood extent or the number of looks and look at both images of the *same*
ground. The corpus generator (:mod:`closp_lite.simulate.corpus`) calls :func:`render_patch`
instead, which renders one modality per scene, as in CrisisLandMark (S1 and S2 are unpaired).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from closp_lite.data.bands import PATCH_SIZE
from closp_lite.labels import DW_CLASSES
from closp_lite.simulate.backscatter import GRD_IW_LOOKS, s1_image
from closp_lite.simulate.events import Event, apply_event
from closp_lite.simulate.geography import (
    LANDCOVER_REGIONS,
    Region,
    class_priors,
    get_region,
    pixel_coords,
    sample_date,
    sample_location,
    timestamp,
)
from closp_lite.simulate.landcover import (
    BUILT,
    Layout,
    make_layout,
    mask_labels,
    sample_fractions,
)
from closp_lite.simulate.spectra import s2_image

SEASON_DAYS: dict[str, tuple[int, int]] = {"winter": (1, 20), "spring": (4, 20), "summer": (7, 15), "autumn": (10, 15)}
"""Month and day that stand for each (northern) season in :func:`simulate_scene`."""

EARTHQUAKE_MIN_BUILT = 0.25
"""Earthquake scenes are towns: at least this share of the patch is built up."""


@dataclass
class Scene:
    """A simulated scene (chapters 1, 2).

    ``mask`` uint8 (120, 120) Dynamic World class map (after the event); ``labels`` the source
    labels (classes covering >= 5% of the patch, then the crisis label); ``s1`` (2, 120, 120) dB
    and ``s2`` (12, 120, 120) reflectance x 10,000 (``None`` if not rendered); ``coords`` float32
    (2, 120, 120) UTM x, y of every pixel in ``crs``; ``event`` the crisis event or ``None``.
    """

    mask: np.ndarray
    labels: list[str]
    s1: np.ndarray | None
    s2: np.ndarray | None
    lon: float
    lat: float
    crs: int
    coords: np.ndarray
    date: dt.date
    region: str
    layout: Layout
    event: Event | None


def _season_date(season: str, region: Region) -> dt.date:
    if season not in SEASON_DAYS:
        raise ValueError(f"unknown season {season!r}: choose one of {sorted(SEASON_DAYS)}")
    month, day = SEASON_DAYS[season]
    if region.southern:
        month = (month + 5) % 12 + 1
    return dt.date(2018 if month < 6 else 2017, month, day)


def build_layout(
    region: Region, date: dt.date, rng: np.random.Generator, event: str | None = None, fractions: np.ndarray | None = None
) -> Layout:
    """Draw the land-cover layout of one scene in ``region`` on ``date`` (towns for earthquakes) (chapter 1)."""
    if fractions is None:
        fractions = sample_fractions(class_priors(region, date), rng)
        if event == "earthquake" and fractions[BUILT] < EARTHQUAKE_MIN_BUILT:
            fractions = fractions * (1 - EARTHQUAKE_MIN_BUILT) / (1 - fractions[BUILT])
            fractions[BUILT] = EARTHQUAKE_MIN_BUILT
    return make_layout(np.asarray(fractions, dtype=float), rng)


def scene_labels(mask: np.ndarray, event: Event | None) -> list[str]:
    """Return the source labels of a scene: Dynamic World classes by coverage, then the crisis label (chapter 3)."""
    labels = mask_labels(mask)
    if event is not None and event.label is not None:
        labels.append(event.label)
    return labels


def _simulate(
    region: Region,
    when: dt.date,
    rng: np.random.Generator,
    *,
    modalities: tuple[str, ...],
    event: str | None = None,
    event_fraction: float = 0.0,
    fractions: np.ndarray | None = None,
    cloud_fraction: float = 0.0,
    looks: float = GRD_IW_LOOKS,
    incidence_deg: float | None = None,
) -> Scene:
    """Place, layout, event and the requested images of one scene."""
    lon, lat = sample_location(region, rng)
    layout = build_layout(region, when, rng, event, fractions)
    crisis = apply_event(event, layout, event_fraction, rng) if event else None
    s1 = s2 = None
    if "s1" in modalities:
        damage = crisis.severity if crisis is not None and crisis.kind == "earthquake" else None
        s1 = s1_image(
            layout, when, region.climate, rng, southern=region.southern, incidence_deg=incidence_deg, looks=looks, damage=damage
        )
    if "s2" in modalities:
        overrides = crisis.overrides if crisis is not None else None
        s2 = s2_image(
            layout, when, region.climate, rng, southern=region.southern, cloud_fraction=cloud_fraction, overrides=overrides
        )
    crs, coords = pixel_coords(lon, lat, PATCH_SIZE)
    labels = scene_labels(layout.mask, crisis)
    return Scene(layout.mask, labels, s1, s2, lon, lat, crs, coords, when, region.name, layout, crisis)


CLEAR_SKY_CHANCE: dict[int, float] = {1: 0.3, 2: 0.4, 3: 0.6, 4: 0.8, 5: 0.9, 6: 1.0, 7: 1.0, 8: 1.0, 9: 0.85, 10: 0.6, 11: 0.35, 12: 0.3}
"""Relative chance, per month of the northern hemisphere, that a Sentinel-2 overpass of a European
land-cover patch is cloud-free (summer 1). A modelling assumption after Europe's cloud climatology
(cloudiest from November to February): it weights the dates of simulated land-cover S2 patches as
the selection of cloud-free scenes weighted BigEarthNet's."""


def clear_sky_chance(date: dt.date, region: Region) -> float:
    """Return :data:`CLEAR_SKY_CHANCE` of the month of ``date`` (shifted by half a year in the south) (chapter 1)."""
    month = (date.month + 5) % 12 + 1 if region.southern else date.month
    return CLEAR_SKY_CHANCE[month]


def render_patch(
    modality: str,
    region: Region,
    rng: np.random.Generator,
    *,
    event: str | None = None,
    event_fraction: float = 0.0,
    cloud_fraction: float = 0.0,
) -> tuple[Scene, str]:
    """Draw date, place, layout and event, and render one ``modality`` (``s1`` or ``s2``) (chapter 1).

    Land-cover S2 patches favour clear-sky months (:func:`clear_sky_chance`); radar sees through
    clouds, so S1 dates are uniform over the region's date range.

    Returns the scene and its ISO 8601 acquisition time (a sun-synchronous overpass).
    """
    if modality not in ("s1", "s2"):
        raise ValueError(f"modality must be 's1' or 's2', got {modality!r}")
    when = sample_date(region, rng)
    if modality == "s2" and event is None:
        # BigEarthNet kept only cloud-free Sentinel-2 scenes, so its dates follow the clear sky
        while rng.random() > clear_sky_chance(when, region):
            when = sample_date(region, rng)
    scene = _simulate(
        region, when, rng, modalities=(modality,), event=event, event_fraction=event_fraction, cloud_fraction=cloud_fraction
    )
    return scene, timestamp(when, scene.lon, modality, rng)


def simulate_scene(
    region: str | None = None,
    *,
    season: str | None = None,
    date: dt.date | None = None,
    fractions: dict[str, float] | None = None,
    cloud_fraction: float = 0.0,
    flood_fraction: float = 0.0,
    burn_fraction: float = 0.0,
    damage_fraction: float = 0.0,
    looks: float = GRD_IW_LOOKS,
    incidence_deg: float | None = None,
    seed: int = 0,
) -> Scene:
    """Simulate one scene and render *both* Sentinel-1 and Sentinel-2 images of it (chapters 1, 2).

    Args:
        region: a name of :data:`closp_lite.simulate.geography.REGIONS` (default: a random
            BigEarthNet region).
        season: ``winter``, ``spring``, ``summer`` or ``autumn`` (hemisphere-aware); or give ``date``.
        fractions: class name -> share of the patch (normalised); default drawn from the region.
        cloud_fraction: share of the S2 image under clouds (S1 sees through them).
        flood_fraction, burn_fraction, damage_fraction: extent of a crisis event (at most one > 0).
        looks: equivalent number of looks of the S1 speckle (4.4 for GRD IW).
        incidence_deg: S1 incidence angle at the patch's near edge (default random 30-45.5).
        seed: the random seed; the same arguments and seed give the same scene.

    Raises:
        ValueError: for an unknown region, season or class, or more than one event.
    """
    rng = np.random.default_rng(seed)
    chosen = get_region(region) if region else LANDCOVER_REGIONS[int(rng.integers(len(LANDCOVER_REGIONS)))]
    events = [(k, v) for k, v in (("flood", flood_fraction), ("burned", burn_fraction), ("earthquake", damage_fraction)) if v]
    if len(events) > 1:
        raise ValueError(f"give at most one crisis event per scene, got {[k for k, _ in events]}")
    if season is not None and date is not None:
        raise ValueError("give either season or date, not both")
    when = _season_date(season, chosen) if season else date or sample_date(chosen, rng)
    kind, share = events[0] if events else (None, 0.0)
    return _simulate(
        chosen,
        when,
        rng,
        modalities=("s1", "s2"),
        event=kind,
        event_fraction=share,
        fractions=_fraction_vector(fractions),
        cloud_fraction=cloud_fraction,
        looks=looks,
        incidence_deg=incidence_deg,
    )


def nearest_landcover_region(lon: float, lat: float) -> Region:
    """Return the land-cover region whose box centre is nearest (in degrees) to ``lon``, ``lat`` (chapter 1)."""
    return min(LANDCOVER_REGIONS, key=lambda r: float(np.hypot(np.mean(r.lon) - lon, np.mean(r.lat) - lat)))


def counterpart_scene(
    labels: list[str], lon: float, lat: float, date: dt.date, *, snow_fraction: float = 0.0, seed: int = 0
) -> Scene:
    """Simulate a scene like a real patch: its nearest region, its date, its Dynamic World labels (chapters 1, 2).

    Real patches carry patch-level labels, not pixel maps, so the labels share the patch equally;
    ``snow_fraction`` adds seasonal snow, which land-cover labels never mention. Used to set
    simulated patches beside the real examples and by ``benchmarks/calibration.py``.

    Raises:
        ValueError: if no label is a Dynamic World class.
    """
    classes = [name for name in labels if name in DW_CLASSES]
    if not classes:
        raise ValueError(f"none of the labels {labels} is a Dynamic World class: harmonize them first (closp_lite.labels.harmonize)")
    shares = dict.fromkeys(classes, (1 - snow_fraction) / len(classes))
    if snow_fraction > 0:
        shares["Snow and Ice"] = shares.get("Snow and Ice", 0.0) + snow_fraction
    return simulate_scene(nearest_landcover_region(lon, lat).name, date=date, fractions=shares, seed=seed)


def _fraction_vector(fractions: dict[str, float] | None) -> np.ndarray | None:
    if fractions is None:
        return None
    unknown = sorted(set(fractions) - set(DW_CLASSES))
    if unknown:
        raise ValueError(f"unknown Dynamic World classes {unknown}: choose from {DW_CLASSES}")
    vector = np.array([max(float(fractions.get(name, 0.0)), 0.0) for name in DW_CLASSES])
    if vector.sum() <= 0:
        raise ValueError("fractions must give at least one class a positive share")
    return vector / vector.sum()
