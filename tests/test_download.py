"""Tests of the resumable, verified download against local file:// URLs (never the network)."""

from __future__ import annotations

import hashlib
import importlib
import json
import urllib.error
from pathlib import Path

import pytest

from closp_lite.cli import main
from closp_lite.data.download import MANIFEST, RemoteFile, download

# `closp_lite.data.download` the attribute is the re-exported function; the module lives in sys.modules.
dl = importlib.import_module("closp_lite.data.download")


@pytest.fixture
def server(tmp_path: Path) -> tuple[str, dict[str, bytes]]:
    """A folder served through file:// with two corpus-like files."""
    folder = tmp_path / "hub"
    (folder / "qrels").mkdir(parents=True)
    files = {"cabuar.h5": bytes(range(256)) * 5000, "qrels/test.tsv": b"query-id\tcorpus-id\tscore\nq1\tk1\t1\n"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder.as_uri(), files


def _registry(files: dict[str, bytes], **overrides: RemoteFile) -> dict[str, RemoteFile]:
    registry = {name: RemoteFile(name, len(data), hashlib.sha256(data).hexdigest()) for name, data in files.items()}
    return {**registry, **overrides}


def test_download_verifies_and_records(tmp_path: Path, server: tuple[str, dict[str, bytes]]) -> None:
    url, files = server
    out = download(out_dir=tmp_path / "out", base_url=url, progress=False, registry=_registry(files))
    for name, data in files.items():
        assert (out / name).read_bytes() == data
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["cabuar.h5"]["sha256"] == hashlib.sha256(files["cabuar.h5"]).hexdigest()
    assert not list(out.rglob("*.part"))
    stamp = (out / "cabuar.h5").stat().st_mtime_ns
    download(out_dir=out, base_url=url, progress=False, registry=_registry(files))
    assert (out / "cabuar.h5").stat().st_mtime_ns == stamp  # complete files are not fetched again


def test_resume_from_a_partial_file(tmp_path: Path, server: tuple[str, dict[str, bytes]]) -> None:
    url, files = server
    out = tmp_path / "out"
    out.mkdir()
    data = files["cabuar.h5"]
    half = len(data) // 2
    # A partial file whose bytes differ from the source: only resuming keeps them.
    (out / "cabuar.h5.part").write_bytes(b"\xff" * half)
    registry = {"cabuar.h5": RemoteFile("cabuar.h5", len(data))}  # size known, checksum not
    download(["cabuar.h5"], out_dir=out, base_url=url, progress=False, registry=registry)
    got = (out / "cabuar.h5").read_bytes()
    assert got[:half] == b"\xff" * half and got[half:] == data[half:]


def test_checksum_mismatch_is_an_error(tmp_path: Path, server: tuple[str, dict[str, bytes]]) -> None:
    url, files = server
    registry = _registry(files, **{"cabuar.h5": RemoteFile("cabuar.h5", None, "0" * 64)})
    with pytest.raises(ValueError, match="cabuar.h5: SHA-256 .* does not match"):
        download(["cabuar.h5"], out_dir=tmp_path / "out", base_url=url, progress=False, registry=registry)
    assert not (tmp_path / "out" / "cabuar.h5").exists() and not (tmp_path / "out" / "cabuar.h5.part").exists()


def test_offline_names_files_urls_and_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(dl, "urlopen", offline)
    out = tmp_path / "out"
    with pytest.raises(ConnectionError) as err:
        download(["metadata.parquet", "mmflood.h5"], out_dir=out, progress=False)
    message = str(err.value)
    assert f"{dl.BASE_URL}/metadata.parquet" in message and f"{dl.BASE_URL}/mmflood.h5" in message
    assert str(out / "mmflood.h5") in message and "by hand" in message


def test_unknown_file_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown corpus files"):
        download(["nope.h5"], out_dir=tmp_path, progress=False)


def test_cli_data_download(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hub = tmp_path / "hub"
    hub.mkdir()
    (hub / "queries.jsonl").write_text('{"_id": "q1", "text": "crops"}\n')
    args = ["data", "download", "--files", "queries.jsonl", "--out", str(tmp_path / "dl"), "--base-url", hub.as_uri(), "--json"]
    assert main(args) == 0
    assert (tmp_path / "dl" / "queries.jsonl").read_text().startswith('{"_id"')
    capsys.readouterr()
    assert main(["data", "download", "--files", "zz.h5", "--out", str(tmp_path / "dl")]) == 1
    assert "unknown corpus files" in capsys.readouterr().err
