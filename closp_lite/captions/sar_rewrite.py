"""Rule-guided rewriting of an optical description into a SAR description (chapter 4).

After SAR-TEXT's third stage: describe the optical view first (:func:`optical_description`, with
the colours and shadows an optical captioner would use), then rewrite it for radar
(:func:`rewrite_for_sar`). Every rule lives in :data:`REMOVE_RULES` or :data:`ADD_RULES`, each
with the physical reason it exists, so the book can print the whole rule book as a table.
:data:`FORBIDDEN_IN_SAR` lists the optical-only words the audit counts in SAR captions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from closp_lite.captions.lexicon import mentioned_labels
from closp_lite.captions.templates import join_phrases, pick

OPTICAL_PHRASES: dict[str, tuple[str, ...]] = {
    "Water": ("clear blue water", "dark blue open water", "a blue lake"),
    "Trees": ("dark green forest", "dense green woodland"),
    "Grass": ("light green grassland", "bright green meadows"),
    "Flooded Vegetation": ("dark green flooded vegetation", "green marshland"),
    "Crops": ("a patchwork of green and brown fields", "yellow and green cropland"),
    "Shrub and Scrub": ("olive-green scrub", "brownish shrubland"),
    "Built": ("a built-up area with red roofs and sharp shadows", "grey buildings casting shadows"),
    "Bare": ("light brown bare soil", "pale bare ground"),
    "Snow and Ice": ("bright white snow", "white snow and ice"),
    "Flooded Area": ("land inundated by muddy brown floodwater", "a flooded area with brown, turbid floodwater"),
    "Earthquake Damage": ("dusty grey rubble of collapsed buildings", "earthquake damage with grey rubble"),
    "Burned Area": ("a black burn scar", "a charcoal-black burned area"),
}
"""How an optical captioner would name each label: colours, clarity and shadows included."""

OPTICAL_OPENINGS: tuple[str, ...] = ("A true-colour satellite image showing", "An optical satellite view of", "A sunlit scene of")
"""Openings of optical descriptions."""

SAR_OPENING = "A Sentinel-1 radar image of"
"""What every rewritten description starts with."""


@dataclass(frozen=True)
class Rule:
    """One rewrite rule (chapter 4): a regular expression, its replacement and the reason it exists.

    Removal rules replace ``pattern`` with ``replacement``; addition rules append ``replacement``
    when the rewritten text mentions ``label`` (``None``: always).
    """

    name: str
    pattern: str
    replacement: str
    reason: str
    label: str | None = None


REMOVE_RULES: tuple[Rule, ...] = (
    Rule("opening", r"^(A true-colour satellite image showing|An optical satellite view of|A sunlit scene of)", SAR_OPENING,
         "the sensor changes: Sentinel-1 is an active C-band radar, not a camera"),
    Rule("sun shadows", r"\s*(with |and )?(sharp )?shadows( cast by the sun)?|\s*casting shadows", "",
         "SAR illuminates the scene itself from the side; sun shadows do not exist for it"),
    Rule("roof colour", r"\s*with red roofs", "",
         "roof colour is a reflectance in visible light; radar measures backscatter, not colour"),
    Rule("water clarity", r"\b(clear|turbid)\b,?\s*", "",
         "clarity depends on light entering the water column; C-band is reflected at the surface"),
    Rule("colour pairs", r"\b(green|brown|yellow|grey|white) and (green|brown|yellow|grey|white)\s+", "",
         "colours of fields are phenology seen in visible light, invisible to radar"),
    Rule("colour words", r"\b((dark|light|bright|pale)\s+)?(olive-green|charcoal-black|green|blue|brown|brownish|yellow|"
         r"white|grey|gray|red|black|muddy|dusty|pale)\b,?\s*", "",
         "colours (and optical brightness qualifiers) do not translate into backscatter"),
)
"""Removal rules, applied in order: what radar cannot see."""

ADD_RULES: tuple[Rule, ...] = (
    Rule("smooth water", "", "Smooth water is dark because it reflects the pulse away from the sensor.",
         "specular reflection: a calm surface sends the pulse away from the antenna", "Water"),
    Rule("flooded land", "", "Flooded land looks dark, smooth as a mirror.",
         "floodwater is a smooth, specular surface over the former land", "Flooded Area"),
    Rule("double bounce", "", "Buildings appear bright from double bounce between walls and ground.",
         "wall and ground form a corner reflector that returns the pulse to the sensor", "Built"),
    Rule("collapse", "", "Collapsed buildings lose the bright double bounce of intact ones.",
         "rubble has no wall-ground corner reflectors left", "Earthquake Damage"),
    Rule("volume scattering", "", "The forest gives a grainy, medium return from volume scattering in the canopy.",
         "leaves, twigs and branches scatter the pulse many times, strongly in VH", "Trees"),
    Rule("trunk-water bounce", "", "Flooded vegetation is bright where upright stems meet the wet surface.",
         "the wet surface and vertical stems act as a corner reflector", "Flooded Vegetation"),
    Rule("field roughness", "", "Fields differ in brightness with their roughness and moisture.",
         "backscatter of crops depends on soil moisture, surface roughness and plant structure", "Crops"),
    Rule("burn scar", "", "The burn scar shows only a weak change in backscatter.",
         "C-band responds to structure and moisture; charcoal colour is invisible to it", "Burned Area"),
    Rule("snow", "", "Wet snow is dark; dry snow is almost transparent to the radar.",
         "liquid water absorbs C-band; dry snow lets it through to the ground", "Snow and Ice"),
    Rule("speckle", "", "The whole image is grainy with speckle.",
         "coherent imaging: random interference inside each resolution cell", None),
)
"""Addition rules: what radar shows, appended when the text mentions the rule's label."""

