"""Shared fixtures: tiny corpora written with the real writer (nothing downloaded, nothing cached)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from closp_lite.data.format import CorpusWriter, Patch

PatchFactory = Callable[..., Patch]


def _make_patch(
    key: str, modality: str = "s2", labels: list[str] | None = None, seed: int = 0, mask: bool = False, crs: int = 32633
) -> Patch:
    """A patch with plausible values: S2 reflectance x 10,000 or S1 dB, on a 10 m UTM grid near Vienna."""
    rng = np.random.default_rng(seed)
    if modality == "s2":
        image = rng.uniform(200, 4000, size=(12, 120, 120)).astype(np.float32)
    else:
        image = np.stack([rng.normal(-12, 2, (120, 120)), rng.normal(-20, 2, (120, 120))]).astype(np.float32)
    x, y = np.meshgrid(600_005.0 + 10 * np.arange(120), 5_340_005.0 - 10 * np.arange(120))
    return Patch(
        key=key,
        image=image,
        coords=np.stack([x, y]).astype(np.float32),
        crs=crs,
        labels=list(labels if labels is not None else ["Non-irrigated arable land", "Pastures"]),
        timestamp="2018-06-01T10:00:00Z" if modality == "s2" else None,
        mask=rng.integers(0, 9, (120, 120), dtype=np.uint8) if mask else None,
    )


@pytest.fixture
def make_patch() -> PatchFactory:
    """The factory ``make_patch(key, modality="s2", labels=None, seed=0, mask=False, crs=32633)``."""
    return _make_patch


TINY_LABELS = {
    "s2": [["Non-irrigated arable land", "Pastures"], ["Coniferous forest"], ["Water bodies", "Pastures"]],
    "s1": [["Coniferous forest", "Water bodies"], ["Discontinuous urban fabric"], ["Pastures"]],
}


def write_tiny_corpus(root: Path) -> list[Patch]:
    """Write 3 S2 + 3 S1 patches (CORINE labels, S1 with masks) in two shards; return the patches."""
    patches = []
    with CorpusWriter(root) as writer:
        for modality in ("s2", "s1"):
            for i, labels in enumerate(TINY_LABELS[modality]):
                patch = _make_patch(f"{modality}_{i}", modality, labels, seed=i, mask=modality == "s1")
                writer.add(patch, shard=f"tiny{modality}", split="train" if i == 0 else "test", source=f"tiny{modality}")
                patches.append(patch)
    return patches


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> tuple[Path, list[Patch]]:
    """A fresh tiny corpus folder and the patches written into it."""
    root = tmp_path / "corpus"
    return root, write_tiny_corpus(root)


@pytest.fixture
def corpus_writer() -> Callable[[Path], list[Patch]]:
    """The function that writes the tiny corpus into a folder (to write it several times)."""
    return write_tiny_corpus


@pytest.fixture(scope="session")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for chapter kernels: tiny mode, a data directory shared by the whole session."""
    import os

    return {
        "CLOSP_LITE_MODE": "tiny",
        "CLOSP_LITE_DATA_DIR": os.environ.get("CLOSP_LITE_DATA_DIR") or str(tmp_path_factory.mktemp("data")),
        "TQDM_DISABLE": "1",
        "MPLBACKEND": "Agg",
        "HF_HUB_OFFLINE": "1",
    }


@pytest.fixture(scope="session")
def executed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where tests/test_book.py leaves the executed chapters (``NAME.ipynb``) for tests/test_browser.py."""
    return tmp_path_factory.mktemp("executed")


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread: small models (captioner, VQA) are faster without thread contention on a shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
