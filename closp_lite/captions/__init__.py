"""Captions for images nobody captioned: CLOSP text, templates, segmentation-guided, SAR rewriting (chapter 4)."""

from closp_lite.captions.closp import closp_text

__all__ = ["closp_text"]
