"""A small image captioner: image tokens -> causal transformer decoder -> words (chapter 9).

The decoder reads the caption so far (word embeddings + positions), attends to its own past
through a causal mask and to the image tokens through cross-attention, and predicts the next
word. Training uses **teacher forcing**: the whole reference caption is fed at once, shifted by
one, and every position is scored against the word that really follows. Generation has no
reference, so it feeds back its own words: **greedy** (the most probable word at every step) or
**beam search** (keep the ``beam`` most probable partial captions, length-normalised).

The tokenizer is a **word vocabulary built from the training captions**, not MiniLM's 30,522
WordPiece tokens: closp-lite's caption styles use a few hundred distinct words, so the output
softmax is about a hundred times smaller (the largest layer of a small decoder, and the slowest on
a CPU), every token is a whole word (shorter sequences, readable decoding steps), and no
probability mass goes to words the captions never use. The price: a word not seen in training is
``<unk>``, which is fine for a closed, generated caption language but not for free text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from closp_lite.models.image import Arch
from closp_lite.models.tokens import TokenEncoder

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS: tuple[str, ...] = (PAD, BOS, EOS, UNK)
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|[.,;]")


def tokenize(text: str) -> list[str]:
    """Lower-case words and the punctuation marks ``. , ;`` as separate tokens (chapter 9)."""
    return _WORD.findall(text.lower())


def detokenize(tokens: Iterable[str]) -> str:
    """Join tokens into text, attaching punctuation to the word before it (chapter 9)."""
    return re.sub(r" ([.,;])", r"\1", " ".join(tokens))


@dataclass
class Vocabulary:
    """Word <-> index table; indices 0-3 are ``<pad> <bos> <eos> <unk>`` (chapter 9)."""

    words: list[str]

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1) -> Vocabulary:
        """Every token seen at least ``min_count`` times in ``captions``, most frequent first."""
        counts = Counter(token for text in captions for token in tokenize(text))
        return cls([*SPECIALS, *(w for w, c in counts.most_common() if c >= min_count and w not in SPECIALS)])

    def __post_init__(self) -> None:
        if tuple(self.words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}, got {self.words[:4]}")
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str, max_len: int) -> list[int]:
        """``<bos> words <eos>`` as indices, cut to ``max_len`` and padded with ``<pad>``."""
        ids = [1, *(self.index.get(t, 3) for t in tokenize(text))][: max_len - 1] + [2]
        return ids + [0] * (max_len - len(ids))

    def decode(self, ids: Iterable[int]) -> str:
        """Text of indices up to the first ``<eos>``, specials dropped."""
        words = []
        for i in ids:
            if i == 2:
                break
            if i >= 3:
                words.append(self.words[i])
        return detokenize(words)


@dataclass
class CaptionerConfig:
    """Everything that rebuilds a :class:`Captioner` (chapter 9)."""

    vocabulary: list[str] = field(default_factory=lambda: list(SPECIALS))
    modalities: list[str] = field(default_factory=lambda: ["s1"])
    arch: Arch = "small_cnn"
    width: int = 32
    d_model: int = 128
    layers: int = 2
    heads: int = 4
    max_len: int = 64
    dropout: float = 0.1

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


class Captioner(nn.Module):
    """Image towers + token projection + a causal transformer decoder over a word vocabulary (chapter 9)."""

    def __init__(self, config: CaptionerConfig) -> None:
        super().__init__()
        self.config = config
        self.vocab = Vocabulary(list(config.vocabulary))
        self.encoder = TokenEncoder(config.modalities, config.d_model, config.arch, config.width)
        self.embed = nn.Embedding(len(self.vocab), config.d_model, padding_idx=0)
        self.position = nn.Parameter(torch.randn(config.max_len, config.d_model) * 0.02)
        layer = nn.TransformerDecoderLayer(
            config.d_model, config.heads, 4 * config.d_model, config.dropout, batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, config.layers)
        self.norm = nn.LayerNorm(config.d_model)
        self.out = nn.Linear(config.d_model, len(self.vocab))

    def logits(self, tokens: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Next-word logits (N, L, V) for every prefix of ``tokens`` (N, L) given image ``memory``."""
        length = tokens.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=tokens.device).triu(1)
        x = self.embed(tokens) + self.position[:length]
        x = self.decoder(x, memory, tgt_mask=causal, tgt_is_causal=True, tgt_key_padding_mask=tokens == 0)
        return self.out(self.norm(x))

    def loss(self, images: torch.Tensor, modality: str, targets: torch.Tensor) -> torch.Tensor:
        """Teacher-forcing cross-entropy: predict ``targets[:, 1:]`` from ``targets[:, :-1]`` (padding ignored)."""
        logits = self.logits(targets[:, :-1], self.encoder(images, modality))
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets[:, 1:].reshape(-1), ignore_index=0)

    @torch.no_grad()
    def greedy(self, images: torch.Tensor, modality: str, max_len: int | None = None) -> list[str]:
        """Captions by greedy decoding: the most probable word at every step (chapter 9)."""
        memory = self.encoder(images, modality)
        tokens = torch.ones(len(images), 1, dtype=torch.long)
        done = torch.zeros(len(images), dtype=torch.bool)
        for _ in range((max_len or self.config.max_len) - 1):
            step = self.logits(tokens, memory)[:, -1].argmax(-1)
            step[done] = 0
            tokens = torch.cat([tokens, step[:, None]], dim=1)
            done |= step == 2
            if done.all():
                break
        return [self.vocab.decode(row[1:].tolist()) for row in tokens]

    @torch.no_grad()
    def beam(self, images: torch.Tensor, modality: str, beam: int = 3, alpha: float = 0.7) -> list[str]:
        """Captions by beam search: the ``beam`` best partial captions survive each step (chapter 9).

        A candidate ending in ``<eos>`` among the ``beam`` best of a step is kept as finished; the
        search stops at ``max_len`` or when the best unfinished caption ranks below the last
        ``beam`` finished ones. Finished captions are ranked by log-probability / length ** ``alpha`` so that short
        captions are not favoured just for having fewer factors below one.
        """
        memory = self.encoder(images, modality)
        return [self.beam_one(m[None], beam, alpha) for m in memory]

    def beam_one(self, memory: torch.Tensor, beam: int = 3, alpha: float = 0.7) -> str:
        """Beam search over the image tokens ``memory`` (1, T, d) of one image (chapter 9)."""
        alive: list[tuple[list[int], float]] = [([1], 0.0)]
        finished: list[tuple[list[int], float]] = []
        for _ in range(self.config.max_len - 1):
            tokens = torch.tensor([seq for seq, _ in alive])
            logp = self.logits(tokens, memory.expand(len(alive), -1, -1))[:, -1].log_softmax(-1)
            top = logp.topk(beam, dim=-1)
            candidates = [
                (seq + [int(w)], score + float(lp))
                for (seq, score), words, lps in zip(alive, top.indices, top.values, strict=True)
                for w, lp in zip(words, lps, strict=True)
            ]
            candidates.sort(key=lambda c: c[1], reverse=True)
            # Finished captions leave the beam; the beam stays full with the best unfinished ones,
            # so early junk endings ("... <eos>" at step 2) cannot crowd out the real caption.
            finished += [c for c in candidates[:beam] if c[0][-1] == 2]
            alive = [c for c in candidates if c[0][-1] != 2][:beam]
            if not alive or (len(finished) >= beam and self._normalised(alive[0], alpha) < min(self._normalised(f, alpha) for f in finished[-beam:])):
                break  # the best unfinished caption already ranks below the finished ones (Hugging Face's stopping rule)
        best = max(finished or alive, key=lambda c: self._normalised(c, alpha))
        return self.vocab.decode(best[0][1:])

    @staticmethod
    def _normalised(candidate: tuple[list[int], float], alpha: float) -> float:
        return candidate[1] / (len(candidate[0]) - 1) ** alpha

    @torch.no_grad()
    def decoding_steps(self, image: torch.Tensor, modality: str, top: int = 5) -> list[dict]:
        """Greedy decoding of one image (C, H, W), step by step: the chosen word and the ``top`` candidates (chapter 9)."""
        memory = self.encoder(image[None], modality)
        tokens = torch.ones(1, 1, dtype=torch.long)
        steps = []
        for _ in range(self.config.max_len - 1):
            probs = self.logits(tokens, memory)[0, -1].softmax(-1)
            best = probs.topk(top)
            steps.append({"word": self.vocab.words[int(best.indices[0])],
                          "candidates": [(self.vocab.words[int(i)], float(p)) for p, i in zip(best.values, best.indices, strict=True)]})  # fmt: skip
            tokens = torch.cat([tokens, best.indices[:1][None]], dim=1)
            if int(best.indices[0]) == 2:
                break
        return steps

    def generate(self, images: torch.Tensor, modality: str, method: str = "greedy", beam: int = 3, batch_size: int = 64) -> list[str]:
        """Captions of a batch of images by ``greedy`` or ``beam`` decoding, in batches (chapter 9)."""
        if method not in ("greedy", "beam"):
            raise ValueError(f"unknown decoding {method!r}: choose greedy or beam")
        self.eval()
        out: list[str] = []
        for i in range(0, len(images), batch_size):
            chunk = images[i : i + batch_size]
            out += self.greedy(chunk, modality) if method == "greedy" else self.beam(chunk, modality, beam)
        return out


def encode_captions(vocab: Vocabulary, captions: Sequence[str], max_len: int) -> torch.Tensor:
    """Captions as a (N, max_len) index tensor for teacher forcing (chapter 9)."""
    return torch.tensor([vocab.encode(text, max_len) for text in captions], dtype=torch.long)
