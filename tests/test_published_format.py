"""Every command on a corpus written exactly as the dataset card documents it (simulated pixels).

The fixture is written with h5py directly, not with closp-lite's writer: the master
``crisislandmark.h5`` of external links to the download list's files (``benv2s1_part1..4.h5``,
``benv2s2_part1..4.h5``, ``cabuar.h5``, ``mmflood.h5``, ``sen12flood.h5`` holding the sources
sen1flood and sen2flood, ``quakeset.h5``), ``crs`` and ``timestamp`` as float32 arrays of shape
(1,), and a ``metadata.parquet`` with only ``key``, ``split`` and ``labels``.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from closp_lite.cli import main
from closp_lite.data.format import CrisisLandMark, parse_crs, parse_timestamp, source_of_shard

# shard file -> [(modality, labels), ...]; sen12flood.h5 holds S1 (sen1flood) and S2 (sen2flood) samples.
LAYOUT: dict[str, list[tuple[str, list[str]]]] = {
    **{f"benv2s1_part{i}.h5": [("s1", ["Arable land", "Inland waters"]), ("s1", ["Coniferous forest"]), ("s1", ["Urban fabric"])] for i in range(1, 5)},
    **{f"benv2s2_part{i}.h5": [("s2", ["Arable land", "Inland waters"]), ("s2", ["Coniferous forest"]), ("s2", ["Urban fabric"])] for i in range(1, 5)},
    "cabuar.h5": [("s2", ["Burned Area"]), ("s2", ["Burned Area", "Trees"]), ("s2", ["Burned Area"])],
    "mmflood.h5": [("s1", ["Flooded Area"]), ("s1", ["Flooded Area", "Water"]), ("s1", ["Flooded Area"])],
    "sen12flood.h5": [("s1", ["Flooded Area"]), ("s2", ["Flooded Area"]), ("s1", ["Water"]), ("s2", ["Water", "Crops"])],
    "quakeset.h5": [("s1", ["Earthquake Damage"]), ("s1", ["Earthquake Damage", "Built"]), ("s1", ["Earthquake Damage"])],
}
TIMESTAMP = 1_625_097_600.0  # 2021-07-01T00:00:00Z


def _write_published(root: Path) -> dict[str, str]:
    """Write the fixture; return key -> shard file."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    rows, shard_of = [], {}
    for shard, samples in LAYOUT.items():
        with h5py.File(root / shard, "w") as handle:
            for index, (modality, labels) in enumerate(samples):
                key = f"{shard.removesuffix('.h5')}_{index}"
                bands = 2 if modality == "s1" else 12
                image = rng.normal(-12, 3, (bands, 120, 120)) if modality == "s1" else rng.uniform(200, 3000, (bands, 120, 120))
                group = handle.create_group(key)
                group.create_dataset("image", data=image.astype(np.float32))
                x, y = np.meshgrid(500_000 + 10 * np.arange(120), 5_000_000 - 10 * np.arange(120))
                group.create_dataset("coords", data=np.stack([x, y]).astype(np.float32))
                group.attrs["crs"] = np.array([32633], dtype=np.float32)
                group.attrs["timestamp"] = np.array([TIMESTAMP], dtype=np.float32)
                group.attrs["labels"] = np.array(labels, dtype=h5py.string_dtype())
                rows.append({"key": key, "split": "test" if index == 0 else "train", "labels": labels})
                shard_of[key] = shard
    with h5py.File(root / "crisislandmark.h5", "w") as master:
        for key, shard in shard_of.items():
            master[key] = h5py.ExternalLink(shard, f"/{key}")
    pd.DataFrame(rows).to_parquet(root / "metadata.parquet", index=False)
    return shard_of


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("published") / "crisislandmark"
    _write_published(root)
    return root


def test_crs_and_timestamp_in_the_documented_encoding() -> None:
    assert parse_crs(np.array([32633.0], dtype=np.float32)) == 32633
    assert parse_crs("EPSG:4326") == 4326 and parse_crs(np.int64(3035)) == 3035
    with pytest.raises(ValueError, match="not an EPSG code"):
        parse_crs(np.array([32633.5], dtype=np.float32))
    # float32 rounds POSIX seconds to 128 s near 2021: the minute is approximate, the day is not.
    stamp = parse_timestamp(np.array([TIMESTAMP], dtype=np.float32))
    assert stamp is not None and stamp.startswith("2021-07-01T00:0") and stamp.endswith("Z")
    assert parse_timestamp("2021-07-01T10:00:00Z") == "2021-07-01T10:00:00Z"


def test_sources_of_the_download_layout() -> None:
    assert source_of_shard("benv2s1_part3.h5") == "benv2s1"
    assert source_of_shard("sen12flood.h5", "s1") == "sen1flood" and source_of_shard("sen12flood.h5", "s2") == "sen2flood"
    with pytest.raises(ValueError, match="sen1flood.*sen2flood"):
        source_of_shard("sen12flood.h5")


def test_reader_completes_the_official_metadata(published: Path) -> None:
    corpus = CrisisLandMark(published)
    table = corpus.metadata.set_index("key")
    assert table.at["sen12flood_0", "source"] == "sen1flood" and table.at["sen12flood_1", "source"] == "sen2flood"
    assert table.at["sen12flood_1", "modality"] == "s2" and table.at["benv2s2_part4_2", "source"] == "benv2s2"
    assert set(table["source"]) == {"benv2s1", "benv2s2", "cabuar", "mmflood", "sen1flood", "sen2flood", "quakeset"}
    patch = corpus.read("quakeset_1")
    assert patch.crs == 32633 and patch.timestamp is not None and patch.timestamp.startswith("2021-07-01")


def test_every_command_runs_on_the_published_format(published: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*args: str) -> dict:
        capsys.readouterr()
        assert main([*args, "--json"]) == 0, capsys.readouterr().err
        return json.loads(capsys.readouterr().out)

    assert run("data", "verify", str(published))["ok"]
    info = run("data", "info", str(published))
    assert info["source"]["sen1flood"] == 2 and info["source"]["sen2flood"] == 2 and info["samples"] == sum(map(len, LAYOUT.values()))
    run("captions", "build", str(published))
    assert run("queries", "build", str(published), "--out", str(published))["judgements"] > 0
    trained = run("train", "--mode", "tiny", "--data", str(published), "--out", str(tmp_path / "run"), "--epochs", "2", "--batch-size", "4")
    assert trained["steps"] >= 1
    metrics = run("evaluate", str(tmp_path / "run"), "--data", str(published))["metrics"]
    assert metrics["mixed"]["n_documents"] == len(LAYOUT)  # one test sample per shard
    run("embed", str(tmp_path / "run"), "--data", str(published), "--out", str(tmp_path / "index"))
    hits = run("search", "flooded fields", "--run", str(tmp_path / "run"), "--data", str(published), "--index", str(tmp_path / "index"), "--k", "3")
    assert len(hits["results"]) == 3
    # An index of another model is refused.
    capsys.readouterr()
    assert main(["search", "flooded fields", "--run", "untrained", "--data", str(published), "--index", str(tmp_path / "index")]) == 1
    assert "rebuild it with `closp-lite embed`" in capsys.readouterr().err
