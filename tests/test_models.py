"""Image towers, weight loading and the three-tower CLOSP model (chapter 5)."""

from __future__ import annotations

import pytest
import torch

from closp_lite.models import image as image_module
from closp_lite.models.closp import CLOSP, ModelConfig, to_rgb
from closp_lite.models.image import CHANNEL_STATS, ImageTower, TowerConfig, init_from, tower_for


def _batch(channels: int, n: int = 3) -> torch.Tensor:
    return torch.randn(n, channels, 120, 120, generator=torch.Generator().manual_seed(channels))


@pytest.fixture(scope="module")
def model() -> CLOSP:
    torch.manual_seed(0)
    return CLOSP(ModelConfig(width=8)).eval()


def test_statistics_have_one_entry_per_channel() -> None:
    assert [len(CHANNEL_STATS[k][0]) for k in ("s1", "s2", "s1_rgb", "s2_rgb")] == [2, 13, 3, 3]
    assert CHANNEL_STATS["s1"][0][0] > CHANNEL_STATS["s1"][0][1]  # VV is brighter than VH
    assert CHANNEL_STATS["s2"][0][10] == 0.0  # B10 is all zero in the model input


def test_routing_and_unit_embeddings(model: CLOSP) -> None:
    s1, s2 = model.encode_image(_batch(2)), model.encode_image(_batch(13))
    assert s1.shape == s2.shape == (3, 384)
    torch.testing.assert_close(s1.norm(dim=-1), torch.ones(3))
    # Routing really picks the tower: the S1 tower alone gives the same vectors.
    torch.testing.assert_close(s1, model.towers["s1"](_batch(2)))
    text = model.encode_text(["crops. water", "trees"])
    assert text.shape == (2, 384)
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(2))


@pytest.mark.parametrize(("channels", "modality", "match"), [(3, None, "cannot tell"), (12, None, "13"), (2, "s2", "modality")])
def test_routing_errors(model: CLOSP, channels: int, modality: str | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        model.encode_image(_batch(channels), modality)


def test_rgb_inputs() -> None:
    s2 = _batch(13)
    torch.testing.assert_close(to_rgb(s2, "s2"), s2[:, [3, 2, 1]])
    s1 = _batch(2)
    torch.testing.assert_close(to_rgb(s1, "s1")[:, 2], s1[:, 0] - s1[:, 1])
    rgb = CLOSP(ModelConfig(width=8, rgb=True))
    assert rgb.towers["s2"].in_channels == 3
    assert rgb.encode_image(s2).shape == (3, 384)


def test_save_load_round_trip(model: CLOSP, tmp_path) -> None:
    model.save(tmp_path / "run")
    loaded = CLOSP.load(tmp_path / "run")
    x = _batch(13)
    torch.testing.assert_close(loaded.encode_image(x), model.encode_image(x))
    assert not any(k.startswith("text.") for k in torch.load(tmp_path / "run" / "model.pt", weights_only=True))
    with pytest.raises(FileNotFoundError, match="config.json"):
        CLOSP.load(tmp_path / "nothing")


def test_trainable_state_is_checked_by_name_and_wrapper_names_are_dropped(model: CLOSP) -> None:
    torch.manual_seed(1)
    fresh = CLOSP(ModelConfig(width=8))
    state = model.trainable_state()
    with pytest.raises(ValueError, match=r"ckpt does not match this run: unexpected \['towers.s9.weight'\]; wrong architecture"):
        fresh.load_trainable_state(state | {"towers.s9.weight": torch.zeros(1)}, "ckpt", "this run")
    renamed = {f"net.{k}": v for k, v in state.items()}  # loading nothing at all must not pass silently either
    with pytest.raises(ValueError, match=r"missing \['towers\.s1\..*\] and \d+ more; unexpected \['net\.towers"):
        fresh.load_trainable_state(renamed)
    wide = CLOSP(ModelConfig(width=16)).trainable_state()
    with pytest.raises(ValueError, match=r"layer shapes \['towers\.s1\..* \(model: "):
        fresh.load_trainable_state(wide)
    with pytest.raises(ValueError, match="are the same tensor"):
        fresh.load_trainable_state(state | {f"module.{k}": v for k, v in state.items()})
    # torch.compile names the module it wraps `_orig_mod`, DDP `module`: such a state loads into the plain model.
    compiled = torch.compile(model).state_dict()
    assert all(k.startswith("_orig_mod.") for k in compiled)
    fresh.load_trainable_state({f"module.{k}": v for k, v in compiled.items() if not k.startswith("_orig_mod.text.")})
    for name, value in fresh.trainable_state().items():
        torch.testing.assert_close(value, state[name], rtol=0, atol=0, msg=name)


def _write_resnet_weights(path, in_channels: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    backbone, _ = image_module.torchgeo_backbone("resnet50", in_channels)
    state = {**backbone.state_dict(), "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}
    torch.save(state, path)
    return state


def test_resnet_from_local_file_and_from_enum_url(tmp_path, monkeypatch) -> None:
    state = _write_resnet_weights(tmp_path / "s1.pth", 2)
    tower = ImageTower(tower_for("s1", "resnet50"))
    init_from(tower, tmp_path / "s1.pth")
    torch.testing.assert_close(tower.backbone.conv1.weight, state["conv1.weight"])
    assert tower(_batch(2, 2)).shape == (2, 384)
    # The enum path: torchgeo's CLOSP member, its URL pointed at the local file (no network).
    assert "CLOSP" in image_module.weights_url("resnet50", "SENTINEL1_GRD_CLOSP")
    monkeypatch.setattr(image_module, "weights_url", lambda arch, name: (tmp_path / "s1.pth").as_uri())
    fresh = ImageTower(tower_for("s1", "resnet50"))
    init_from(fresh, "SENTINEL1_GRD_CLOSP", cache_dir=tmp_path / "cache")
    torch.testing.assert_close(fresh.backbone.conv1.weight, state["conv1.weight"])


def test_weight_errors_name_the_layer(tmp_path, monkeypatch) -> None:
    _write_resnet_weights(tmp_path / "s2.pth", 13)
    with pytest.raises(ValueError, match="conv1.weight"):
        init_from(ImageTower(tower_for("s1", "resnet50")), tmp_path / "s2.pth")
    with pytest.raises(FileNotFoundError, match="no weight file"):
        init_from(ImageTower(tower_for("s1", "small_cnn")), tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="SENTINEL1_GRD_CLOSP"):
        image_module.weights_enum("resnet50", "SENTINEL3_NOPE")
    monkeypatch.setattr(image_module, "weights_url", lambda arch, name: "http://127.0.0.1:9/nothing.pth")
    with pytest.raises(ConnectionError, match="offline"):
        init_from(ImageTower(tower_for("s1", "resnet50")), "SENTINEL1_GRD_CLOSP", cache_dir=tmp_path / "c")


def test_vit_small_tower_shapes() -> None:
    tower = ImageTower(TowerConfig("vit_small", 2, "s1", False))
    assert tower(_batch(2, 1)).shape == (1, 384)
    assert any(k.startswith("blocks.") for k in tower.backbone.state_dict())


def test_tower_config_errors() -> None:
    with pytest.raises(ValueError, match="unknown image tower"):
        ImageTower(TowerConfig("vgg", 2, "s1"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channels"):
        ImageTower(TowerConfig("small_cnn", 3, "s1"))
