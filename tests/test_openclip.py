"""open_clip in closp-lite: the openclip_vit tower of the RGB baseline and the zero-shot open_clip baselines (chapter 6)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.error import URLError

import numpy as np
import open_clip
import pytest
import torch
from open_clip import pretrained as open_clip_pretrained
from open_clip.transformer import VisionTransformer

from closp_lite.experiments import openclip_encoders
from closp_lite.models.closp import CLOSP, ModelConfig, to_rgb
from closp_lite.models.image import CHANNEL_STATS, OPENCLIP_VIT, ImageTower, TowerConfig, tower_for
from closp_lite.models.openclip import S1_PSEUDO_RGB_DB, OpenClipRGB, rgb_composite

TINY = "closp-test-tiny-clip"
OTHER = "closp-test-other-clip"


def _batch(channels: int, n: int = 3, size: int = 120) -> torch.Tensor:
    generator = torch.Generator().manual_seed(channels)
    if channels == 2:  # dB around the S1 means
        return torch.randn(n, 2, size, size, generator=generator) * 5 + torch.tensor([-12.6, -19.3]).view(1, 2, 1, 1)
    return torch.rand(n, channels, size, size, generator=generator) * 0.4  # reflectance / 10,000


# ------------------------------------------------------------------ part 1: the openclip_vit tower


@pytest.fixture(scope="module")
def vit_model() -> CLOSP:
    torch.manual_seed(0)
    return CLOSP(ModelConfig(arch="openclip_vit", rgb=True)).eval()


def test_openclip_vit_tower_is_open_clips_vit_on_normalised_rgb(vit_model: CLOSP) -> None:
    for modality in ("s1", "s2"):
        tower = vit_model.towers[modality]
        assert isinstance(tower.backbone, VisionTransformer)
        assert tower.in_channels == 3 and tower.backbone.grid_size == (10, 10)
        torch.testing.assert_close(tower.normalize.mean.flatten(), torch.tensor(CHANNEL_STATS[f"{modality}_rgb"][0]))
        # open_clip's projection is dropped; the tower's Linear projects the class token.
        assert "proj" not in tower.backbone.state_dict() and tower.proj.in_features == OPENCLIP_VIT["width"]
    parameters = sum(p.numel() for p in vit_model.towers["s2"].parameters())
    assert 0.5e6 < parameters < 2e6


def test_openclip_vit_encodes_s1_and_s2_to_unit_vectors(vit_model: CLOSP) -> None:
    s1, s2 = vit_model.encode_image(_batch(2)), vit_model.encode_image(_batch(13))
    assert s1.shape == s2.shape == (3, 384)
    torch.testing.assert_close(s1.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(s2.norm(dim=-1), torch.ones(3))
    # The S2 tower sees B4, B3, B2 only: the other bands do not change the embedding.
    changed = _batch(13).clone()
    changed[:, [0, 4, 5, 6, 7, 8, 9, 11, 12]] = 0.9
    torch.testing.assert_close(vit_model.encode_image(changed), s2)
    # Another patch size is resized to the 120 px token grid.
    assert vit_model.encode_image(_batch(13, 2, size=96)).shape == (2, 384)


@pytest.mark.parametrize("channels", [2, 13])
def test_openclip_vit_needs_rgb(channels: int) -> None:
    with pytest.raises(ValueError, match="rgb=True"):
        ImageTower(TowerConfig("openclip_vit", channels, "s1" if channels == 2 else "s2"))
    with pytest.raises(ValueError, match="rgb=True"):
        CLOSP(ModelConfig(arch="openclip_vit"))


def test_openclip_vit_trains() -> None:
    torch.manual_seed(0)
    tower = ImageTower(tower_for("s2", "openclip_vit", rgb=True))
    images = to_rgb(_batch(13, 4), "s2")
    targets = torch.nn.functional.normalize(torch.randn(4, 384), dim=-1)
    optimiser = torch.optim.Adam(tower.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        loss = 1 - (tower(images) * targets).sum(dim=-1).mean()
        optimiser.zero_grad()
        loss.backward()
        losses.append(loss.item())
        optimiser.step()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in tower.backbone.parameters())
    assert losses[-1] < losses[0] - 0.01


def test_openclip_vit_save_load_round_trip(vit_model: CLOSP, tmp_path: Path) -> None:
    vit_model.save(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["arch"] == "openclip_vit"
    loaded = CLOSP.load(tmp_path / "run")
    for channels in (2, 13):
        torch.testing.assert_close(loaded.encode_image(_batch(channels)), vit_model.encode_image(_batch(channels)))


# ------------------------------------------------------------------ part 2: zero-shot open_clip models


def _register(folder: Path, name: str, width: int) -> None:
    config = {
        "embed_dim": 64,
        "vision_cfg": {"image_size": 64, "layers": 2, "width": width, "head_width": 32, "patch_size": 16},
        # The bundled CLIP tokenizer's vocabulary and context, so open_clip's tokenizer fits.
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(config))
    open_clip.add_model_config(folder / f"{name}.json")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    """A tiny open_clip CLIP model registered from a JSON file, and its state dict saved locally."""
    folder = tmp_path_factory.mktemp("open_clip")
    _register(folder / "configs", TINY, 64)
    torch.manual_seed(0)
    model = open_clip.create_model(TINY, pretrained=None).eval()
    torch.save(model.state_dict(), folder / "tiny.pt")
    return model, folder / "tiny.pt"


@pytest.fixture(scope="module")
def wrapped(tiny: tuple[torch.nn.Module, Path]) -> OpenClipRGB:
    return OpenClipRGB(TINY, tiny[1])


def test_rgb_composite_fixed_stretch() -> None:
    s2 = torch.zeros(1, 13, 2, 2)
    s2[:, 3], s2[:, 2], s2[:, 1] = 0.2, 0.1, 0.6  # B4, B3, B2
    torch.testing.assert_close(rgb_composite(s2)[0, :, 0, 0], torch.tensor([0.5, 0.25, 1.0]))
    s1 = torch.tensor([-12.5, -17.5]).view(1, 2, 1, 1).expand(1, 2, 2, 2)  # VV - VH = 5 dB
    expected = [(v - low) / (high - low) for v, (low, high) in zip((-12.5, -17.5, 5.0), S1_PSEUDO_RGB_DB)]
    torch.testing.assert_close(rgb_composite(s1)[0, :, 0, 0], torch.tensor(expected))
    # Clipped at the ends of the ranges (the VV - VH ratio does not change when both fall).
    assert rgb_composite(s1 - 40)[:, :2].max() == 0 and rgb_composite(s2 * 10).min() == 1


def test_loaded_checkpoint_gives_the_original_embeddings(tiny, wrapped: OpenClipRGB) -> None:
    original, _ = tiny
    for channels in (2, 13):
        images = _batch(channels)
        with torch.no_grad():
            expected = torch.nn.functional.normalize(original.encode_image(wrapped.preprocess(images)), dim=-1)
        got = wrapped.encode_image(images)
        assert got.shape == (3, 64) and not got.requires_grad
        torch.testing.assert_close(got, expected)
        torch.testing.assert_close(got.norm(dim=-1), torch.ones(3))
    texts = ["flooded fields near a river", "a forest"]
    with torch.no_grad():
        expected = torch.nn.functional.normalize(original.encode_text(open_clip.get_tokenizer(TINY)(texts)), dim=-1)
    got = wrapped.encode_text(texts)
    assert got.shape == (2, 64)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got.norm(dim=-1), torch.ones(2))
    # Random weights give other vectors: the file was really loaded.
    torch.manual_seed(1)
    assert not torch.allclose(OpenClipRGB(TINY).encode_text(texts), got)
    assert not wrapped.model.training and not any(p.requires_grad for p in wrapped.model.parameters())


def test_preprocess_matches_open_clips_own_transform(wrapped: OpenClipRGB) -> None:
    from PIL import Image

    images = _batch(13, 2)
    ours = wrapped.preprocess(images)
    assert ours.shape == (2, 3, 64, 64)
    transform = open_clip.image_transform(64, is_train=False, mean=open_clip.OPENAI_DATASET_MEAN, std=open_clip.OPENAI_DATASET_STD)
    for i, pixels in enumerate(rgb_composite(images)):
        picture = Image.fromarray((pixels.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        difference = (ours[i] - transform(picture)).abs()
        # 8-bit rounding and PIL's integer arithmetic: a few grey levels at most.
        assert difference.max() < 0.1 and difference.mean() < 0.01


def test_routing_errors(wrapped: OpenClipRGB) -> None:
    with pytest.raises(ValueError, match="13"):
        wrapped.encode_image(_batch(12))
    with pytest.raises(ValueError, match="modality"):
        wrapped.encode_image(_batch(2), "s2")


def test_checkpoint_errors(tiny, tmp_path: Path) -> None:
    _register(tmp_path / "configs", OTHER, 96)
    torch.save(open_clip.create_model(OTHER).state_dict(), tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other\.pt does not fit .*closp-test-tiny-clip"):
        OpenClipRGB(TINY, tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        OpenClipRGB(TINY, tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="neither a checkpoint file nor an open_clip pretrained tag"):
        OpenClipRGB(TINY, "laion9000")
    with pytest.raises(ValueError, match="list_models"):
        OpenClipRGB("ViT-Nope-1", tiny[1])


def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads fail as they do on a machine without network (open_clip wraps hub errors in FileNotFoundError)."""

    def no_url(url: str, cache_dir: str | None = None) -> str:
        raise URLError("[Errno -3] Temporary failure in name resolution")

    def no_hub(model_id: str, filename: str | None = None, revision: str | None = None, cache_dir: str | None = None) -> str:
        raise FileNotFoundError(f"Failed to download file ({filename}) for {model_id}. Last error: offline")

    monkeypatch.setattr(open_clip_pretrained, "download_pretrained_from_url", no_url)
    monkeypatch.setattr(open_clip_pretrained, "download_pretrained_from_hf", no_hub)


