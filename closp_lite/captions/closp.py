"""The upstream CLOSP caption (chapter 4); it lives with the labels (:mod:`closp_lite.labels.text`)."""

from closp_lite.labels.text import closp_text

__all__ = ["closp_text"]
