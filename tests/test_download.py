"""Downloads through the dataset hub, verified against the hub's sizes and SHA-256 (a fake hub; never the network)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from closp_lite.cli import main
from closp_lite.data.download import DATASET_URL, MANIFEST, HuggingFaceHub, RemoteFile, download, read_manifest
from closp_lite.data.verify import verify


class FakeHub:
    """Files in a local folder, with the sizes and LFS checksums the hub would publish."""

    def __init__(self, folder: Path, lfs: Sequence[str] = ("cabuar.h5",), corrupt: Sequence[str] = ()) -> None:
        self.folder, self.lfs, self.corrupt, self.fetched = folder, set(lfs), set(corrupt), []

    def files(self, names: Sequence[str]) -> dict[str, RemoteFile]:
        out = {}
        for name in names:
            path = self.folder / name
            if path.is_file():
                data = path.read_bytes()
                out[name] = RemoteFile(name, len(data), hashlib.sha256(data).hexdigest() if name in self.lfs else None)
        return out

    def fetch(self, name: str, out: Path) -> Path:
        self.fetched.append(name)
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (self.folder / name).read_bytes()
        target.write_bytes(b"\0" * len(data) if name in self.corrupt else data)
        return target


@pytest.fixture
def hub_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "hub"
    folder.mkdir()
    (folder / "cabuar.h5").write_bytes(bytes(range(256)) * 500)
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "crops"}\n')
    return folder


def test_download_checks_the_hub_checksums_and_records_a_manifest(tmp_path: Path, hub_folder: Path) -> None:
    hub = FakeHub(hub_folder)
    out = download(["cabuar.h5", "queries.jsonl"], tmp_path / "out", hub=hub)
    manifest = read_manifest(out)
    assert manifest["cabuar.h5"]["sha256"] == hashlib.sha256((hub_folder / "cabuar.h5").read_bytes()).hexdigest()
    assert manifest["queries.jsonl"]["size"] == (hub_folder / "queries.jsonl").stat().st_size
    download(["cabuar.h5", "queries.jsonl"], out, hub=hub)
    assert hub.fetched == ["cabuar.h5", "queries.jsonl"]  # complete, recorded files are not fetched again


def test_a_zero_filled_file_is_rejected_and_removed(tmp_path: Path, hub_folder: Path) -> None:
    with pytest.raises(ValueError, match="cabuar.h5: SHA-256 .* differs from the hub's"):
        download(["cabuar.h5"], tmp_path / "out", hub=FakeHub(hub_folder, corrupt=["cabuar.h5"]))
    assert not (tmp_path / "out" / "cabuar.h5").exists() and "cabuar.h5" not in read_manifest(tmp_path / "out")


def test_offline_message_lists_every_file_and_the_manual_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    out = tmp_path / "out"
    with pytest.raises(ConnectionError) as err:
        download(["metadata.parquet", "mmflood.h5"], out, hub=HuggingFaceHub())
    message = str(err.value)
    assert f"{DATASET_URL}/resolve/main/metadata.parquet" in message and str(out / "mmflood.h5") in message
    assert "by hand" in message and "closp-lite data verify" in message


def test_unknown_file_name(tmp_path: Path, hub_folder: Path) -> None:
    with pytest.raises(ValueError, match="has no files"):
        download(["nope.h5"], tmp_path, hub=FakeHub(hub_folder))


def test_verify_reads_the_download_manifest(tmp_path: Path) -> None:
    from closp_lite.simulate.corpus import generate_corpus

    root = tmp_path / "c"
    generate_corpus(root, 2, 2, progress=False)
    (root / MANIFEST).write_text(json.dumps({"metadata.parquet": {"size": 1, "sha256": "0" * 64}}))
    report = verify(root, progress=False)
    assert not report.ok and any("download manifest" in m and "metadata.parquet" in f for f, _, m in report.problems)


def test_cli_data_download_offline_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert main(["data", "download", "--files", "queries.jsonl", "--out", str(tmp_path / "dl")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("closp-lite: error: cannot reach the dataset hub") and "Traceback" not in err
    shutil.rmtree(tmp_path / "dl", ignore_errors=True)
