"""Tests of the taxonomies, harmonize and label statistics (chapter 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from closp_lite.labels import VOCABULARY, harmonize
from closp_lite.labels.harmonize import SCHEMES, scheme_table
from closp_lite.labels.statistics import cardinality, cooccurrence, label_frequencies, multi_hot
from closp_lite.labels.taxonomies import BIGEARTHNET19, BIGEARTHNET19_DROPPED, CORINE_LEVEL3, CRISIS, DYNAMIC_WORLD

# closp.md section 2, written out again by hand so that a changed table fails here.
EXPECTED_CORINE = {
    "Built": ["Continuous urban fabric", "Discontinuous urban fabric", "Industrial or commercial units",
              "Road and rail networks and associated land", "Port areas", "Airports"],
    "Bare": ["Mineral extraction sites", "Dump sites", "Construction sites", "Beaches, dunes, sands", "Bare rock",
             "Sparsely vegetated areas", "Salines", "Intertidal flats"],
    "Grass": ["Green urban areas", "Sport and leisure facilities", "Pastures", "Natural grassland"],
    "Crops": ["Non-irrigated arable land", "Permanently irrigated land", "Vineyards", "Fruit trees and berry plantations",
              "Olive groves", "Annual crops associated with permanent crops", "Complex cultivation patterns",
              "Land principally occupied by agriculture, with significant areas of natural vegetation"],
    "Flooded Vegetation": ["Rice fields", "Inland marshes", "Peatbogs", "Salt marshes"],
    "Trees": ["Agro-forestry areas", "Broad-leaved forest", "Coniferous forest", "Mixed forest"],
    "Shrub and Scrub": ["Moors and heathland", "Sclerophyllous vegetation", "Transitional woodland/shrub"],
    "Snow and Ice": ["Glaciers and perpetual snow"],
    "Water": ["Water courses", "Water bodies", "Coastal lagoons", "Estuaries", "Sea and ocean"],
    "Burned Area": ["Burnt areas"],
}

EXPECTED_BEN19 = {
    "Urban fabric": "Built", "Industrial or commercial units": "Built", "Arable land": "Crops",
    "Permanent crops": "Crops", "Pastures": "Grass", "Complex cultivation patterns": "Crops",
    "Land principally occupied by agriculture, with significant areas of natural vegetation": "Crops",
    "Agro-forestry areas": "Trees", "Broad-leaved forest": "Trees", "Coniferous forest": "Trees",
    "Mixed forest": "Trees", "Natural grassland and sparsely vegetated areas": "Grass",
    "Moors, heathland and sclerophyllous vegetation": "Shrub and Scrub", "Transitional woodland, shrub": "Shrub and Scrub",
    "Beaches, dunes, sands": "Bare", "Inland wetlands": "Flooded Vegetation", "Coastal wetlands": "Flooded Vegetation",
    "Inland waters": "Water", "Marine waters": "Water",
}


@pytest.mark.parametrize(("name", "target"), [(n, t) for t, names in EXPECTED_CORINE.items() for n in names])
def test_every_corine_level3_class(name: str, target: str) -> None:
    for scheme in ("corine", "auto"):
        assert harmonize([name], scheme) == harmonize([name.upper()], scheme)
        assert harmonize([name], scheme).labels == [target]


@pytest.mark.parametrize(("name", "target"), sorted(EXPECTED_BEN19.items()))
def test_every_bigearthnet19_class(name: str, target: str) -> None:
    assert harmonize([name], "bigearthnet19").labels == [target]
    assert harmonize([name.lower()], "auto").labels == [target]


def test_tables_are_complete_and_consistent() -> None:
    assert sum(map(len, EXPECTED_CORINE.values())) == len(CORINE_LEVEL3) == 44
    assert len({c.code for c in CORINE_LEVEL3}) == 44
    assert {c.name for c in BIGEARTHNET19} == set(EXPECTED_BEN19)
    grouped = [code for c in BIGEARTHNET19 for code in c.corine_codes]
    assert sorted(grouped + list(BIGEARTHNET19_DROPPED)) == sorted(c.code for c in CORINE_LEVEL3)
    assert tuple(DYNAMIC_WORLD) + tuple(CRISIS) == VOCABULARY
    by_code = {c.code: c for c in CORINE_LEVEL3}
    assert by_code[213].level2 == "Arable land" and by_code[213].level1 == "Agricultural areas"
    assert by_code[523].level1 == "Water bodies"
    # judgment calls carry their reason in the table
    assert all("judgment call" in c.note for c in BIGEARTHNET19 if len({by_code[k].target for k in c.corine_codes}) > 1)


def test_auto_scheme_never_gives_one_name_two_meanings() -> None:
    seen: dict[str, str] = {}
    for scheme in SCHEMES[1:]:
        for key, target in scheme_table(scheme).items():
            assert seen.setdefault(key, target) == target, key


def test_unknown_labels_are_reported_never_passed_through() -> None:
    result = harmonize(["Urban fabric", "Inland waters", "Lunar regolith", "flooded_vegetation", "FLOOD"])
    assert result.labels == ["Built", "Flooded Area", "Flooded Vegetation", "Water"]
    assert result.unmapped == ["Lunar regolith"]
    assert harmonize(["Urban fabric"], "corine").unmapped == ["Urban fabric"]  # 19-class name, not CORINE
    assert harmonize(["112", "Bare rocks"], "corine").labels == ["Bare", "Built"]
    with pytest.raises(ValueError, match="scheme"):
        harmonize(["Trees"], "clc")
    with pytest.raises(ValueError, match="list"):
        harmonize("Trees")


def test_simulated_and_crisis_source_labels_map_to_themselves() -> None:
    for label in VOCABULARY:
        assert harmonize([label], "dynamicworld").labels == [label]


def _meta() -> pd.DataFrame:
    return pd.DataFrame({
        "key": ["a", "b", "c", "d"],
        "labels": [["Trees", "Water"], ["Urban fabric", "Inland waters"], ["Trees"], ["Built", "Flooded Area", "Water"]],
        "modality": ["s1", "s2", "s2", "s1"],
        "source": ["x", "y", "y", "x"],
    })


def test_statistics_by_hand() -> None:
    freq = label_frequencies(_meta(), "modality")
    assert freq.loc["s1", "Water"] == 2 and freq.loc["s2", "Water"] == 1 and freq.loc["s2", "Built"] == 1
    co = cooccurrence(_meta())
    assert co.loc["Water", "Water"] == 3 and co.loc["Built", "Water"] == 2 and co.loc["Trees", "Built"] == 0
    cond = cooccurrence(_meta(), "conditional")
    assert cond.loc["Trees", "Water"] == pytest.approx(0.5) and cond.loc["Built", "Water"] == pytest.approx(1.0)
    jac = cooccurrence(_meta(), "jaccard")
    assert jac.loc["Water", "Built"] == pytest.approx(2 / 3)
    assert cardinality(_meta()).to_dict() == {1: 1, 2: 2, 3: 1}
    assert multi_hot([["Water", "Burned Area"]]).tolist() == [[1] + [0] * 10 + [1]]
    assert np.array_equal(co.to_numpy(), co.to_numpy().T)


def test_label_plots_return_figures() -> None:
    from matplotlib.figure import Figure

    from closp_lite.plotting import plot_class_map, plot_cooccurrence, plot_label_frequencies

    mask = np.zeros((12, 12), dtype=np.uint8)
    mask[:6] = 4
    assert isinstance(plot_cooccurrence(cooccurrence(_meta())), Figure)
    assert isinstance(plot_label_frequencies(label_frequencies(_meta(), "source"), share=True), Figure)
    fig = plot_class_map(mask, extent=mask == 4)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["Water", "Crops", "crisis extent"]
    with pytest.raises(ValueError, match="Dynamic World"):
        plot_class_map(mask + 9)


def test_cli_harmonize(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from closp_lite.cli import main

    assert main(["labels", "harmonize", "Urban fabric", "Inland waters", "moon", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"labels": ["Built", "Water"], "unmapped": ["moon"]}
    assert main(["labels", "harmonize", "Trees", "--scheme", "nope"]) == 1


def test_tables_agree_with_bigearthnet_common() -> None:
    """Cross-check against the BigEarthNet team's own package (names, codes, 43 -> 19 grouping)."""
    constants = pytest.importorskip("bigearthnet_common.constants")
    from closp_lite.labels.harmonize import normalize_name

    ours = {c.code: c for c in CORINE_LEVEL3}
    for name, code in constants.CLC_LV3_TO_CLC_CODE.items():
        assert harmonize([name], "corine").labels == [ours[int(code)].target], name
    assert {normalize_name(n) for n in constants.NEW_LABELS} == {normalize_name(c.name) for c in BIGEARTHNET19}
    groups = {normalize_name(c.name): c.corine_codes for c in BIGEARTHNET19}
    names = {c.code: c.name for c in CORINE_LEVEL3}
    for old, new in constants.OLD2NEW_LABELS_DICT.items():
        if new is not None:
            assert any(normalize_name(names[code]) == normalize_name(old) or old in (names[code], *ours[code].aliases)
                       for code in groups[normalize_name(new)]), (old, new)
