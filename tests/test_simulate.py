"""Tests of the scene simulator: layouts, spectra, backscatter, events, geography, plans and splits."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from closp_lite.labels import DW_CLASSES, VOCABULARY
from closp_lite.physics.optical import spectral_index
from closp_lite.simulate import geography as geo
from closp_lite.simulate import simulate_scene
from closp_lite.simulate.backscatter import cardinal_gain_db, incidence_map
from closp_lite.simulate.corpus import DEFAULT_MIX, SplitAssigner, plan_corpus
from closp_lite.simulate.landcover import (
    BUILT,
    CROPS,
    FLOODED_VEG,
    TREES,
    WATER,
    make_layout,
    mask_labels,
    noise_fields,
    sample_fractions,
)
from closp_lite.simulate.spectra import class_spectrum, greenness

SUMMER = dt.date(2017, 7, 15)


def _fractions(**shares: float) -> np.ndarray:
    vector = np.array([shares.get(name.replace(" ", "_"), 0.0) for name in DW_CLASSES])
    return vector / vector.sum()


def test_noise_fields_are_standardised_and_smooth() -> None:
    fields = noise_fields(np.random.default_rng(0), [2.0, 20.0])
    assert fields.shape == (2, 120, 120)
    np.testing.assert_allclose(fields.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(fields.std(axis=(1, 2)), 1, atol=1e-4)
    roughness = np.abs(np.diff(fields, axis=2)).mean(axis=(1, 2))
    assert roughness[1] < roughness[0] / 3  # a longer correlation length gives smoother fields


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layout_holds_the_requested_fractions(seed: int) -> None:
    target = _fractions(Water=0.1, Trees=0.3, Crops=0.4, Built=0.2)
    layout = make_layout(target, np.random.default_rng(seed))
    assert layout.mask.dtype == np.uint8 and layout.mask.shape == (120, 120)
    shares = np.bincount(layout.mask.ravel(), minlength=9) / layout.mask.size
    np.testing.assert_allclose(shares, target, atol=2 / layout.mask.size)
    assert mask_labels(layout.mask) == ["Water", "Trees", "Crops", "Built"]
    # water sits in the low land: the terrain under water is lower than elsewhere
    assert layout.elevation[layout.mask == WATER].mean() < layout.elevation[layout.mask != WATER].mean()
    assert layout.water_distance[layout.mask == WATER].max() == 0


def test_layout_has_spatial_structure() -> None:
    layout = make_layout(_fractions(Trees=0.5, Crops=0.5), np.random.default_rng(3))
    mask = layout.mask
    same_as_right = (mask[:, 1:] == mask[:, :-1]).mean()
    assert same_as_right > 0.95  # large coherent patches, not salt and pepper


def test_mask_labels_threshold() -> None:
    mask = np.zeros((100, 100), dtype=np.uint8)
    mask[:4] = BUILT  # 4 %: below the 5 % threshold
    mask[4:10] = TREES  # 6 %
    assert mask_labels(mask) == ["Water", "Trees"]


def test_sample_fractions_follow_priors() -> None:
    rng = np.random.default_rng(0)
    priors = np.zeros(9)
    priors[[TREES, CROPS]] = [0.9, 0.1]
    draws = np.array([sample_fractions(priors, rng) for _ in range(300)])
    np.testing.assert_allclose(draws.sum(axis=1), 1)
    assert draws[:, TREES].mean() > draws[:, CROPS].mean()
    assert (draws[:, [0, 2, 3, 5, 6, 7, 8]] == 0).all()
    with pytest.raises(ValueError, match="9 non-negative"):
        sample_fractions(np.ones(3), rng)


def test_same_seed_same_scene_and_different_seed_differs() -> None:
    a = simulate_scene("Lithuania (temperate plains)", season="summer", cloud_fraction=0.2, seed=5)
    b = simulate_scene("Lithuania (temperate plains)", season="summer", cloud_fraction=0.2, seed=5)
    c = simulate_scene("Lithuania (temperate plains)", season="summer", cloud_fraction=0.2, seed=6)
    for name in ("mask", "s1", "s2", "coords"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.s2, c.s2)


def test_image_shapes_types_and_conventions() -> None:
    scene = simulate_scene("Belgium and Luxembourg (crops and towns)", season="summer", seed=1)
    assert scene.s2.shape == (12, 120, 120) and scene.s2.dtype == np.float32
    assert scene.s1.shape == (2, 120, 120) and scene.s1.dtype == np.float32
    np.testing.assert_array_equal(scene.s2, np.round(scene.s2))  # L2A digital numbers are integers
    assert np.isfinite(scene.s1).all()
    vv, vh = scene.s1.mean(axis=(1, 2))
    assert -16 < vv < -4 and vh < vv - 4  # VV first, VH weaker (cross-polarised)


def test_phenology_crops_greener_in_summer() -> None:
    kwargs = {"region": "Lithuania (temperate plains)", "fractions": {"Crops": 1.0}, "seed": 2}
    summer = simulate_scene(season="summer", **kwargs)
    winter = simulate_scene(season="winter", **kwargs)
    ndvi_summer = spectral_index(summer.s2, "NDVI").mean()
    ndvi_winter = spectral_index(winter.s2, "NDVI").mean()
    assert ndvi_summer > 0.6 and ndvi_summer > ndvi_winter + 0.2
    assert greenness(SUMMER, "temperate") > greenness(dt.date(2018, 1, 15), "temperate")
    # the southern hemisphere has its summer in January
    assert greenness(dt.date(2018, 1, 15), "temperate", southern=True) > greenness(SUMMER, "temperate", southern=True)


def test_class_spectra_index_signatures() -> None:
    spectra = np.stack([class_spectrum(name) for name in DW_CLASSES], axis=1)[..., None]  # (12, 9, 1)
    ndvi = spectral_index(spectra, "NDVI")[:, 0]
    ndwi = spectral_index(spectra, "NDWI")[:, 0]
    ndsi = spectral_index(spectra, "NDSI")[:, 0]
    assert ndwi[WATER] > 0.3 and ndwi.argmax() == WATER
    assert ndvi[CROPS] > 0.8 and ndvi[TREES] > 0.7 and ndvi[BUILT] < 0.3
    assert ndsi.argmax() == DW_CLASSES.index("Snow and Ice") and ndsi.max() > 0.7
    with pytest.raises(ValueError, match="unknown Dynamic World class"):
        class_spectrum("Forest")


def test_clouds_hide_the_ground_in_s2_but_not_in_s1() -> None:
    clear = simulate_scene("Finland (boreal)", season="summer", seed=4)
    cloudy = simulate_scene("Finland (boreal)", season="summer", cloud_fraction=0.4, seed=4)
    np.testing.assert_array_equal(clear.s1, cloudy.s1)  # radar sees through clouds
    np.testing.assert_array_equal(clear.mask, cloudy.mask)
    brighter = cloudy.s2[1] > clear.s2[1] + 1000  # blue band under thick cloud
    assert 0.2 < brighter.mean() < 0.6


def test_s1_class_ordering_and_looks() -> None:
    rows = []
    for looks in (1.0, 4.4, 50.0):
        scene = simulate_scene(
            "Lithuania (temperate plains)", season="summer", fractions={"Water": 0.3, "Trees": 0.4, "Built": 0.3}, looks=looks, seed=7
        )
        vv = scene.s1[0]
        rows.append({c: vv[scene.mask == c] for c in (WATER, TREES, BUILT)})
    medians = {c: np.median(rows[1][c]) for c in rows[1]}
    assert medians[WATER] < -15 < medians[TREES] < medians[BUILT]
    spreads = [np.std(row[WATER]) for row in rows]
    assert spreads[0] > spreads[1] > spreads[2]  # more looks, less speckle (in dB)


def test_incidence_angle_darkens_far_range() -> None:
    kwargs = {"region": "Lithuania (temperate plains)", "season": "summer", "fractions": {"Grass": 1.0}, "seed": 8}
    near = simulate_scene(incidence_deg=30.5, **kwargs).s1[0].mean()
    far = simulate_scene(incidence_deg=45.0, **kwargs).s1[0].mean()
    assert far < near - 2  # grass: -0.2 dB per degree
    angles = incidence_map(35.0, 120)
    assert angles[0, -1] > angles[0, 0] and np.isclose(angles[0, 0], 35.0)
    assert cardinal_gain_db(0.0) > 3.5 and cardinal_gain_db(np.radians(45)) < 0.1
    with pytest.raises(ValueError, match="between 0 and 90"):
        incidence_map(95.0, 10)


def test_flood_event() -> None:
    fractions = {"Water": 0.1, "Crops": 0.6, "Grass": 0.3}
    scene = simulate_scene("Po valley, Italy (floods)", fractions=fractions, flood_fraction=0.3, seed=9)
    event = scene.event
    assert event is not None and event.kind == "flood" and "Flooded Area" in scene.labels
    assert abs(event.fraction - 0.3) < 0.02
    flooded = event.extent
    assert np.isin(scene.mask[flooded], (WATER, FLOODED_VEG)).all()
    assert scene.layout.elevation[flooded].mean() < scene.layout.elevation[~flooded].mean()
    open_water = event.overrides["flood water"]
    assert np.median(scene.s1[0][open_water]) < -15  # dark in VV
    mndwi = spectral_index(scene.s2, "MNDWI")
    assert mndwi[open_water].mean() > 0.3


def test_flooded_vegetation_is_bright_in_vv() -> None:
    scene = simulate_scene(
        "Bangladesh (monsoon floods)", fractions={"Trees": 0.7, "Crops": 0.3}, flood_fraction=0.5, seed=10
    )
    standing = scene.event.extent & (scene.mask == FLOODED_VEG)
    open_water = scene.event.extent & (scene.mask == WATER)
    assert standing.sum() > 500 and open_water.sum() > 500
    assert np.median(scene.s1[0][standing]) > np.median(scene.s1[0][open_water]) + 8  # double bounce


def test_burned_area_event() -> None:
    scene = simulate_scene("California (wildfires)", fractions={"Shrub and Scrub": 0.6, "Trees": 0.4}, burn_fraction=0.4, seed=11)
    burned = scene.event.extent
    assert "Burned Area" in scene.labels and abs(burned.mean() - 0.4) < 0.02
    nbr = spectral_index(scene.s2, "NBR")
    assert nbr[burned].mean() < 0 < nbr[~burned].mean()


def test_earthquake_damage_lowers_built_vv() -> None:
    scene = simulate_scene("South-east Turkey (2023 earthquakes)", fractions={"Built": 0.6, "Crops": 0.4}, damage_fraction=0.25, seed=12)
    damaged = scene.event.extent
    intact = (scene.mask == BUILT) & ~damaged
    assert "Earthquake Damage" in scene.labels and (scene.mask[damaged] == BUILT).all()
    assert np.mean(scene.s1[0][damaged]) < np.mean(scene.s1[0][intact]) - 2


def test_scene_errors() -> None:
    with pytest.raises(ValueError, match="unknown region"):
        simulate_scene("Atlantis")
    with pytest.raises(ValueError, match="unknown season"):
        simulate_scene("Finland (boreal)", season="monsoon")
    with pytest.raises(ValueError, match="at most one crisis event"):
        simulate_scene("Finland (boreal)", flood_fraction=0.2, burn_fraction=0.2)
    with pytest.raises(ValueError, match="unknown Dynamic World classes"):
        simulate_scene("Finland (boreal)", fractions={"Forest": 1.0})
    with pytest.raises(ValueError, match="fraction must lie"):
        simulate_scene("Finland (boreal)", cloud_fraction=1.5)


def test_utm_zones_and_pixel_coordinates() -> None:
    assert geo.utm_epsg(24.9, 60.2) == 32635  # Helsinki
    assert geo.utm_epsg(151.2, -33.9) == 32756  # Sydney
    with pytest.raises(ValueError, match="UTM range"):
        geo.utm_epsg(0.0, 89.0)
    crs, coords = geo.pixel_coords(-8.0, 40.0)
    assert crs == 32629 and coords.shape == (2, 120, 120) and coords.dtype == np.float32
    np.testing.assert_allclose(np.diff(coords[0], axis=1), 10.0)
    np.testing.assert_allclose(np.diff(coords[1], axis=0), -10.0)  # rows run north to south
    lon, lat = geo.centre_lonlat(coords, crs)
    assert abs(lon + 8.0) < 2e-4 and abs(lat - 40.0) < 2e-4


def test_regions_dates_and_priors() -> None:
    rng = np.random.default_rng(0)
    for region in geo.REGIONS.values():
        lon, lat = geo.sample_location(region, rng)
        assert region.lon[0] <= lon <= region.lon[1] and region.lat[0] <= lat <= region.lat[1]
        day = geo.sample_date(region, rng)
        assert region.start <= day <= region.end and day.month in region.months
    finland, belgium = geo.get_region("Finland (boreal)"), geo.get_region("Belgium and Luxembourg (crops and towns)")
    assert geo.class_priors(finland, SUMMER)[TREES] > geo.class_priors(belgium, SUMMER)[TREES]
    snow = DW_CLASSES.index("Snow and Ice")
    assert geo.class_priors(finland, dt.date(2018, 1, 15))[snow] > geo.class_priors(finland, SUMMER)[snow]
    assert {r.name for r in geo.event_regions("burned")} == {"California (wildfires)"}
    scene = simulate_scene("Mozambique (cyclone floods)", seed=1)
    assert 32700 < scene.crs < 32800  # southern hemisphere UTM


def test_timestamps_follow_the_overpass() -> None:
    rng = np.random.default_rng(0)
    stamp = geo.timestamp(SUMMER, lon=15.0, modality="s2", rng=rng)  # UTC+1 h of solar time
    hour = int(stamp[11:13])
    assert stamp.startswith("2017-07-15T") and stamp.endswith("Z") and hour in (9, 10)


def test_plan_corpus_counts_sources_and_regions() -> None:
    plans = plan_corpus(100, 60, seed=1)
    assert len(plans) == 160 and len({p.key for p in plans}) == 160
    s2_sources = [p.source for p in plans if p.modality == "s2"]
    for source, share in DEFAULT_MIX["s2"].items():
        assert abs(s2_sources.count(source) - share * 60) <= 1
    land_regions = {p.region for p in plans if p.source == "sim_benv2s1"}
    assert land_regions == {r.name for r in geo.LANDCOVER_REGIONS}
    assert plans == plan_corpus(100, 60, seed=1)
    with pytest.raises(ValueError, match="cannot produce s1"):
        plan_corpus(10, 0, mix={"s1": {"sim_cabuar": 1.0}})
    with pytest.raises(ValueError, match="summing to 1"):
        plan_corpus(10, 0, mix={"s1": {"sim_benv2s1": 0.5}})


def test_split_assigner_stratifies() -> None:
    rng = np.random.default_rng(0)
    assigner = SplitAssigner()
    splits: dict[str, set[str]] = {label: set() for label in VOCABULARY}
    decided = []
    for _ in range(1000):
        labels = sorted(set(rng.choice(VOCABULARY, size=rng.integers(1, 4), p=np.linspace(2, 0.1, 12) / np.linspace(2, 0.1, 12).sum())))
        split = assigner.assign(labels)
        decided.append(split)
        for label in labels:
            splits[label].add(split)
    assert all(found == {"train", "test"} for found in splits.values())
    assert 0.15 < decided.count("train") / len(decided) < 0.25
