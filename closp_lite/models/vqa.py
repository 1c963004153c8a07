"""A small visual question-answering model: image tokens + a MiniLM question, fused, classified (chapter 9).

The question is embedded once by the frozen MiniLM text tower (384-d, mean pooling) and
projected to ``d_model``. Two fusions let it steer what is read from the image:

* **FiLM** (feature-wise linear modulation): the question predicts a scale and a shift for every
  channel of every image token, ``t' = t * (1 + gamma(q)) + beta(q)`` - "water?" can turn up the
  channels that respond to dark, smooth surfaces;
* **cross-attention**: the question is the query over the modulated tokens, so it can read the
  cells that matter (where the water is, how many separate pieces there are).

The attended vector, the mean token and the question go through a small MLP to logits over a
closed answer vocabulary (every answer of the training table). With ``use_image=False`` the same
classifier sees the question alone: the **question-only baseline**, which learns the answer
prior of each question and nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from closp_lite.models.image import Arch
from closp_lite.models.text import EMBED_DIM
from closp_lite.models.tokens import TokenEncoder


@dataclass
class VQAConfig:
    """Everything that rebuilds a :class:`VQAModel` (chapter 9)."""

    answers: list[str] = field(default_factory=lambda: ["no", "yes"])
    modalities: list[str] = field(default_factory=lambda: ["s1"])
    arch: Arch = "small_cnn"
    width: int = 32
    d_model: int = 128
    heads: int = 4
    use_image: bool = True

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


class VQAModel(nn.Module):
    """Image tokens modulated (FiLM) and read (cross-attention) by the question, then an answer classifier (chapter 9)."""

    def __init__(self, config: VQAConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.encoder = TokenEncoder(config.modalities, d, config.arch, config.width) if config.use_image else None
        self.question = nn.Sequential(nn.Linear(EMBED_DIM, d), nn.GELU(), nn.Linear(d, d))
        self.film = nn.Linear(d, 2 * d)
        self.attend = nn.MultiheadAttention(d, config.heads, batch_first=True)
        fused = 3 * d if config.use_image else d
        self.head = nn.Sequential(nn.LayerNorm(fused), nn.Linear(fused, d), nn.GELU(), nn.Linear(d, len(config.answers)))

    def forward(self, images: torch.Tensor | None, modality: str, questions: torch.Tensor, which: torch.Tensor | None = None) -> torch.Tensor:
        """Answer logits (N, answers) for question embeddings (N, 384) about images (N, C, H, W).

        With ``which`` (N,), ``images`` (M, C, H, W) are encoded once and question ``i`` is about
        image ``which[i]``: several questions about one patch cost one pass of the image tower.
        """
        return self.head(self.fuse(images, modality, questions, which)[0])

    def fuse(
        self, images: torch.Tensor | None, modality: str, questions: torch.Tensor, which: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The fused vector (N, 3 d) and the question's attention over the image tokens (N, T), or the question alone."""
        q = self.question(questions)
        if self.encoder is None or images is None:
            return q, None
        tokens = self.encoder(images, modality)
        if which is not None:
            tokens = tokens[which]
        gamma, beta = self.film(q).chunk(2, dim=-1)
        tokens = tokens * (1 + gamma[:, None]) + beta[:, None]
        attended, weights = self.attend(q[:, None], tokens, tokens)
        return torch.cat([attended[:, 0], tokens.mean(dim=1), q], dim=-1), weights[:, 0]
