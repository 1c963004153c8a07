"""Tests of the caption styles, the store and the audit (chapter 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from closp_lite.captions import (
    audit_corpus,
    build_captions,
    caption,
    closp_text,
    describe_position,
    extent_phrase,
    faithfulness,
    forbidden_words,
    mentioned_labels,
    rewrite_for_sar,
    segmentation_caption,
    template_caption,
)
from closp_lite.captions.sar_rewrite import OPTICAL_OPENINGS, OPTICAL_PHRASES
from closp_lite.captions.templates import CRISIS_CLAUSES, NOUNS
from closp_lite.labels import DW_CLASSES, VOCABULARY


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from closp_lite.simulate.corpus import generate_corpus

    root = tmp_path_factory.mktemp("corpus")
    generate_corpus(root, 16, 16, seed=3, progress=False)
    return root


def test_closp_text_is_sorted_lower_case_and_harmonized() -> None:
    assert closp_text(["Trees", "crops", "Pastures"]) == "crops. grass. trees"
    assert closp_text(["Urban fabric", "Burnt areas"]) == "built. burned area"
    with pytest.raises(ValueError, match="unknown labels"):
        closp_text(["Trees", "moon dust"])


def test_lexicon_finds_longest_phrases() -> None:
    assert mentioned_labels("flooded vegetation near collapsed buildings") == {"Flooded Vegetation", "Earthquake Damage"}
    assert mentioned_labels("built-up land and bare soil") == {"Built", "Bare"}
    assert faithfulness("forest and water", ["Trees"]) == (True, False)
    assert faithfulness("forest", ["Trees", "Water"]) == (False, True)


def test_every_noun_and_phrase_mentions_its_own_label() -> None:
    for table in (NOUNS, OPTICAL_PHRASES, CRISIS_CLAUSES):
        for label, phrases in table.items():
            for phrase in phrases:
                assert mentioned_labels(phrase) == {label}, phrase


def test_templates_are_seeded_varied_and_modality_aware() -> None:
    labels = ["Crops", "Trees", "Water"]
    a = [template_caption(labels, "s1", np.random.default_rng(s)) for s in range(20)]
    assert a == [template_caption(labels, "s1", np.random.default_rng(s)) for s in range(20)]
    assert len(set(a)) >= 10
    assert all(faithfulness(t, labels) == (True, True) for t in a)
    assert any("radar" in t or "SAR" in t for t in a) and not any("Sentinel-2" in t for t in a)
    assert caption("template", "k1", labels, "s2", seed=1) == caption("template", "k1", labels, "s2", seed=1)
    assert caption("template", "k1", labels, "s2", seed=1) != caption("template", "k1", labels, "s2", seed=2) or \
        caption("template", "k2", labels, "s2", seed=1) != caption("template", "k1", labels, "s2", seed=1)


def test_positions_on_the_grid() -> None:
    region = np.zeros((120, 120), dtype=bool)
    region[:20] = True
    assert describe_position(region) == "in a band from west to east"
    region = np.zeros((120, 120), dtype=bool)
    region[:30, :30] = True
    assert describe_position(region) == "in the north-west corner"
    region = np.zeros((120, 120), dtype=bool)
    region[:, 85:] = True
    region[:, 100:] = False
    region[::7, 100:] = True  # not a clean band: concentrated in the eastern column
    assert describe_position(region) in ("along the eastern edge", "in a band from north to south")
    region = np.zeros((120, 120), dtype=bool)
    region[50:60] = True
    assert describe_position(region) == "in a band from west to east through the centre"
    assert describe_position(np.ones((120, 120), dtype=bool)) == ""


def test_extent_words_and_segmentation_caption() -> None:
    assert extent_phrase(0.31) == "about a third" and extent_phrase(0.5) == "about half" and extent_phrase(0.02) == "a small part"
    mask = np.full((120, 120), DW_CLASSES.index("Crops"), dtype=np.uint8)
    mask[55:65] = DW_CLASSES.index("Water")
    extent = np.zeros((120, 120), dtype=bool)
    extent[:40] = True
    text = segmentation_caption(["Crops", "Flooded Area", "Water"], "s2", np.random.default_rng(0), mask, extent)
    assert "A river crosses the scene from west to east through the centre." in text
    assert "About a third of the scene is flooded." in text
    assert "dominat" in text
    with pytest.raises(ValueError, match="Dynamic World"):
        segmentation_caption(["Crops"], "s1", np.random.default_rng(0), mask + 20)


def test_sar_rewrite_removes_optical_words_and_keeps_labels() -> None:
    for label in VOCABULARY:
        for phrase in OPTICAL_PHRASES[label]:
            text = rewrite_for_sar(f"{OPTICAL_OPENINGS[0]} {phrase}.")
            assert forbidden_words(f"{OPTICAL_OPENINGS[0]} {phrase}.")  # the optical text needs rewriting
            assert forbidden_words(text) == [], text
            assert faithfulness(text, [label]) == (True, True), text
            assert text.startswith("A Sentinel-1 radar image of") and "speckle" in text
    text = rewrite_for_sar("A sunlit scene of clear blue water and a built-up area with red roofs and sharp shadows.")
    assert text.startswith("A Sentinel-1 radar image of water and a built-up area.")
    assert "double bounce" in text and "dark" in text


def test_store_is_deterministic_and_audit_is_faithful(corpus: Path) -> None:
    from closp_lite.data.format import read_captions

    first = build_captions(corpus, seed=7, progress=False)
    again = read_captions(corpus)
    assert first.equals(again)
    assert list(first.columns) == ["key", "closp", "template", "segmentation", "sar-rewrite"]
    assert build_captions(corpus, seed=7, progress=False).equals(first)
    audit = audit_corpus(corpus)
    assert (audit["faithful"] == 1.0).all()  # every style, including template and segmentation
    assert (audit["forbidden_in_s1"] == 0).all()
    assert audit.loc["template", "duplicate_rate"] < audit.loc["closp", "duplicate_rate"] or audit.loc["closp", "duplicate_rate"] == 0
    assert audit.loc["segmentation", "words_mean"] > audit.loc["closp", "words_mean"]


def test_audit_catches_unfaithful_and_forbidden_captions(corpus: Path) -> None:
    import pandas as pd

    from closp_lite.captions import audit_table
    from closp_lite.data.format import CrisisLandMark

    meta = CrisisLandMark(corpus).metadata
    s1 = meta[meta["modality"] == "s1"].iloc[:2]
    table = pd.DataFrame({"key": s1["key"], "bad": ["green snow and ice", "snow and ice"]})
    row = audit_table(table, meta).loc["bad"]
    assert row["forbidden_in_s1"] == 1
    assert row["faithful"] < 1.0
    assert row["duplicate_rate"] == 0.0 and row["vocabulary"] == 4


def test_cli_captions_and_queries(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from closp_lite.cli import main

    assert main(["captions", "show", str(corpus), "--style", "closp", "--n", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 and all(set(r) == {"key", "closp"} for r in rows)
    assert main(["captions", "build", str(corpus), "--json"]) == 0
    capsys.readouterr()
    assert main(["captions", "audit", str(corpus), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["segmentation"]["faithful"] == 1.0
    assert main(["queries", "build", str(corpus), "--out", str(tmp_path / "q"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["queries"] > 0
    assert main(["captions", "audit", str(tmp_path / "missing")]) == 1
