"""Run folders: never replaced silently, locked while written, resumed only with the same settings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from closp_lite.runfolder import LOCK, RunFolder, RunFolderError, check_same_settings, load_torch_file


def _fake_run(path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for name in ("model.pt", "train_config.json", "log.csv"):
        (path / name).write_text("x")
    (path / "notes.txt").write_text("mine")


def test_existing_run_is_refused_without_resume_or_overwrite(tmp_path) -> None:
    _fake_run(tmp_path / "run")
    with pytest.raises(RunFolderError, match="--resume.*--overwrite"), RunFolder(tmp_path / "run"):
        pass
    assert (tmp_path / "run" / "model.pt").exists() and not (tmp_path / "run" / LOCK).exists()
    with pytest.raises(RunFolderError, match="not both"):
        RunFolder(tmp_path / "run", resume=True, overwrite=True)


def test_overwrite_removes_only_the_run_files(tmp_path) -> None:
    _fake_run(tmp_path / "run")
    with RunFolder(tmp_path / "run", overwrite=True) as folder:
        assert folder.existing_files() == [] and (tmp_path / "run" / LOCK).is_file()
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "run" / LOCK).exists()


def test_a_live_lock_refuses_a_second_writer_and_a_stale_one_is_taken_over(tmp_path) -> None:
    with RunFolder(tmp_path / "run"), pytest.raises(RunFolderError, match=f"locked by process {os.getpid()}"), RunFolder(tmp_path / "run"):
        pass
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    (tmp_path / "run" / LOCK).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    with RunFolder(tmp_path / "run"):
        assert json.loads((tmp_path / "run" / LOCK).read_text())["pid"] == os.getpid()
    (tmp_path / "run" / LOCK).write_text(json.dumps({"pid": 1, "host": "another-host"}))
    with pytest.raises(RunFolderError, match="another-host"), RunFolder(tmp_path / "run"):
        pass


def test_resume_with_other_settings_names_them(tmp_path) -> None:
    saved = {"epochs": 2, "batch_size": 4, "lr": 0.01, "model": {"width": 4}}
    (tmp_path / "train_config.json").write_text(json.dumps(saved))
    check_same_settings(tmp_path / "train_config.json", saved)
    with pytest.raises(RunFolderError, match=r"batch_size: saved 4, now 8.*epochs: saved 2, now 3.*model.width"):
        check_same_settings(tmp_path / "train_config.json", {**saved, "epochs": 3, "batch_size": 8, "model": {"width": 8}})
    check_same_settings(tmp_path / "train_config.json", {**saved, "workers": 2}, ignore=("workers",))  # loader workers change no result


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"])
def test_empty_or_truncated_checkpoint_is_a_clear_error(tmp_path, content: bytes) -> None:
    (tmp_path / "checkpoint.pt").write_bytes(content)
    with pytest.raises(ValueError, match=r"checkpoint.pt \(\d+ bytes\) is not a readable training checkpoint"):
        load_torch_file(tmp_path / "checkpoint.pt", "training checkpoint", "start again")
