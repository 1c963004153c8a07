"""Captions for images nobody captioned: CLOSP text, templates, segmentation-guided, SAR rewriting (chapter 4)."""

from closp_lite.captions.audit import audit_corpus, audit_table
from closp_lite.captions.closp import closp_text
from closp_lite.captions.lexicon import MENTIONS, faithfulness, mentioned_labels
from closp_lite.captions.sar_rewrite import FORBIDDEN_IN_SAR, forbidden_words, optical_description, rewrite_for_sar, rules_table
from closp_lite.captions.segmentation import describe_position, extent_phrase, segmentation_caption
from closp_lite.captions.store import STYLES, build_captions, caption, caption_table
from closp_lite.captions.templates import caption_rng, template_caption

__all__ = [
    "FORBIDDEN_IN_SAR",
    "MENTIONS",
    "STYLES",
    "audit_corpus",
    "audit_table",
    "build_captions",
    "caption",
    "caption_rng",
    "caption_table",
    "closp_text",
    "describe_position",
    "extent_phrase",
    "faithfulness",
    "forbidden_words",
    "mentioned_labels",
    "optical_description",
    "rewrite_for_sar",
    "rules_table",
    "segmentation_caption",
    "template_caption",
]
