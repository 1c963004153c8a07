"""Where and when simulated patches are taken (chapters 1 and 2).

Every simulated patch gets a realistic place and date. Land-cover patches come from the ten
BigEarthNet countries (Europe, June 2017 - May 2018); crisis patches come from the regions where
the corresponding CrisisLandMark sources were recorded (burned areas in California as in CaBuAr,
floods in real flood regions, earthquake damage in real earthquake regions). Land-cover priors
depend on the region, so location carries information a location-aware model can learn.

Coordinates are written like the corpus: the x, y of every pixel in the patch's UTM zone
(EPSG 326xx north, 327xx south), computed with pyproj.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache, lru_cache

import numpy as np
from pyproj import Transformer

from closp_lite.data.bands import PATCH_SIZE
from closp_lite.data.format import centre_lonlat as centre_lonlat  # the one implementation, re-exported
from closp_lite.labels import DW_CLASSES

PIXEL_SIZE_M = 10.0

# Phenology of each climate: day of year of peak greenness in the northern hemisphere, how long
# the green season lasts (days, Gaussian width), the greenness floor in the dormant season and
# the share of evergreen trees (conifers, cork oak, eucalyptus).
CLIMATES: dict[str, dict[str, float]] = {
    "boreal": {"peak_doy": 195, "width": 40, "floor": 0.15, "evergreen": 0.8},
    "temperate": {"peak_doy": 180, "width": 55, "floor": 0.3, "evergreen": 0.4},
    "atlantic": {"peak_doy": 170, "width": 75, "floor": 0.5, "evergreen": 0.3},
    "alpine": {"peak_doy": 200, "width": 40, "floor": 0.15, "evergreen": 0.7},
    "mediterranean": {"peak_doy": 105, "width": 50, "floor": 0.3, "evergreen": 0.8},
    "semiarid": {"peak_doy": 90, "width": 35, "floor": 0.15, "evergreen": 0.6},
    "tropical": {"peak_doy": 240, "width": 70, "floor": 0.55, "evergreen": 0.9},
}


@dataclass(frozen=True)
class Region:
    """A geographic region with a bounding box, a climate, land-cover priors and a date range.

    ``priors`` maps Dynamic World class names to relative weights of appearing in a patch;
    ``winter_snow`` is the extra weight of "Snow and Ice" in the winter months;
    ``events`` names the crisis events that happen here (``flood``, ``burned``, ``earthquake``).
    Introduced in chapter 1.
    """

    name: str
    lon: tuple[float, float]
    lat: tuple[float, float]
    climate: str
    priors: dict[str, float]
    start: dt.date
    end: dt.date
    events: tuple[str, ...] = ()
    winter_snow: float = 0.0
    months: tuple[int, ...] = field(default=tuple(range(1, 13)))

    @property
    def southern(self) -> bool:
        """True if the region lies in the southern hemisphere (seasons are shifted by half a year)."""
        return sum(self.lat) / 2 < 0


_BEN_START, _BEN_END = dt.date(2017, 6, 1), dt.date(2018, 5, 31)

# Land-cover regions: the BigEarthNet countries, with priors after CORINE 2018 statistics
# (rounded, qualitative: forests and lakes in Finland, pastures in Ireland, ...).
LANDCOVER_REGIONS: tuple[Region, ...] = (
    Region(
        "Finland (boreal)", (23.0, 29.5), (61.0, 65.5), "boreal",
        {"Trees": 6, "Water": 2.5, "Flooded Vegetation": 1.2, "Grass": 0.8, "Crops": 1.0, "Bare": 0.3, "Built": 0.3, "Shrub and Scrub": 0.8},
        _BEN_START, _BEN_END, winter_snow=2.0,
    ),
    Region(
        "Lithuania (temperate plains)", (21.5, 26.0), (54.2, 56.2), "temperate",
        {"Crops": 5, "Trees": 3, "Grass": 2.5, "Water": 0.8, "Built": 0.6, "Flooded Vegetation": 0.5, "Shrub and Scrub": 0.5},
        _BEN_START, _BEN_END, winter_snow=1.5,
    ),
    Region(
        "Ireland (Atlantic pastures)", (-9.8, -6.3), (51.8, 54.8), "atlantic",
        {"Grass": 6, "Crops": 1.0, "Trees": 1.2, "Flooded Vegetation": 1.0, "Water": 0.8, "Built": 0.6, "Shrub and Scrub": 1.0, "Bare": 0.2},
        _BEN_START, _BEN_END,
    ),
    Region(
        "Belgium and Luxembourg (crops and towns)", (3.0, 6.2), (49.6, 51.2), "temperate",
        {"Crops": 5, "Grass": 3, "Built": 2.5, "Trees": 2.5, "Water": 0.4, "Bare": 0.3},
        _BEN_START, _BEN_END,
    ),
    Region(
        "Austria and Switzerland (Alps)", (7.0, 15.5), (46.4, 47.6), "alpine",
        {"Trees": 5, "Grass": 3.5, "Bare": 1.5, "Snow and Ice": 1.0, "Crops": 1.0, "Built": 0.8, "Water": 0.6, "Shrub and Scrub": 0.8},
        _BEN_START, _BEN_END, winter_snow=2.0,
    ),
    Region(
        "Portugal (Mediterranean)", (-8.6, -7.0), (37.3, 41.8), "mediterranean",
        {"Shrub and Scrub": 4, "Trees": 3.5, "Crops": 3, "Grass": 1.5, "Bare": 1.2, "Built": 0.8, "Water": 0.6},
        _BEN_START, _BEN_END,
    ),
    Region(
        "Serbia and Kosovo (Balkans)", (19.5, 22.0), (42.3, 45.8), "temperate",
        {"Crops": 4.5, "Trees": 4, "Grass": 2.0, "Shrub and Scrub": 1.0, "Built": 0.7, "Water": 0.5, "Bare": 0.4},
        _BEN_START, _BEN_END, winter_snow=1.0,
    ),
)

# Crisis regions: where the CrisisLandMark crisis sources were recorded.
EVENT_REGIONS: tuple[Region, ...] = (
    Region(
        "California (wildfires)", (-122.8, -118.0), (34.2, 40.8), "mediterranean",
        {"Shrub and Scrub": 5, "Trees": 3.5, "Grass": 2.5, "Bare": 1.5, "Built": 0.4, "Crops": 0.5},
        dt.date(2017, 6, 1), dt.date(2021, 11, 30), events=("burned",), months=(6, 7, 8, 9, 10, 11),
    ),
    Region(
        "Po valley, Italy (floods)", (9.5, 12.3), (44.5, 45.4), "temperate",
        {"Crops": 5, "Grass": 1.5, "Trees": 1.2, "Built": 1.0, "Water": 1.5, "Flooded Vegetation": 0.8},
        dt.date(2017, 1, 1), dt.date(2023, 6, 30), events=("flood",), months=(5, 10, 11, 12),
    ),
    Region(
        "Central Europe (Danube and Elbe floods)", (11.0, 17.5), (47.8, 50.8), "temperate",
        {"Crops": 3.5, "Grass": 2.5, "Trees": 2.5, "Built": 1.0, "Water": 1.5, "Flooded Vegetation": 0.8},
        dt.date(2017, 1, 1), dt.date(2024, 9, 30), events=("flood",), months=(5, 6, 7, 9),
    ),
    Region(
        "Bangladesh (monsoon floods)", (88.5, 91.5), (22.5, 25.5), "tropical",
        {"Crops": 5, "Water": 2.5, "Flooded Vegetation": 2.5, "Trees": 1.5, "Built": 0.8, "Grass": 0.8},
        dt.date(2017, 1, 1), dt.date(2022, 12, 31), events=("flood",), months=(6, 7, 8, 9),
    ),
    Region(
        "Mozambique (cyclone floods)", (33.5, 35.5), (-20.5, -17.0), "tropical",
        {"Grass": 3, "Shrub and Scrub": 2.5, "Crops": 2.5, "Trees": 2, "Water": 1.5, "Flooded Vegetation": 1.5},
        dt.date(2017, 1, 1), dt.date(2022, 12, 31), events=("flood",), months=(1, 2, 3),
    ),
    Region(
        "Khuzestan, Iran (river floods)", (48.0, 49.5), (30.8, 32.5), "semiarid",
        {"Bare": 4, "Crops": 2.5, "Shrub and Scrub": 1.5, "Water": 1.0, "Built": 0.8, "Grass": 0.5},
        dt.date(2018, 1, 1), dt.date(2020, 12, 31), events=("flood",), months=(3, 4),
    ),
    Region(
        "South-east Turkey (2023 earthquakes)", (36.0, 38.5), (36.2, 38.0), "semiarid",
        {"Built": 3, "Crops": 3, "Bare": 2.5, "Shrub and Scrub": 1.5, "Grass": 1.0, "Trees": 0.4},
        dt.date(2023, 2, 7), dt.date(2023, 3, 31), events=("earthquake",),
    ),
    Region(
        "Central Italy (Apennine earthquakes)", (12.8, 13.6), (42.3, 43.1), "mediterranean",
        {"Built": 2.5, "Trees": 3, "Grass": 2.5, "Crops": 2, "Shrub and Scrub": 1.0},
        dt.date(2016, 8, 25), dt.date(2017, 1, 31), events=("earthquake",),
    ),
    Region(
        "Western Balkans (Albania and Croatia earthquakes)", (15.8, 19.8), (41.2, 45.6), "mediterranean",
        {"Built": 2.5, "Crops": 2.5, "Trees": 2, "Grass": 1.5, "Shrub and Scrub": 1.2, "Water": 0.3},
        dt.date(2019, 11, 27), dt.date(2021, 1, 31), events=("earthquake",),
    ),
    Region(
        "Nepal (2015 Gorkha earthquake)", (84.5, 86.0), (27.5, 28.2), "tropical",
        {"Built": 2.5, "Crops": 3, "Trees": 2.5, "Grass": 1.0, "Bare": 0.8, "Shrub and Scrub": 0.5},
        dt.date(2015, 4, 26), dt.date(2015, 6, 30), events=("earthquake",),
    ),
)

REGIONS: dict[str, Region] = {region.name: region for region in LANDCOVER_REGIONS + EVENT_REGIONS}


def get_region(name: str) -> Region:
    """Return the region called ``name`` (see :data:`REGIONS`; chapter 1).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if name not in REGIONS:
        raise ValueError(f"unknown region {name!r}: choose one of {sorted(REGIONS)}")
    return REGIONS[name]


