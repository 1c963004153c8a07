"""Tests of the 6 real BigEarthNet example pairs converted to the CrisisLandMark format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from closp_lite.cli import main
from closp_lite.data.examples import example_pairs, load_examples
from closp_lite.data.format import CrisisLandMark, lonlat


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_examples(tmp_path_factory.mktemp("ex") / "examples")


def test_six_real_pairs_in_the_format(examples: Path) -> None:
    pairs = example_pairs(examples)
    assert len(pairs) == 6 and len({s1 for s1, _ in pairs}) == 6
    with CrisisLandMark(examples) as corpus:
        assert len(corpus) == 12
        for s1_key, s2_key in pairs:
            s1, s2 = corpus.read(s1_key), corpus.read(s2_key)
            assert s1.image.shape == (2, 120, 120) and s2.image.shape == (12, 120, 120)
            assert s1.crs == s2.crs and 32600 < s2.crs < 32661  # WGS 84 / UTM north
            assert s1.labels == s2.labels and len(s2.labels) >= 1  # CORINE level-3 names as given
            assert np.allclose(s1.coords, s2.coords)  # the same 1.2 km square
            assert s1.coords[0, 0, 1] - s1.coords[0, 0, 0] == pytest.approx(10)  # 10 m pixels
            assert s1.timestamp.endswith("Z") and s2.timestamp[:4] in {"2017", "2018"}
            lon, lat = lonlat(s2)
            assert -10 < lon < 32 and 38 < lat < 64  # Portugal to Finland


def test_channel_orders_look_physical(examples: Path) -> None:
    with CrisisLandMark(examples) as corpus:
        s1 = np.stack([corpus.read(k).image for k, _ in example_pairs(examples)])
        s2 = np.stack([corpus.read(k).image for _, k in example_pairs(examples)])
    vv, vh = np.nanmean(s1[:, 0]), np.nanmean(s1[:, 1])
    assert -15 < vv < -8 and -22 < vh < -14 and vv > vh + 3  # VV first, VH about 5-8 dB lower
    summer = s2[:3]  # June scenes: vegetation is brighter in B8 (index 7) than in red B4 (index 3)
    assert (summer[:, 7].mean(axis=(1, 2)) > 1.5 * summer[:, 3].mean(axis=(1, 2))).all()
    assert s2.min() >= 0 and s2.dtype == np.float32


def test_conversion_is_cached(examples: Path) -> None:
    stamp = (examples / "metadata.parquet").stat().st_mtime_ns
    assert load_examples(examples) == examples
    assert (examples / "metadata.parquet").stat().st_mtime_ns == stamp


def test_cli_data_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "examples", "--out", str(tmp_path / "ex"), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["pairs"]) == 6
