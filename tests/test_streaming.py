"""Full-scale input and training (chapter 10): loaders, bfloat16, published splits, `train --mode full --data`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from closp_lite.data.datasets import CrisisLandMarkDataset
from closp_lite.streaming import (
    StreamConfig,
    autocast,
    cached_backward,
    loader,
    loader_throughput,
    model_throughput,
    published_splits,
    stream_config,
)
from closp_lite.training import TrainConfig


def test_stream_config_on_cpu_and_gpu() -> None:
    cpu = stream_config("full", torch.device("cpu"))
    assert cpu.precision == "fp32" and not cpu.pin_memory and 1 <= cpu.workers <= 8
    gpu = stream_config("full", torch.device("cuda"))
    assert gpu.precision == "bf16" and gpu.pin_memory
    assert stream_config("tiny", torch.device("cpu")).workers == 0
    assert stream_config("sample", torch.device("cpu")).workers == 0  # Binder: 2 cores, 2 GB
    assert stream_config("full", torch.device("cpu"), workers=0).workers == 0  # e.g. chapter 10 on Binder
    with pytest.raises(ValueError, match="workers"):
        stream_config("full", workers=-1)


def test_worker_processes_read_the_same_batches(tiny_corpus: tuple[Path, list]) -> None:
    root, _ = tiny_corpus
    dataset = CrisisLandMarkDataset(root, modality="s2")
    one = list(loader(dataset, [[0, 2], [1]]))
    two = list(loader(dataset, [[0, 2], [1]], StreamConfig(workers=2, prefetch_factor=2)))  # each worker opens its own HDF5 handles
    assert [b["key"] for b in one] == [b["key"] for b in two] == [["s2_0", "s2_2"], ["s2_1"]]
    assert all(torch.equal(a["image"], b["image"]) for a, b in zip(one, two))
    assert loader_throughput(loader(dataset, 2)) > 0


def test_autocast_bfloat16_and_fp32() -> None:
    a = torch.randn(4, 4)
    with autocast(torch.device("cpu"), "bf16"):
        assert (a @ a).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert (a @ a).dtype == torch.float32
    with pytest.raises(ValueError, match="precision"):
        autocast(torch.device("cpu"), "fp16")  # type: ignore[arg-type]


def test_published_splits_validate_on_a_sample_of_the_corpus_split() -> None:
    from closp_lite.data.format import CrisisLandMark
    from closp_lite.simulate import sample_corpus

    root = sample_corpus("tiny", progress=False)
    table = CrisisLandMark(root).metadata
    train, val = published_splits(TrainConfig(data=str(root)), val_fraction=0.002)["s2"]
    s2 = table[table["modality"] == "s2"]
    assert sorted(train.metadata["key"]) == sorted(s2.loc[s2["split"] == "train", "key"])  # the whole train split
    assert len(val) == 2 and set(val.metadata["key"]) <= set(s2.loc[s2["split"] == "test", "key"])  # at least 2 samples
    with pytest.raises(ValueError, match="--data PATH"):
        published_splits(TrainConfig(), 0.002)


def test_model_throughput_on_cpu() -> None:
    torch.set_num_threads(1)
    assert model_throughput("small_cnn", batch=4, steps=1) > 0


def test_fabric_two_processes_gather_the_loss() -> None:
    # Two CPU processes (gloo): features are all-gathered by the CLOSP loss, gradients averaged by DDP.
    # A fresh interpreter: Fabric refuses ddp_spawn once an IPython shell (another test) set sys.ps1.
    code = (
        "from closp_lite.streaming import fabric_throughput; "
        "print(fabric_throughput('small_cnn', batch=2, steps=1, devices=2, accelerator='cpu', precision='32-true'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.strip().splitlines()[-1]) > 0


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "closp_lite.cli", *args], check=False, capture_output=True, text=True, timeout=600)


def test_train_full_without_data_fails_cleanly_and_leaves_no_folder(tmp_path: Path) -> None:
    result = _cli("train", "--mode", "full", "--out", str(tmp_path / "run"))
    assert result.returncode == 1 and "--data PATH" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_train_full_on_a_corpus_folder(tmp_path: Path) -> None:
    from closp_lite.simulate import sample_corpus

    root = sample_corpus("tiny", progress=False)
    result = _cli("train", "--mode", "full", "--data", str(root), "--out", str(tmp_path / "run"), "--epochs", "2", "--batch-size", "4", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["steps"] >= 1
    assert (tmp_path / "run" / "model.pt").is_file()
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["mode"] == "full"


def test_gradient_cache_equals_one_big_batch() -> None:
    from closp_lite.losses import contrastive_loss

    torch.manual_seed(0)
    tower = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 8))
    images, texts = torch.randn(12, 2, 4, 4), torch.nn.functional.normalize(torch.randn(12, 8), dim=-1)
    encode = lambda x: torch.nn.functional.normalize(tower(x), dim=-1)
    contrastive_loss(encode(images), texts).backward()
    expected = [p.grad.clone() for p in tower.parameters()]
    tower.zero_grad()
    loss = cached_backward(encode, images, texts, contrastive_loss, micro_batch=5)
    assert loss == pytest.approx(float(contrastive_loss(encode(images), texts)), rel=1e-6)
    assert all(torch.allclose(p.grad, e, atol=1e-6) for p, e in zip(tower.parameters(), expected))
