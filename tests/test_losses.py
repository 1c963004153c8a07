"""The CLOSP loss against open_clip's ClipLoss and hand-computed cases (chapter 5)."""

from __future__ import annotations

import math

import pytest
import torch
from open_clip.loss import ClipLoss

from closp_lite.losses import CLIP_MAX_SCALE, ClospLoss, contrastive_loss, gather_features, positive_targets


def _unit(n: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=g), dim=-1)


@pytest.mark.parametrize(("scale", "seed"), [(1.0, 0), (14.3, 1), (100.0, 2)])
def test_matches_open_clip_clip_loss(scale: float, seed: int) -> None:
    img, txt = _unit(9, 16, seed), _unit(9, 16, seed + 10)
    expected = ClipLoss()(img, txt, torch.tensor(scale))
    torch.testing.assert_close(contrastive_loss(img, txt, scale), expected)


def test_step_loss_is_mean_of_separate_modalities() -> None:
    s1, t1, s2, t2 = _unit(5, 8, 0), _unit(5, 8, 1), _unit(7, 8, 2), _unit(7, 8, 3)
    loss, parts = ClospLoss()({"s1": (s1, t1), "s2": (s2, t2)})
    clip = ClipLoss()
    l1, l2 = clip(s1, t1, torch.tensor(1.0)), clip(s2, t2, torch.tensor(1.0))
    torch.testing.assert_close(loss, (l1 + l2) / 2)
    assert parts["s1"] == pytest.approx(float(l1)) and parts["s2"] == pytest.approx(float(l2))
    # One joint matrix over both modalities would give a different number: they never meet.
    joint = clip(torch.cat([s1, s2]), torch.cat([t1, t2]), torch.tensor(1.0))
    assert not torch.isclose(loss, joint)


def test_hand_computed_two_by_two() -> None:
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    txt = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    logits = img @ txt.T  # [[1, .6], [0, .8]]
    row0 = -math.log(math.exp(1) / (math.exp(1) + math.exp(0.6)))
    row1 = -math.log(math.exp(0.8) / (math.exp(0) + math.exp(0.8)))
    col0 = -math.log(math.exp(1) / (math.exp(1) + math.exp(0)))
    col1 = -math.log(math.exp(0.8) / (math.exp(0.6) + math.exp(0.8)))
    expected = ((row0 + row1) / 2 + (col0 + col1) / 2) / 2
    assert logits[1, 0] == 0
    assert contrastive_loss(img, txt).item() == pytest.approx(expected, rel=1e-6)


def test_label_aware_targets_and_loss() -> None:
    targets = positive_targets(["crops", "water", "crops"], 3)
    torch.testing.assert_close(targets, torch.tensor([[0.5, 0, 0.5], [0, 1, 0], [0.5, 0, 0.5]]))
    torch.testing.assert_close(positive_targets(None, 3), torch.eye(3))
    # Images 0 and 2 share a label set but have different caption vectors (e.g. richer captions).
    txt, img, keys = _unit(3, 8, 0), _unit(3, 8, 5), ["a", "b", "a"]
    aware, _ = ClospLoss(label_aware=True)({"s2": (img, txt)}, {"s2": keys})
    logits, t = img @ txt.T, positive_targets(keys, 3)
    i2t = torch.stack([-(t[i] * logits[i].log_softmax(0)).sum() for i in range(3)]).mean()
    t2i = torch.stack([-(t[i] * logits[:, i].log_softmax(0)).sum() for i in range(3)]).mean()
    assert aware.item() == pytest.approx(((i2t + t2i) / 2).item(), rel=1e-6)
    faithful, _ = ClospLoss()({"s2": (img, txt)})
    assert aware.item() != pytest.approx(faithful.item(), rel=1e-4)


def test_label_aware_equals_faithful_when_twin_captions_are_identical() -> None:
    # Identical caption vectors give identical logits columns, so diagonal and soft targets agree:
    # with a frozen text tower and CLOSP captions the two losses are the same function (chapter 5).
    txt, img = _unit(3, 8, 0), _unit(3, 8, 5)
    txt[2] = txt[0]
    faithful, _ = ClospLoss()({"s2": (img, txt)})
    aware, _ = ClospLoss(label_aware=True)({"s2": (img, txt)}, {"s2": ["a", "b", "a"]})
    assert aware.item() == pytest.approx(faithful.item(), rel=1e-6)


def test_learnable_scale_init_clamp_and_gradient() -> None:
    fixed, learn = ClospLoss(), ClospLoss(learnable_scale=True)
    assert fixed.scale.item() == pytest.approx(1.0) and not fixed.log_scale.requires_grad
    assert learn.scale.item() == pytest.approx(1 / 0.07, rel=1e-5)
    img, txt = _unit(4, 8, 0), _unit(4, 8, 1)
    learn({"s1": (img, txt)})[0].backward()
    assert learn.log_scale.grad is not None
    with torch.no_grad():
        learn.log_scale.fill_(10.0)
    assert learn.scale.item() == CLIP_MAX_SCALE
    expected = ClipLoss()(img, txt, torch.tensor(CLIP_MAX_SCALE))
    torch.testing.assert_close(learn({"s1": (img, txt)})[0], expected)


def test_gather_is_identity_on_one_process() -> None:
    x = torch.randn(3, 4, requires_grad=True)
    assert gather_features(x) is x


def test_errors() -> None:
    with pytest.raises(ValueError, match="must match"):
        contrastive_loss(_unit(3, 4, 0), _unit(2, 4, 0))
    with pytest.raises(ValueError, match="needs the captions"):
        ClospLoss(label_aware=True)({"s1": (_unit(3, 4, 0), _unit(3, 4, 1))})
    with pytest.raises(ValueError, match="one key per image"):
        positive_targets(["a"], 3)
    with pytest.raises(ValueError, match="no modality"):
        ClospLoss()({})
