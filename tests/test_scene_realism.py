"""Tests of what makes simulated scenes look like Sentinel data: texture, towns, hedges, terrain, haze, crop calendars, dates."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest

from closp_lite.labels import DW_CLASSES
from closp_lite.physics.optical import (
    HAZE_SHAPE,
    TRUE_COLOUR_LIMITS,
    haze_effect,
    spectral_index,
)
from closp_lite.plotting.images import sample_rgb
from closp_lite.simulate import simulate_scene
from closp_lite.simulate.backscatter import terrain_db
from closp_lite.simulate.geography import get_region
from closp_lite.simulate.landcover import BUILT, CROPS, GRASS, STREET_ID, make_layout
from closp_lite.simulate.scene import clear_sky_chance, counterpart_scene, render_patch
from closp_lite.simulate.spectra import CATCH_CROP_GREENNESS, crop_greenness
from closp_lite.simulate.texture import (
    TOWN_KINDS,
    hedgerows,
    terrain_shading,
    town_cells,
)


def _layout(seed: int = 0, **shares: float):
    fractions = np.array([shares.get(name, 0.0) for name in DW_CLASSES])
    return make_layout(fractions / fractions.sum(), np.random.default_rng(seed))


def test_towns_have_houses_and_gardens_only_on_built_land() -> None:
    layout = _layout(Built=0.5, Grass=0.5)
    kinds = town_cells(layout, np.random.default_rng(1))
    houses = (layout.mask == BUILT) & (layout.parcels != STREET_ID)
    assert (kinds >= 0).sum() == houses.sum() and (kinds[~houses] == -1).all()
    shares = np.bincount(kinds[houses], minlength=len(TOWN_KINDS)) / houses.sum()
    assert 0.2 < shares[0] < 0.7 and (shares[1:] > 0).all()  # gardens and every roof kind


def test_towns_look_mixed_not_flat_in_s2() -> None:
    scene = simulate_scene("Belgium and Luxembourg (crops and towns)", season="summer", fractions={"Built": 0.6, "Crops": 0.4}, seed=3)
    ndvi = spectral_index(scene.s2, "NDVI")[scene.mask == BUILT]
    assert np.quantile(ndvi, 0.9) > 0.5 and np.quantile(ndvi, 0.1) < 0.25  # gardens and roofs side by side


def test_hedgerows_follow_parcel_edges_of_farmland() -> None:
    layout = _layout(Grass=0.7, Trees=0.3)
    hedges = hedgerows(layout, np.random.default_rng(0), share=1.0)
    assert hedges.any() and np.isin(layout.mask[hedges], (CROPS, GRASS)).all()
    assert not hedgerows(layout, np.random.default_rng(0), share=0.0).any()


def test_terrain_shading_lights_slopes_facing_the_sun() -> None:
    rows = np.arange(60, dtype=float)[:, None] * np.ones((1, 60))
    assert np.allclose(terrain_shading(np.zeros((60, 60)), 1.0), 1.0)
    # height grows southwards (with the row index): the slope faces north, away from the sun
    assert terrain_shading(rows / 10, 1.0).mean() < 0.95
    assert terrain_shading(-rows / 10, 1.0).mean() > 1.05


def test_haze_adds_most_in_the_blue() -> None:
    image = np.full((12, 4, 4), 0.1)
    hazy = haze_effect(image, 0.01)
    added = (hazy - image)[:, 0, 0]
    assert added[1] == pytest.approx(0.01) and added.argmax() == 0 and added[-1] < 0.3 * added[1]
    np.testing.assert_allclose(added, 0.01 * HAZE_SHAPE)
    with pytest.raises(ValueError, match=">= 0"):
        haze_effect(image, -0.01)


def test_crop_calendars_green_in_summer_bare_or_covered_after_harvest() -> None:
    summer = crop_greenness(dt.date(2017, 6, 20), "temperate", np.random.default_rng(0), 2000)
    autumn = crop_greenness(dt.date(2017, 9, 20), "temperate", np.random.default_rng(0), 2000)
    assert np.median(summer) > 0.8 and summer.mean() > autumn.mean() + 0.2
    harvested = np.isin(autumn, (0.0, CATCH_CROP_GREENNESS))
    assert 0.3 < harvested.mean() < 0.9 and (autumn[harvested] == 0).any()


def test_true_colour_uses_the_fixed_reflectance_stretch() -> None:
    image = np.full((12, 8, 8), 1500.0, dtype=np.float32)
    image[:, :, :4] = 300.0
    rgb = sample_rgb(SimpleNamespace(image=image, modality="s2", key="k", labels=[]))
    np.testing.assert_allclose(rgb[0, 0], 300 / TRUE_COLOUR_LIMITS[1])
    np.testing.assert_allclose(rgb[0, -1], 1500 / TRUE_COLOUR_LIMITS[1])
    dim = sample_rgb(SimpleNamespace(image=image / 2, modality="s2", key="k", labels=[]))
    assert dim.mean() < rgb.mean()  # a percentile stretch would show both the same


def test_simulated_vegetation_has_realistic_red_and_nir() -> None:
    scene = simulate_scene("Austria and Switzerland (Alps)", season="summer", fractions={"Trees": 1.0}, seed=2)
    red, nir = np.median(scene.s2[3]), np.median(scene.s2[7])
    assert 150 < red < 500 and 2500 < nir < 4500  # summer forest: dark red, bright NIR (L2A x 10,000)


def test_radar_sees_slopes_facing_it_brighter() -> None:
    incidence = np.full((40, 40), 37.0)
    assert np.allclose(terrain_db(np.zeros((40, 40)), 1.0, incidence), 0.0)
    ramp = np.arange(40, dtype=float)[None, :] * np.ones((40, 1)) / 10  # rising away from the radar
    facing, away = terrain_db(ramp, 2.0, incidence), terrain_db(-ramp, 2.0, incidence)
    assert facing.mean() > 0.5 and away.mean() < -0.3  # foreshortening brightens, the far side darkens


def test_optical_land_cover_dates_favour_the_clear_sky_months() -> None:
    region = get_region("Lithuania (temperate plains)")
    months = {
        modality: [int(render_patch(modality, region, np.random.default_rng(i))[1][5:7]) for i in range(150)]
        for modality in ("s1", "s2")
    }
    summer = {m: np.isin(v, (5, 6, 7, 8)).mean() for m, v in months.items()}
    assert summer["s2"] > summer["s1"] + 0.1  # cloud-free optical scenes are summer-heavy, radar is not
    assert clear_sky_chance(dt.date(2018, 1, 10), region) < clear_sky_chance(dt.date(2017, 7, 10), region)


def test_counterpart_scene_shares_place_date_and_labels_with_a_real_patch() -> None:
    day = dt.date(2017, 6, 13)
    scene = counterpart_scene(["Crops", "Trees", "Burned Area"], 13.0, 47.2, day, snow_fraction=0.2, seed=1)
    assert scene.region == "Austria and Switzerland (Alps)" and scene.date == day
    assert set(scene.labels) == {"Crops", "Trees", "Snow and Ice"}  # crisis labels are not land cover
    with pytest.raises(ValueError, match="harmonize"):
        counterpart_scene(["Pastures"], 13.0, 47.2, day)