def event_regions(event: str) -> tuple[Region, ...]:
    """Return the regions where crisis ``event`` (``flood``, ``burned``, ``earthquake``) happens (chapter 1)."""
    found = tuple(region for region in EVENT_REGIONS if event in region.events)
    if not found:
        raise ValueError(f"unknown crisis event {event!r}: choose flood, burned or earthquake")
    return found


def class_priors(region: Region, date: dt.date) -> np.ndarray:
    """Return the normalized weights of the 9 Dynamic World classes in ``region`` on ``date`` (chapter 1).

    Snow gets its winter weight from December to March (June to September in the south).
    """
    weights = np.array([region.priors.get(name, 0.0) for name in DW_CLASSES], dtype=float)
    if region.winter_snow and is_winter(date, region.southern):
        weights[DW_CLASSES.index("Snow and Ice")] += region.winter_snow
    return weights / weights.sum()


def is_winter(date: dt.date, southern: bool = False) -> bool:
    """True from December to March in the northern hemisphere (June to September in the south)."""
    months = (6, 7, 8, 9) if southern else (12, 1, 2, 3)
    return date.month in months


def sample_location(region: Region, rng: np.random.Generator) -> tuple[float, float]:
    """Draw a (lon, lat) uniformly inside the region's bounding box (chapter 1)."""
    return float(rng.uniform(*region.lon)), float(rng.uniform(*region.lat))