FORBIDDEN_IN_SAR: tuple[str, ...] = (
    "green", "blue", "brown", "brownish", "yellow", "white", "red", "black", "grey", "gray", "turquoise", "muddy",
    "colour", "color", "colourful", "colorful", "true-colour", "shadow", "shadows", "sunlit", "sunlight", "clear water",
    "turbid", "pale", "cloud", "clouds", "haze",
)
"""Optical-only words that must never appear in a SAR caption (the audit counts them)."""


def forbidden_words(text: str) -> list[str]:
    """Return the optical-only words of :data:`FORBIDDEN_IN_SAR` found in ``text`` (chapter 4)."""
    return [w for w in FORBIDDEN_IN_SAR if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text, re.IGNORECASE)]


def optical_description(labels: Sequence[str], rng: np.random.Generator) -> str:
    """Describe harmonized labels as an optical captioner would: colours, clarity, shadows (chapter 4)."""
    if not labels:
        raise ValueError("cannot describe an empty label set")
    order = rng.permutation(len(labels))
    return f"{pick(OPTICAL_OPENINGS, rng)} {join_phrases([pick(OPTICAL_PHRASES[labels[i]], rng) for i in order])}."


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.])", r"\1", text)
    return re.sub(r"\b(a|an) (a|an)\b", r"\2", text).strip()


def rewrite_for_sar(text: str) -> str:
    """Rewrite an optical description for Sentinel-1 with :data:`REMOVE_RULES` then :data:`ADD_RULES` (chapter 4)."""
    for rule in REMOVE_RULES:
        text = re.sub(rule.pattern, rule.replacement, text, flags=re.IGNORECASE)
    text = _tidy(text)
    mentioned = mentioned_labels(text)
    additions = [rule.replacement for rule in ADD_RULES if rule.label is None or rule.label in mentioned]
    return " ".join([text, *additions])


def rules_table() -> list[dict[str, str]]:
    """All rewrite rules as rows (kind, name, pattern or label, text, reason) for the book (chapter 4)."""
    rows = [{"kind": "remove", "name": r.name, "pattern": r.pattern, "text": r.replacement, "reason": r.reason} for r in REMOVE_RULES]
    rows += [{"kind": "add", "name": r.name, "pattern": r.label or "always", "text": r.replacement, "reason": r.reason} for r in ADD_RULES]
    return rows
