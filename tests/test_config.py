"""The scale switch, data directory, device and seeding (config.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from closp_lite import config


def test_mode_defaults_to_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOSP_LITE_MODE", raising=False)
    assert config.get_mode() == "sample"


def test_mode_is_read_from_the_environment_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOSP_LITE_MODE", " Tiny ")
    assert config.get_mode() == "tiny"
    assert config.settings().n_s1 < config.settings("sample").n_s1
    monkeypatch.setenv("CLOSP_LITE_MODE", "huge")
    with pytest.raises(ValueError, match="tiny, sample, full"):
        config.get_mode()


def test_full_mode_uses_the_whole_corpus() -> None:
    full = config.settings("full")
    assert full.n_s1 is None and full.n_s2 is None


def test_data_dir_is_overridable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLOSP_LITE_DATA_DIR", str(tmp_path / "cache"))
    assert config.data_dir() == tmp_path / "cache"
    assert (tmp_path / "cache").is_dir()


def test_device_defaults_to_cpu_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOSP_LITE_DEVICE", raising=False)
    if not torch.cuda.is_available():
        assert config.get_device().type == "cpu"
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            config.get_device("cuda")


def test_seeding_makes_runs_reproducible() -> None:
    config.seed_everything(7)
    first = (np.random.rand(3), torch.rand(3))
    config.seed_everything(7)
    second = (np.random.rand(3), torch.rand(3))
    np.testing.assert_array_equal(first[0], second[0])
    assert torch.equal(first[1], second[1])
