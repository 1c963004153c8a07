"""Bad input gets one clear line naming the file and the sample key, never a traceback (simulated corpora)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from closp_lite.cli import describe, main
from closp_lite.data.format import CrisisLandMark
from closp_lite.data.verify import verify
from closp_lite.simulate.corpus import generate_corpus


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "c"
    generate_corpus(root, 4, 4, progress=False)
    return root


def _damage(root: Path, key: str, change: Callable[[h5py.Group], None]) -> Path:
    """Apply ``change`` to the group of ``key`` in its shard; return the shard path."""
    shard = root / f"{CrisisLandMark(root).metadata.set_index('key').at[key, 'shard']}.h5"
    with h5py.File(shard, "r+") as handle:
        change(handle[key])
    return shard


def _replace(name: str, data: np.ndarray) -> Callable[[h5py.Group], None]:
    def change(group: h5py.Group) -> None:
        del group[name]
        group.create_dataset(name, data=data)

    return change


def _first(root: Path, modality: str) -> str:
    table = CrisisLandMark(root).metadata
    return str(table[table["modality"] == modality]["key"].iloc[0])


@pytest.mark.parametrize(
    ("what", "change", "message"),
    [
        ("64 x 64", lambda m: _replace("image", np.zeros((2 if m == "s1" else 12, 64, 64), np.float32)), "must have shape"),
        ("3 bands", lambda m: _replace("image", np.zeros((3, 120, 120), np.float32)), "must have shape"),
        ("no coords", lambda m: lambda g: g.__delitem__("coords"), "no dataset 'coords'"),
        ("all NaN", lambda m: _replace("image", np.full((2 if m == "s1" else 12, 120, 120), np.nan, np.float32)), "no finite pixel"),
    ],
)
def test_reading_a_bad_sample_names_file_and_key(corpus: Path, what: str, change: Callable, message: str) -> None:
    key = _first(corpus, "s1")
    shard = _damage(corpus, key, change("s1"))
    with pytest.raises(ValueError, match=message) as err:
        CrisisLandMark(corpus).read(key)
    assert str(shard) in str(err.value) and repr(key) in str(err.value)


def test_unknown_key_is_a_value_error(corpus: Path) -> None:
    with pytest.raises(ValueError, match="'nope' is not in .*metadata.parquet"):
        CrisisLandMark(corpus).read("nope")


def test_train_on_a_64_pixel_patch_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "big"
    generate_corpus(corpus, 10, 10, progress=False)
    table = CrisisLandMark(corpus).metadata
    key = str(table[(table["modality"] == "s2") & (table["split"] == "train")]["key"].iloc[0])
    _damage(corpus, key, _replace("image", np.zeros((12, 64, 64), np.float32)))
    code = main(["train", "--mode", "tiny", "--data", str(corpus), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "2"])
    err = capsys.readouterr().err
    line = err[err.index("closp-lite: error:") :].splitlines()[0]  # after the progress bars' carriage returns
    assert code == 1 and key in line and "must have shape" in line and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # no lock, no half run, no empty folder


def test_truncated_shard_names_the_file(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queries", "build", str(corpus), "--out", str(corpus), "--json"]) == 0
    table = CrisisLandMark(corpus).metadata
    shard = corpus / f"{table[table['split'] == 'test']['shard'].iloc[0]}.h5"  # a shard of the searched corpus
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 3])
    capsys.readouterr()
    assert main(["evaluate", "untrained", "--data", str(corpus)]) == 1
    err = capsys.readouterr().err
    assert str(shard) in err and "download it again" in err and "Traceback" not in err


def test_evaluate_with_a_file_as_data(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "untrained", "--data", str(corpus / "metadata.parquet")]) == 1
    assert "is not a folder" in capsys.readouterr().err


def test_verify_reports_unknown_labels_and_skip_bad_needs_a_usable_sample(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = _first(corpus, "s2")
    _damage(corpus, key, lambda g: g.attrs.__setitem__("labels", np.array(["Martian dunes"], dtype=h5py.string_dtype())))
    report = verify(corpus, progress=False)
    assert not report.ok and any(k == key and "Martian dunes" in m for _, k, m in report.problems)
    for k in CrisisLandMark(corpus).keys():
        _damage(corpus, k, _replace("image", np.full((2, 120, 120), np.nan, np.float32)))
    skipped = verify(corpus, skip_bad=True, progress=False)
    assert len(skipped.skipped) == 8 and not skipped.ok
    assert main(["data", "verify", str(corpus), "--skip-bad", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["usable"] == 0


def test_model_files_of_different_runs(tmp_path: Path) -> None:
    from closp_lite.models.closp import CLOSP, ModelConfig

    CLOSP(ModelConfig(width=4)).save(tmp_path / "a")
    CLOSP(ModelConfig(width=8)).save(tmp_path / "b")
    (tmp_path / "a" / "model.pt").write_bytes((tmp_path / "b" / "model.pt").read_bytes())
    with pytest.raises(ValueError, match=r"model.pt does not match .*config.json: layer shapes .*; the files come from different runs"):
        CLOSP.load(tmp_path / "a")
    torch.save({}, tmp_path / "b" / "model.pt")
    (tmp_path / "b" / "model.pt").write_bytes((tmp_path / "b" / "model.pt").read_bytes()[:10])
    with pytest.raises(ValueError, match=r"model.pt \(10 bytes\) is not a readable model"):
        CLOSP.load(tmp_path / "b")


def test_captions_build_on_a_group_without_coords(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = _first(corpus, "s2")
    shard = _damage(corpus, key, lambda g: g.__delitem__("coords"))
    assert main(["captions", "build", str(corpus), "--json"]) == 1
    err = capsys.readouterr().err
    assert str(shard) in err and repr(key) in err and "no dataset 'coords'" in err and "Traceback" not in err


class _BadShard(torch.utils.data.Dataset):
    """A dataset whose every read fails the way a damaged shard does."""

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> torch.Tensor:
        raise ValueError(f"s2.h5: sample 'k{index}' has 12 bands, expected 13")


def test_a_loader_worker_error_is_one_line() -> None:
    loader = torch.utils.data.DataLoader(_BadShard(), num_workers=1)
    with pytest.raises(ValueError) as caught:
        next(iter(loader))
    assert "Original Traceback" in str(caught.value)  # what torch re-raises from the worker
    assert describe(caught.value) == "s2.h5: sample 'k0' has 12 bands, expected 13"


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--epochs", "0", "epochs=0 (--epochs) must be a whole number of at least 1"),
        ("--batch-size", "0", "batch_size=0 (--batch-size) must be a whole number of at least 1"),
        ("--lr", "-1", "lr=-1.0 (--lr) must be a finite number above 0"),
        ("--lr", "nan", "lr=nan (--lr) must be a finite number above 0"),
        ("--workers", "-1", "workers=-1 (--workers) must be a whole number of at least 0"),
        ("--accumulation", "0", "accumulation=0 (--accumulation) must be a whole number of at least 1"),
    ],
)
def test_bad_training_settings_are_one_line_and_leave_no_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str) -> None:
    code = main(["train", "--mode", "tiny", "--out", str(tmp_path / "run"), flag, value])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("closp-lite: error: bad training settings:") and message in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_bad_settings_in_a_config_file_are_refused_the_same_way(tmp_path: Path) -> None:
    from closp_lite.training import TrainConfig

    (tmp_path / "train.json").write_text(json.dumps({"epochs": 2, "batch_size": -4, "weight_decay": -0.1}))
    with pytest.raises(ValueError, match=r"batch_size=-4 .*; weight_decay=-0.1 must be a finite number of at least 0"):
        TrainConfig.from_file(tmp_path / "train.json")
