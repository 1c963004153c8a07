"""Sentinel-2 physics (chapter 1): band table, scaling, indices, composites, clouds and shadows."""

import numpy as np
import pytest

from closp_lite.data.bands import S2_BANDS, S2_MODEL_BANDS, S2_SCALE, to_model_input
from closp_lite.physics import optical

# Typical reflectances of four pure materials at the 12 stored band centres (green vegetation,
# clear water, fresh snow, dry soil), rounded from the USGS spectral library (Kokaly et al. 2017).
KNOWN_SPECTRA = {
    #              B1    B2    B3    B4    B5    B6    B7    B8    B8A   B9    B11   B12
    "vegetation": [0.03, 0.04, 0.08, 0.04, 0.12, 0.30, 0.38, 0.42, 0.43, 0.42, 0.22, 0.10],
    "water": [0.06, 0.055, 0.05, 0.035, 0.03, 0.02, 0.018, 0.015, 0.012, 0.008, 0.005, 0.003],
    "snow": [0.88, 0.87, 0.86, 0.84, 0.82, 0.80, 0.77, 0.75, 0.72, 0.62, 0.08, 0.06],
    "soil": [0.12, 0.14, 0.19, 0.25, 0.28, 0.30, 0.31, 0.32, 0.33, 0.32, 0.42, 0.36],
}


def test_band_table_follows_stored_order() -> None:
    assert tuple(b.name for b in optical.S2_BAND_TABLE) == S2_BANDS
    assert np.all(np.diff(optical.S2_WAVELENGTHS_NM) > 0)
    by_name = {b.name: b for b in optical.S2_BAND_TABLE}
    assert by_name["B4"].wavelength_nm == 665 and by_name["B4"].resolution_m == 10
    assert by_name["B11"].resolution_m == 20 and by_name["B1"].resolution_m == 60
    assert {b.name for b in optical.S2_BAND_TABLE if b.resolution_m == 10} == {"B2", "B3", "B4", "B8"}


def test_reflectance_scaling_round_trip() -> None:
    dn = np.array([0, 1234, 10_000])
    np.testing.assert_allclose(optical.to_reflectance(dn), dn / S2_SCALE)
    np.testing.assert_allclose(optical.to_dn(optical.to_reflectance(dn)), dn)


def test_band_position_in_both_layouts() -> None:
    assert optical.band_position("B11", 12) == 10
    assert optical.band_position("B11", 13) == 11
    assert S2_MODEL_BANDS[optical.band_position("B10", 13)] == "B10"
    with pytest.raises(ValueError, match="B10"):
        optical.band_position("B10", 12)
    with pytest.raises(ValueError, match="12 stored bands"):
        optical.band_position("B4", 3)


def test_normalized_difference_closed_form() -> None:
    np.testing.assert_allclose(optical.normalized_difference(np.array([3.0, 1.0]), np.array([1.0, 3.0])), [0.5, -0.5])
    assert np.isnan(optical.normalized_difference(0.0, 0.0))


def test_indices_on_known_spectra() -> None:
    spectra = {name: np.array(values) for name, values in KNOWN_SPECTRA.items()}
    index = {(name, idx): float(optical.spectral_index(s, idx)) for name, s in spectra.items() for idx in optical.SPECTRAL_INDICES}
    assert index["vegetation", "NDVI"] > 0.6
    assert index["water", "NDVI"] < 0
    assert index["water", "NDWI"] > 0 > index["vegetation", "NDWI"]
    assert index["water", "MNDWI"] > 0
    assert index["snow", "NDSI"] > 0.4 > index["soil", "NDSI"]
    assert index["soil", "NDBI"] > 0 > index["vegetation", "NDBI"]
    # healthy vegetation has a high NBR; bare soil (like a burn scar) a low one
    assert index["vegetation", "NBR"] > 0.4 > index["soil", "NBR"]
    # closed form for one value: NDVI of vegetation = (0.42 - 0.04) / (0.42 + 0.04)
    assert index["vegetation", "NDVI"] == pytest.approx(0.38 / 0.46)


def test_spectral_index_same_in_stored_dn_and_model_layout() -> None:
    rng = np.random.default_rng(0)
    stored = rng.uniform(100, 5000, size=(12, 8, 8)).astype(np.float32)
    model = to_model_input(stored, "s2")
    for name in optical.SPECTRAL_INDICES:
        np.testing.assert_allclose(optical.spectral_index(stored, name), optical.spectral_index(model, name), rtol=1e-5)
    with pytest.raises(ValueError, match="unknown spectral index"):
        optical.spectral_index(stored, "EVI9")


