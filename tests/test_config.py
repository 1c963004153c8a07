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


def test_resolve_reads_every_setting_once_from_a_mapping(tmp_path: Path) -> None:
    env = {"CLOSP_LITE_MODE": "tiny", "CLOSP_LITE_DATA_DIR": str(tmp_path), "CLOSP_LITE_DEVICE": "cpu", "CLOSP_LITE_STATIC_MAPS": "1"}
    resolved = config.resolve(environ=env)
    assert (resolved.mode, resolved.data_dir, resolved.device, resolved.static_maps) == ("tiny", tmp_path, "cpu", True)
    assert resolved.scale == config.settings("tiny")
    assert config.resolve("full", environ=env).mode == "full"  # an argument wins over the environment


def test_only_config_reads_the_environment() -> None:
    import re

    package = Path(config.__file__).parent
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "config.py" and re.search(r"(environ|getenv)[^\n]*CLOSP_LITE_|CLOSP_LITE_\w+\"\s*\]", path.read_text())
    ]
    assert not offenders, f"read CLOSP_LITE_* settings through closp_lite.config.resolve(): {offenders}"


def test_embedding_uses_the_scale_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from closp_lite import experiments

    monkeypatch.setenv("CLOSP_LITE_MODE", "sample")
    seen = {}

    def fake_embed(encode, samples, batch_size, info=None, total=None):
        seen["batch_size"] = batch_size
        return "index"

    monkeypatch.setattr(experiments, "embed_dataset", fake_embed)
    monkeypatch.setattr(experiments, "corpus_labels", lambda root, split: {})
    experiments.embed_corpus(experiments.Encoders(lambda x: x, lambda t: t), "unused", scale=config.settings("tiny"))
    assert seen["batch_size"] == config.settings("tiny").embed_batch_size != config.settings("sample").embed_batch_size
