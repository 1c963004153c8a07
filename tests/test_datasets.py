"""Tests of CrisisLandMarkDataset, collate and the image plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from closp_lite.data.bands import to_model_input
from closp_lite.data.datasets import CrisisLandMarkDataset, collate
from closp_lite.data.format import Patch, lonlat, write_captions
from closp_lite.plotting.images import plot_sample, plot_samples, sample_rgb


def test_sample_dict_contract(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, patches = tiny_corpus
    dataset = CrisisLandMarkDataset(root)
    assert len(dataset) == 6
    by_key = {p.key: p for p in patches}
    for i in range(len(dataset)):
        sample = dataset[i]
        patch = by_key[sample["key"]]
        assert sample["modality"] == patch.modality and sample["source_labels"] == patch.labels
        expected = to_model_input(patch.image, patch.modality)
        assert sample["image"].dtype == torch.float32 and torch.equal(sample["image"], torch.from_numpy(expected))
        assert sample["lonlat"].shape == (2,) and np.allclose(sample["lonlat"].numpy(), lonlat(patch))
        assert sample["labels"] == sorted(sample["labels"]) and sample["timestamp"] == (patch.timestamp or "")
        assert sample["text"] == ". ".join(label.lower() for label in sample["labels"])
        assert ("mask" in sample) == (patch.mask is not None)
    s2 = dataset[0]
    assert s2["image"].shape == (13, 120, 120) and s2["labels"] == ["Crops", "Grass"] and s2["text"] == "crops. grass"
    s1 = dataset[3]
    assert s1["mask"].dtype == torch.int64 and s1["labels"] == ["Trees", "Water"]


def test_filters(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, _ = tiny_corpus
    assert {CrisisLandMarkDataset(root, modality="s1")[i]["modality"] for i in range(3)} == {"s1"}
    assert len(CrisisLandMarkDataset(root, split="train")) == 2
    assert len(CrisisLandMarkDataset(root, sources=["tinys2"])) == 3
    water = CrisisLandMarkDataset(root, labels=["Water"])
    assert sorted(water.metadata["key"]) == ["s1_0", "s2_2"]
    assert len(CrisisLandMarkDataset(root, modality="s2", labels=["Water", "Trees"])) == 2
    picked = CrisisLandMarkDataset(root, keys=["s1_2", "s2_0"])
    assert [picked[0]["key"], picked[1]["key"]] == ["s1_2", "s2_0"]
    with pytest.raises(ValueError, match="no sample"):
        CrisisLandMarkDataset(root, modality="s1", labels=["Snow and Ice"])
    with pytest.raises(ValueError, match="modality"):
        CrisisLandMarkDataset(root, modality="rgb")
    with pytest.raises(ValueError, match="'zz'"):
        CrisisLandMarkDataset(root, keys=["zz"])


def test_stored_caption_styles(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, patches = tiny_corpus
    with pytest.raises(ValueError, match="captions.parquet not found"):
        CrisisLandMarkDataset(root, text_style="template")
    write_captions(root, pd.DataFrame({"key": [p.key for p in patches], "template": [f"view of {p.key}" for p in patches]}))
    dataset = CrisisLandMarkDataset(root, text_style="template", keys=["s1_1"])
    assert dataset[0]["text"] == "view of s1_1"
    with pytest.raises(ValueError, match="no caption style 'sar'.*template"):
        CrisisLandMarkDataset(root, text_style="sar")
    write_captions(root, pd.DataFrame({"key": ["s1_1"], "template": ["x"]}))
    with pytest.raises(ValueError, match="5 samples have no 'template' caption"):
        CrisisLandMarkDataset(root, text_style="template")


def test_transforms_and_collate(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, _ = tiny_corpus
    flip = CrisisLandMarkDataset(root, modality="s1", transforms=lambda s: {**s, "image": s["image"].flip(-1)})
    plain = CrisisLandMarkDataset(root, modality="s1")
    assert torch.equal(flip[0]["image"], plain[0]["image"].flip(-1))
    batch = collate([plain[0], plain[1]])
    assert batch["image"].shape == (2, 2, 120, 120) and batch["mask"].shape == (2, 120, 120)
    assert batch["key"] == ["s1_0", "s1_1"] and batch["lonlat"].shape == (2, 2)
    mixed = collate([CrisisLandMarkDataset(root)[0], plain[0]])
    assert isinstance(mixed["image"], list) and mixed["mask"][0] is None
    loader = torch.utils.data.DataLoader(plain, batch_size=3, collate_fn=collate)
    assert next(iter(loader))["image"].shape == (3, 2, 120, 120)


def test_plots_return_figures(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, patches = tiny_corpus
    dataset = CrisisLandMarkDataset(root)
    s2, s1 = dataset[0], dataset[3]
    fig = plot_sample(s1)
    assert isinstance(fig, Figure) and len(fig.axes) == 5  # composite, VV, VH + two colour bars
    assert "Trees, Water" in fig.texts[0].get_text()
    assert isinstance(plot_sample(dataset[0], false_colour=True), Figure)
    assert len(plot_samples([s2, s1, patches[1]], ncols=2).axes) == 4
    rgb = sample_rgb(s2)
    assert rgb.shape == (120, 120, 3) and 0 <= rgb.min() and rgb.max() <= 1
    # true and false colour differ, and a Patch gives the same picture as its sample dict
    assert not np.allclose(rgb, sample_rgb(s2, false_colour=True))
    assert np.allclose(sample_rgb(patches[0]), rgb, atol=1e-5)
    with pytest.raises(ValueError):
        plot_samples([])


def test_dataloader_workers_read_the_same_samples(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, _ = tiny_corpus
    dataset = CrisisLandMarkDataset(root, modality="s2")
    dataset[0]  # the parent opens a shard first: workers must not reuse its handle
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=2, collate_fn=collate)
    got = {batch["key"][0]: batch["image"][0] for batch in loader}
    assert sorted(got) == ["s2_0", "s2_1", "s2_2"]
    assert all(torch.equal(got[dataset[i]["key"]], dataset[i]["image"]) for i in range(3))