def test_composites_in_unit_range_and_robust() -> None:
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 3000, size=(12, 20, 20))
    image[:, 0, 0] = 60_000  # one saturated pixel must not wash out the stretch
    for rgb in (optical.true_colour(image), optical.false_colour(image)):
        assert rgb.shape == (20, 20, 3)
        assert rgb.min() >= 0 and rgb.max() <= 1
        assert np.median(rgb) > 0.3
    np.testing.assert_allclose(optical.true_colour(image)[..., 0], optical.robust_stretch(image[3]))
    with pytest.raises(ValueError, match="percentiles"):
        optical.robust_stretch(image[0], (90, 10))
    fixed = optical.true_colour(image, limits=(0, 3000))
    np.testing.assert_allclose(fixed[5, 5], np.clip(image[[3, 2, 1], 5, 5] / 3000, 0, 1))
    assert fixed[0, 0].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="limits"):
        optical.false_colour(image, limits=(1, 1))


def test_cloud_effect_brightens_and_shadow_darkens() -> None:
    surface = np.tile(np.array(KNOWN_SPECTRA["vegetation"])[:, None, None], (1, 4, 4))
    zeros = np.zeros((4, 4))
    np.testing.assert_allclose(optical.cloud_effect(surface, zeros, zeros), surface)
    cloudy = optical.cloud_effect(surface, np.ones((4, 4)), zeros)
    np.testing.assert_allclose(cloudy[:, 0, 0], optical.CLOUD_REFLECTANCE)
    visible = cloudy[[1, 2, 3], 0, 0]
    assert visible.max() - visible.min() < 0.05  # clouds are white
    assert cloudy[S2_BANDS.index("B12"), 0, 0] < cloudy[S2_BANDS.index("B2"), 0, 0]
    half = optical.cloud_effect(surface, np.full((4, 4), 0.5), zeros)
    assert np.all(half > surface)
    shadowed = optical.cloud_effect(surface, zeros, np.ones((4, 4)))
    kept = shadowed[:, 0, 0] / surface[:, 0, 0]
    assert np.all(kept < 0.5)
    assert kept[S2_BANDS.index("B2")] > kept[S2_BANDS.index("B8")] > kept[S2_BANDS.index("B12")]


def test_cloud_effect_validates_inputs() -> None:
    surface = np.full((12, 4, 4), 0.1)
    with pytest.raises(ValueError, match="opacity"):
        optical.cloud_effect(surface, np.full((4, 4), 1.5), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="shadow must have shape"):
        optical.cloud_effect(surface, np.zeros((4, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="12, H, W"):
        optical.cloud_effect(surface[:3], np.zeros((4, 4)), np.zeros((4, 4)))


def test_optical_plots_return_figures() -> None:
    from matplotlib.figure import Figure

    from closp_lite.plotting import plot_composites_and_indices, plot_spectral_signatures

    spectra = {name: np.array(values) for name, values in KNOWN_SPECTRA.items()}
    fig = plot_spectral_signatures(spectra, spread={"water": np.full(12, 0.02)})
    assert isinstance(fig, Figure) and len(fig.axes[0].get_lines()) == len(spectra)
    rng = np.random.default_rng(0)
    image = optical.to_dn(spectra["vegetation"][:, None, None] * rng.uniform(0.8, 1.2, size=(1, 8, 8)))
    fig = plot_composites_and_indices(image, indices=("NDVI", "MNDWI"))
    assert isinstance(fig, Figure) and len(fig.axes) == 5  # 4 panels + colour bar
    with pytest.raises(ValueError, match="12 values"):
        plot_spectral_signatures({"x": np.ones(3)})


def test_index_cover_on_known_spectra() -> None:
    expected = {"vegetation": "Dense vegetation", "water": "Water", "snow": "Snow", "soil": "Bare or built"}
    spectra = [np.array(KNOWN_SPECTRA[name]) for name in expected]
    # a black humic lake (all bands ~0.01, as in the real Finnish example): noisy indices, dark NIR
    spectra.append(np.array([0.003, 0.013, 0.010, 0.009, 0.010, 0.013, 0.015, 0.014, 0.016, 0.026, 0.012, 0.008]))
    expected["dark lake"] = "Water"
    image = np.stack(spectra, axis=1)[:, :, None]  # (12, 5, 1)
    image = np.concatenate([image, np.zeros((12, 1, 1))], axis=1)  # a no-data pixel
    masks = optical.index_cover(image)
    for row, name in enumerate(expected.values()):
        assert masks[name][row, 0]
        assert sum(int(m[row, 0]) for m in masks.values()) == 1
    assert not any(m[5, 0] for m in masks.values())
    with pytest.raises(ValueError, match="to_reflectance"):
        optical.index_cover(optical.to_dn(image))
