"""The released CLOSP / GeoCLOSP encoders through torchgeo's enums, offline from local files (chapter 10)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from closp_lite.models.image import torchgeo_backbone
from closp_lite.models.released import released_config, released_model


def test_released_config_names_torchgeo_members() -> None:
    config = released_config("geoclosp")
    assert config.arch == "resnet50" and config.weights == {"s1": "SENTINEL1_GRD_GEOCLOSP", "s2": "SENTINEL2_ALL_GEOCLOSP"}
    with pytest.raises(ValueError, match="no released"):
        released_config("geoclosp", "vit_small")


def test_local_files_load_shape_checked(tmp_path: Path) -> None:
    torch.manual_seed(0)
    files = {}
    for modality, channels in (("s1", 2), ("s2", 13)):
        backbone, _ = torchgeo_backbone("resnet50", channels)
        files[modality] = tmp_path / f"{modality}.pth"
        torch.save(backbone.state_dict(), files[modality])
    model = released_model(files=files)
    saved = torch.load(files["s1"], weights_only=True)
    assert torch.equal(model.towers["s1"].backbone.state_dict()["conv1.weight"], saved["conv1.weight"])
    with pytest.raises(ValueError, match="conv1.weight"):  # the S1 file given for the S2 tower
        released_model(files={"s1": files["s1"], "s2": files["s1"]})
