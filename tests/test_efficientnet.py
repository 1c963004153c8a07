"""EfficientNet-Lite0: the package's ImageNet weights on timm's architecture, and the channel extension (chapter 8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from closp_lite.data.bands import S2_MODEL_BANDS
from closp_lite.models import efficientnet as en
from closp_lite.models.image import ImageTower, init_from, tower_for

RGB = [S2_MODEL_BANDS.index(b) for b in ("B4", "B3", "B2")]


@pytest.fixture(scope="module")
def imagenet() -> torch.nn.Module:
    return en.imagenet_efficientnet_lite0()


def _grace_hopper() -> torch.Tensor:
    import matplotlib
    from PIL import Image

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    image = torch.nn.functional.interpolate(image, size=(224, 224), mode="bilinear", align_corners=False)
    mean, std = en.IMAGENET_MEAN_STD
    return (image - mean) / std


def test_weights_load_strictly_with_the_documented_count(imagenet) -> None:
    assert sum(p.numel() for p in imagenet.parameters()) == en.N_PARAMETERS
    assert len(en.package_state_dict()) == len(imagenet.state_dict()) == 296


def test_grace_hopper_is_a_military_uniform(imagenet) -> None:
    with torch.no_grad():
        probabilities = imagenet(_grace_hopper()).softmax(-1)[0]
    top5 = probabilities.topk(5).indices.tolist()
    assert top5[0] == 652  # military uniform
    assert {457, 834} <= set(top5)  # bow tie, suit
    assert 0.4 < float(probabilities[652]) < 0.6


def test_mapping_reproduces_the_reference_architecture(imagenet) -> None:
    from efficientnet_lite_pytorch import EfficientNet

    reference = EfficientNet.from_name("efficientnet-lite0")
    reference.load_state_dict(en.package_state_dict(), strict=True)
    image = _grace_hopper()
    with torch.no_grad():
        assert torch.allclose(imagenet(image), reference.eval()(image), atol=1e-4)


def test_unknown_tensor_names_are_refused(imagenet) -> None:
    with pytest.raises(ValueError, match="no timm name"):
        en.timm_state_dict({"_extra.weight": torch.zeros(1)}, imagenet)


def test_stem_shapes_and_rule() -> None:
    rgb = torch.randn(32, 3, 3, 3)
    s2, s1 = en.stem_weight(rgb, "s2"), en.stem_weight(rgb, "s1")
    assert s2.shape == (32, 13, 3, 3) and s1.shape == (32, 2, 3, 3)
    assert torch.equal(s2[:, RGB], rgb)
    assert torch.allclose(s2[:, 0], rgb.mean(1) * 3 / 13)
    assert torch.allclose(s1.sum(1), rgb.sum(1))
    assert torch.equal(en.rgb_of_stem(s2, "s2"), rgb)
    with pytest.raises(ValueError, match="3-channel"):
        en.stem_weight(torch.randn(32, 4, 3, 3), "s2")


def test_extended_backbones_reproduce_the_rgb_network() -> None:
    rgb_net, s2_net, s1_net = (en.imagenet_backbone(c).eval() for c in (3, 13, 2))
    image = torch.randn(2, 3, 64, 64)
    s2 = torch.zeros(2, 13, 64, 64)
    s2[:, RGB] = image  # the extra bands are zero
    grey = image[:, :1]
    with torch.no_grad():
        assert rgb_net(image).shape == (2, en.FEATURES)
        assert torch.allclose(s2_net(s2), rgb_net(image), atol=1e-5)
        assert torch.allclose(s1_net(grey.repeat(1, 2, 1, 1)), rgb_net(grey.repeat(1, 3, 1, 1)), atol=1e-5)


def test_efficientnet_tower_with_imagenet_weights() -> None:
    tower = ImageTower(tower_for("s1", "efficientnet_lite0", input_size=32))
    before = tower.backbone.blocks[3][0].conv_pw.weight.clone()
    init_from(tower, "imagenet")
    assert not torch.equal(before, tower.backbone.blocks[3][0].conv_pw.weight)
    out = tower.eval()(torch.randn(3, 2, 120, 120))
    assert out.shape == (3, 384)
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)
    with pytest.raises(ValueError, match="efficientnet_lite0 tower only"):
        init_from(ImageTower(tower_for("s1")), "imagenet")