def sample_date(region: Region, rng: np.random.Generator) -> dt.date:
    """Draw an acquisition date inside the region's date range and event months (chapter 1)."""
    offsets = _allowed_days(region.name)
    return region.start + dt.timedelta(days=int(offsets[rng.integers(0, len(offsets))]))


@cache
def _allowed_days(name: str) -> np.ndarray:
    region = REGIONS[name]
    span = (region.end - region.start).days + 1
    days = [d for d in range(span) if (region.start + dt.timedelta(days=d)).month in region.months]
    if not days:
        raise ValueError(f"region {name!r} has no allowed month between {region.start} and {region.end}")
    return np.array(days)


def timestamp(date: dt.date, lon: float, modality: str, rng: np.random.Generator) -> str:
    """Return an ISO 8601 UTC acquisition time for a sun-synchronous overpass (chapters 1, 2).

    Sentinel-2 passes at about 10:30 local solar time; Sentinel-1 at about 06:00 (descending)
    or 18:00 (ascending). UTC = local solar time - lon / 15 h.
    """
    local_hour = 10.5 if modality == "s2" else float(rng.choice([6.0, 18.0]))
    local_hour += rng.uniform(-0.25, 0.25)
    moment = dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC) + dt.timedelta(hours=local_hour - lon / 15.0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def utm_epsg(lon: float, lat: float) -> int:
    """Return the EPSG code of the WGS 84 / UTM zone containing (lon, lat): 326zz north, 327zz south."""
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        raise ValueError(f"({lon}, {lat}) is outside the UTM range (lon -180..180, lat -80..84)")
    zone = min(int((lon + 180.0) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


@lru_cache(maxsize=64)
def _to_utm(epsg: int) -> Transformer:
    return Transformer.from_crs(4326, epsg, always_xy=True)


def pixel_coords(lon: float, lat: float, size: int = PATCH_SIZE) -> tuple[int, np.ndarray]:
    """Return (EPSG, coords) for a ``size`` x ``size`` patch at 10 m centred on (lon, lat) (chapter 0).

    ``coords`` is float32 (2, size, size): the UTM x (easting) and y (northing) of every pixel
    centre, on the 10 m grid of the zone, rows running north to south as in the corpus.
    """
    epsg = utm_epsg(lon, lat)
    x, y = _to_utm(epsg).transform(lon, lat)
    half = size * PIXEL_SIZE_M / 2
    left = np.floor((x - half) / PIXEL_SIZE_M) * PIXEL_SIZE_M
    top = np.ceil((y + half) / PIXEL_SIZE_M) * PIXEL_SIZE_M
    offsets = (np.arange(size) + 0.5) * PIXEL_SIZE_M
    xs = np.broadcast_to(left + offsets, (size, size))
    ys = np.broadcast_to((top - offsets)[:, None], (size, size))
    return epsg, np.stack([xs, ys]).astype(np.float32)