@pytest.mark.parametrize(
    ("model_name", "pretrained"),
    [("ViT-B-32", "laion2b_s34b_b79k"), (TINY, "https://example.org/tiny.pt"), (TINY, "hf-hub:org/repo/tiny.pt")],
)
def test_downloads_without_network_raise_connection_error(tiny, monkeypatch, tmp_path, model_name: str, pretrained: str) -> None:
    _offline(monkeypatch)
    with pytest.raises(ConnectionError, match="local file"):
        OpenClipRGB(model_name, pretrained, cache_dir=tmp_path)


def test_downloads_go_through_open_clip(tiny, wrapped: OpenClipRGB, monkeypatch, tmp_path: Path) -> None:
    calls: list[tuple] = []

    def from_url(url: str, cache_dir: str | None = None) -> str:
        calls.append((url, cache_dir))
        return str(tiny[1])

    def from_hub(model_id: str, filename: str | None = None, revision: str | None = None, cache_dir: str | None = None) -> str:
        calls.append((model_id, filename))
        return str(tiny[1])

    monkeypatch.setattr(open_clip_pretrained, "download_pretrained_from_url", from_url)
    monkeypatch.setattr(open_clip_pretrained, "download_pretrained_from_hf", from_hub)
    images = _batch(13)
    for pretrained in ("https://example.org/tiny.pt", "hf-hub:org/repo/tiny.pt", "hf-hub:org/repo"):
        torch.testing.assert_close(OpenClipRGB(TINY, pretrained, cache_dir=tmp_path).encode_image(images), wrapped.encode_image(images))
    assert calls == [("https://example.org/tiny.pt", str(tmp_path)), ("org/repo", "tiny.pt"), ("org/repo", None)]
    # A tag brings its activation and image statistics along.
    tag = {"url": "https://example.org/tiny.pt", "hf_hub": "", "mean": (0.5,) * 3, "std": (0.25,) * 3, "quick_gelu": True}
    monkeypatch.setattr(open_clip, "get_pretrained_cfg", lambda model, name: tag if (model, name) == (TINY, "rs") else {})
    tagged = OpenClipRGB(TINY, "rs", cache_dir=tmp_path)
    torch.testing.assert_close(tagged.mean.flatten(), torch.full((3,), 0.5))
    assert type(tagged.model.visual.transformer.resblocks[0].mlp.gelu).__name__ == "QuickGELU"


def test_openclip_encoders(tiny, wrapped: OpenClipRGB) -> None:
    encoders = openclip_encoders(TINY, str(tiny[1]), name="tiny-clip")
    assert encoders.name == "tiny-clip"
    torch.testing.assert_close(encoders.image(_batch(2)), wrapped.encode_image(_batch(2)))
    torch.testing.assert_close(encoders.text(["water"]), wrapped.encode_text(["water"]))
