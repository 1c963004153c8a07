"""The offline MiniLM text tower: reference values, pooling, caching (chapter 5)."""

from __future__ import annotations

import pytest
import torch

from closp_lite.models.text import TextEncoder, load_minilm, model_path, pool

TEXTS = [
    "a satellite image of a dense coniferous forest",
    "farmland with arable fields",
    "a lake surrounded by forest",
]


@pytest.fixture(scope="module")
def mean_encoder() -> TextEncoder:
    return TextEncoder(pooling="mean", max_length=256)


@pytest.fixture(scope="module")
def cls_encoder() -> TextEncoder:
    return TextEncoder()


def test_files_are_local_and_exact() -> None:
    import hashlib

    digest = hashlib.sha256((model_path() / "model.safetensors").read_bytes()).hexdigest()
    assert digest == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def test_mean_pooling_matches_sentence_transformers_reference(mean_encoder: TextEncoder) -> None:
    emb = mean_encoder.encode(TEXTS)
    assert emb.shape == (3, 384)
    torch.testing.assert_close(emb[0, :5], torch.tensor([0.0685, -0.0256, 0.0240, 0.0066, 0.0605]), atol=1e-4, rtol=0)
    sims = emb @ emb.T
    assert sims[0, 1].item() == pytest.approx(0.1218, abs=1e-4)
    assert sims[0, 2].item() == pytest.approx(0.4970, abs=1e-4)
    assert sims[1, 2].item() == pytest.approx(0.2192, abs=1e-4)


def test_cls_pooling_is_position_zero_normalised(cls_encoder: TextEncoder) -> None:
    tokenizer, model = load_minilm()
    tokens = tokenizer(TEXTS, padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**tokens).last_hidden_state
    expected = hidden[:, 0] / hidden[:, 0].norm(dim=-1, keepdim=True)
    emb = cls_encoder.encode(TEXTS)
    torch.testing.assert_close(emb, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3), atol=1e-5, rtol=0)
    # The forest texts are closer to each other than to farmland with CLS pooling too.
    sims = emb @ emb.T
    assert sims[0, 2] > sims[0, 1]
    # CLS differs from mean pooling: the options are really different.
    assert not torch.allclose(emb, TextEncoder(pooling="mean").encode(TEXTS), atol=1e-3)


def test_cache_and_batching_give_the_same_vectors(cls_encoder: TextEncoder) -> None:
    cls_encoder.clear_cache()
    one_by_one = cls_encoder.encode(TEXTS + TEXTS[:1], batch_size=1)
    assert cls_encoder.cache_size == 3  # the repeated caption is embedded once
    cls_encoder.clear_cache()
    batched = cls_encoder.encode(TEXTS + TEXTS[:1], batch_size=8)
    torch.testing.assert_close(one_by_one, batched, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched[0], batched[3])


def test_padding_does_not_change_mean_pooling() -> None:
    hidden = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    pooled = pool(hidden, mask, "mean")
    expected = hidden[0, :2].mean(0)
    torch.testing.assert_close(pooled[0], expected / expected.norm())


def test_max_length_truncates(cls_encoder: TextEncoder) -> None:
    short = TextEncoder(max_length=4)
    long_text = ["crops. grass. trees. water. built"]
    assert not torch.allclose(short.encode(long_text), cls_encoder.encode(long_text), atol=1e-3)


def test_frozen_tower_has_no_trainable_parameters_and_stays_eval(cls_encoder: TextEncoder) -> None:
    assert not any(p.requires_grad for p in cls_encoder.parameters())
    cls_encoder.train()
    assert not cls_encoder.model.training
    cls_encoder.eval()


def test_trainable_tower_is_a_copy_with_gradients() -> None:
    encoder = TextEncoder(trainable=True)
    _, shared = load_minilm()
    assert encoder.model is not shared
    out = encoder(["crops. water"])
    out.sum().backward()
    assert any(p.grad is not None for p in encoder.parameters())


@pytest.mark.parametrize(
    ("kwargs", "texts", "match"),
    [
        ({"pooling": "max"}, None, "unknown pooling"),
        ({"max_length": 1}, None, "max_length"),
        ({}, "just one string", "list of texts"),
        ({}, ["ok", 3], "must be a string"),
    ],
)
def test_bad_input_gives_clear_errors(kwargs: dict, texts: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        encoder = TextEncoder(**kwargs)
        encoder.encode(texts)  # type: ignore[arg-type]
