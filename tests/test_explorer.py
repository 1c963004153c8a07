"""The search explorer: widgets that search, a grid with labels and scores, a detail view with
captions and a map, and a static picture for the HTML book (issue 15)."""

from __future__ import annotations

import base64

import pandas as pd
import pytest

from closp_lite.data.format import write_captions
from closp_lite.experiments import embed_corpus, untrained_encoders
from closp_lite.explorer import SearchExplorer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def explorer(tmp_path_factory: pytest.TempPathFactory) -> SearchExplorer:
    from conftest import write_tiny_corpus

    root = tmp_path_factory.mktemp("explorer") / "corpus"
    patches = write_tiny_corpus(root)
    write_captions(root, pd.DataFrame({"key": [p.key for p in patches], "closp": [f"caption of {p.key}" for p in patches]}))
    encoders = untrained_encoders()
    return SearchExplorer(encoders, embed_corpus(encoders, root, split=None), root, "water", k=4)


def test_grid_shows_every_result_with_score_and_labels(explorer: SearchExplorer) -> None:
    assert [r.rank for r in explorer.results] == [1, 2, 3, 4]
    scores = [r.score for r in explorer.results]
    assert scores == sorted(scores, reverse=True)
    cells = explorer.widget.children[2].children
    assert len(cells) == 4
    button, labels = cells[0].children[1], cells[0].children[2]
    assert button.description == explorer.results[0].title and f"{scores[0]:.3f}" in button.description
    assert ", ".join(explorer.results[0].labels) in labels.value


def test_controls_search_again(explorer: SearchExplorer) -> None:
    explorer._modality_box.value = "s1"
    assert {r.modality for r in explorer.results} == {"s1"} and len(explorer.widget.children[2].children) == 3
    explorer._k_box.value = 8  # more than the 3 S1 patches: all of them
    assert len(explorer.results) == 3
    explorer._query_box.value = "   "
    assert "empty" in explorer._status.value and len(explorer.results) == 3  # kept, not crashed
    explorer._query_box.value = "forest"
    assert explorer.query == "forest"


def test_click_selects_a_result_with_its_captions(explorer: SearchExplorer) -> None:
    explorer.search("forest", "all", 4)
    explorer._show()
    before = explorer._detail.value
    explorer.widget.children[2].children[1].children[1].click()
    assert explorer.selected == 2 and explorer._detail.value != before
    assert explorer.results[1].captions == {"closp": f"caption of {explorer.results[1].key}"}
    assert len(explorer.detail_figure(2).axes) == 2  # the image, the captions
    assert "caption of" in " ".join(t.get_text() for t in explorer.detail_figure(2).axes[1].texts)


def test_static_rendering_for_the_html_book(explorer: SearchExplorer) -> None:
    bundle = explorer._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert len(explorer.map_figure().axes[0].texts) == len(explorer.results)


def test_bad_k_is_refused(explorer: SearchExplorer) -> None:
    with pytest.raises(ValueError, match="between 1 and 48"):
        explorer.search("water", k=0)
