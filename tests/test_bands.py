"""Band conventions: stored layout <-> model input (data/bands.py)."""

from __future__ import annotations

import numpy as np
import pytest

from closp_lite.data import bands


def test_s2_gets_a_zero_b10_and_is_scaled() -> None:
    stored = np.arange(12, dtype=np.float32)[:, None, None] * 1000 + np.zeros((12, 4, 4), np.float32)
    stored[3, 0, 0] = np.nan
    model = bands.to_model_input(stored, "s2")
    assert model.shape == (13, 4, 4) and model.dtype == np.float32
    assert bands.S2_MODEL_BANDS[10] == "B10" and np.all(model[10] == 0)
    assert model[3, 0, 0] == 0  # NaN -> 0
    np.testing.assert_allclose(model[11, 1, 1], stored[10, 1, 1] / 10_000)
    back = bands.from_model_input(model, "s2")
    np.testing.assert_allclose(back[:, 1:, 1:], stored[:, 1:, 1:], rtol=1e-6)


def test_s1_stays_in_db_with_nodata_filled() -> None:
    stored = np.full((2, 3, 3), -12.0, np.float32)
    stored[1] = -20.0
    stored[0, 0, 0] = np.nan
    model = bands.to_model_input(stored, "s1")
    assert model[0, 0, 0] == bands.S1_NODATA_DB
    assert model[0, 1, 1] == -12.0 and model[1, 1, 1] == -20.0


@pytest.mark.parametrize(("n", "modality"), [(2, "s1"), (12, "s2"), (13, "s2")])
def test_modality_from_band_count(n: int, modality: str) -> None:
    assert bands.modality_from_bands(n) == modality


@pytest.mark.parametrize("n", [1, 3, 4, 10])
def test_wrong_band_counts_are_refused(n: int) -> None:
    with pytest.raises(ValueError, match="bands"):
        bands.modality_from_bands(n)
    with pytest.raises(ValueError, match="shape"):
        bands.to_model_input(np.zeros((n, 8, 8), np.float32), "s2")
