"""Tests of simulated corpora: the written format, determinism, splits, the cache, the CLI and data_samples/."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from closp_lite.cli import main
from closp_lite.data.checksum import sha256_of as sha256
from closp_lite.data.format import CrisisLandMark
from closp_lite.labels import CRISIS_LABELS, VOCABULARY
from closp_lite.simulate import mask_labels
from closp_lite.simulate.corpus import SOURCES, generate_corpus, sample_corpus
from closp_lite.simulate.samples import MANIFEST, check_samples, default_samples_dir, write_samples


def _file_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("sim") / "corpus"
    return root, generate_corpus(root, 30, 30, seed=3, progress=False)


def test_corpus_holds_every_patch_in_the_format(corpus: tuple[Path, dict]) -> None:
    root, summary = corpus
    assert summary["simulated"] and summary["n_s1"] == 30 and sum(summary["splits"].values()) == 60
    with CrisisLandMark(root) as reader:
        assert len(reader) == 60
        meta = reader.metadata.set_index("key")
        for key in reader.keys():
            patch = reader.read(key)
            modality = meta.loc[key, "modality"]
            assert patch.image.shape == ((2,) if modality == "s1" else (12,)) + (120, 120)
            assert patch.image.dtype == np.float32 and np.isfinite(patch.image).all()
            assert patch.mask is not None and patch.mask.shape == (120, 120) and patch.mask.max() < 9
            assert 32600 < patch.crs < 32800 and patch.timestamp.endswith("Z")
            crisis = [label for label in patch.labels if label in CRISIS_LABELS]
            assert [label for label in patch.labels if label not in CRISIS_LABELS] == mask_labels(patch.mask)
            assert len(crisis) <= 1 and set(patch.labels) <= set(VOCABULARY)
            source = meta.loc[key, "source"]
            assert modality in SOURCES[source].modalities
            if crisis:
                assert SOURCES[source].event is not None


def test_splits_hold_every_label_and_a_fifth_for_training(corpus: tuple[Path, dict]) -> None:
    root, _ = corpus
    with CrisisLandMark(root) as reader:
        meta = reader.metadata
    splits: dict[tuple[str, str], set[str]] = defaultdict(set)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for row in meta.itertuples():
        for label in row.labels:
            splits[(row.modality, label)].add(row.split)
            counts[(row.modality, label)] += 1
    for key, found in splits.items():
        if counts[key] >= 2:
            assert found == {"train", "test"}, key
    assert 0.15 < (meta["split"] == "train").mean() < 0.35


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_corpus(a, 6, 6, seed=11, progress=False)
    generate_corpus(b, 6, 6, seed=11, progress=False, workers=2)  # render processes do not change the files
    generate_corpus(c, 6, 6, seed=12, progress=False)
    assert _file_hashes(a) == _file_hashes(b)
    assert _file_hashes(a) != _file_hashes(c)
    with pytest.raises(ValueError, match="workers"):
        generate_corpus(tmp_path / "d", 1, 1, workers=-1)


def test_sample_corpus_is_generated_once_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOSP_LITE_DATA_DIR", str(tmp_path))
    root = sample_corpus("tiny", seed=1, progress=False)
    assert root.is_relative_to(tmp_path) and (root / "simulation.json").is_file()
    stamp = (root / "metadata.parquet").stat().st_mtime_ns
    assert sample_corpus("tiny", seed=1, progress=False) == root
    assert (root / "metadata.parquet").stat().st_mtime_ns == stamp  # reused, not regenerated
    with CrisisLandMark(root) as reader:
        assert len(reader) == 96  # tiny: 48 + 48
    with pytest.raises(ValueError, match="real CrisisLandMark corpus"):
        sample_corpus("full")


def test_cli_simulate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["simulate", "--n-s1", "3", "--n-s2", "2", "--seed", "4", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_s1"] == 3 and summary["n_s2"] == 2 and summary["patches_per_s"] > 0
    assert main(["simulate", "--n-s1", "3", "--n-s2", "2", "--out", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["simulate", "--n-s1", "-1", "--n-s2", "2", "--out", str(tmp_path / "bad")]) == 1


def test_bundled_samples_match_their_manifest(tmp_path: Path) -> None:
    root = default_samples_dir()
    manifest = json.loads((root / MANIFEST).read_text())
    assert manifest["simulated"] is True and "SIMULATED" in manifest["description"]
    total = sum(entry["bytes"] for entry in manifest["files"].values())
    assert total < 25e6
    present = set(manifest["labels"]["s1"]) | set(manifest["labels"]["s2"])
    assert present == set(VOCABULARY)  # all 12 labels, crisis events included
    assert check_samples(root) == []  # files on disk and a fresh regeneration both match
    rebuilt = write_samples(tmp_path / "rebuilt")
    assert rebuilt["files"] == manifest["files"]


def test_check_samples_reports_a_changed_file(tmp_path: Path) -> None:
    root = tmp_path / "samples"
    manifest = write_samples(root)
    victim = root / sorted(manifest["files"])[0]
    victim.write_bytes(victim.read_bytes() + b"x")
    problems = check_samples(root)
    assert len(problems) == 1 and victim.name in problems[0] and "on disk" in problems[0]
    with pytest.raises(FileNotFoundError, match="closp-lite data samples"):
        check_samples(tmp_path / "nowhere")
