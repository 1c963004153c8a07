"""An interactive text search over a corpus, for the book (chapters 0 and 6).

:class:`SearchExplorer` wraps :func:`closp_lite.experiments.search_text` in ipywidgets: a query
box, a modality selector and a result-count slider above a grid of thumbnails with their rank,
modality, score and labels; clicking a result shows it large, with every stored caption and a
locator map of the results. Left as the last expression of a cell it displays itself; the HTML
book (which has no kernel) shows the same results as a static picture
(:class:`closp_lite.display.WithFallback`), and :meth:`SearchExplorer.detail_figure` draws the
large view statically.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from closp_lite.display import WithFallback, figure_png
from closp_lite.experiments import Encoders, search_text
from closp_lite.index import EmbeddingIndex
from closp_lite.maps import static_map
from closp_lite.plotting import plot_search_results, thumbnail

__all__ = ["Result", "SearchExplorer"]

MODALITY_OPTIONS = (("S1 and S2", "all"), ("S1 radar only", "s1"), ("S2 optical only", "s2"))


@dataclass
class Result:
    """One search hit with what the explorer shows of it (chapter 0)."""

    rank: int
    key: str
    modality: str
    score: float
    labels: list[str]
    image: np.ndarray
    lonlat: tuple[float, float]
    captions: dict[str, str]

    @property
    def title(self) -> str:
        """``#rank MODALITY score``, as above each thumbnail."""
        return f"#{self.rank} {self.modality.upper()} {self.score:.3f}"


def _png(picture: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) picture in [0, 1], without pyplot."""
    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, np.clip(picture, 0, 1), format="png")
    return buffer.getvalue()


class SearchExplorer:
    """Search a corpus with free text, interactively in Jupyter and as a picture in HTML (chapter 0).

    Args:
        encoders: the retrieval model (e.g. :func:`closp_lite.experiments.run_encoders`).
        index: the corpus embeddings made with the same model (:func:`closp_lite.experiments.embed_corpus`).
        root: the corpus folder the index was made from (images, locations, ``captions.parquet``).
        query: the first query, searched at once.
        k: number of results (1 to 48).
        modality: ``"all"``, ``"s1"`` or ``"s2"``.
    """

    def __init__(
        self,
        encoders: Encoders,
        index: EmbeddingIndex,
        root: str | Path,
        query: str = "flooded fields near a river",
        k: int = 8,
        modality: str = "all",
    ) -> None:
        from closp_lite.data.format import read_captions

        self.encoders, self.index, self.root = encoders, index, Path(root)
        captions = read_captions(self.root)
        self._captions = captions.set_index("key") if captions is not None else None
        self.query, self.k, self.modality = query, k, modality
        self.results: list[Result] = []
        self.selected = 0
        self.search(query, modality, k)
        self.widget = self._build_widget()

    # ------------------------------------------------------------------ searching

    def search(self, query: str, modality: str | None = None, k: int | None = None) -> list[Result]:
        """Run a search, remember it as the explorer's current results and return them (chapter 0)."""
        from closp_lite.data.format import CrisisLandMark, lonlat

        k = self.k if k is None else k
        if not 1 <= k <= 48:
            raise ValueError(f"k must be between 1 and 48, got {k}")
        modality = self.modality if modality is None else modality
        hits = search_text(self.encoders, self.index, query, k=k, modality=modality)
        with CrisisLandMark(self.root) as corpus:
            patches = [corpus.read(hit["key"]) for hit in hits]
        self.results = [
            Result(
                hit["rank"], hit["key"], hit["modality"], hit["score"], list(hit["labels"]),
                patch.image, lonlat(patch), self._stored_captions(hit["key"]),
            )
            for hit, patch in zip(hits, patches, strict=True)
        ]
        self.query, self.modality, self.k, self.selected = query, modality, k, 0
        return self.results

    def _stored_captions(self, key: str) -> dict[str, str]:
        if self._captions is None or key not in self._captions.index:
            return {}
        return {str(style): str(text) for style, text in self._captions.loc[key].items() if isinstance(text, str) and text}

    # ------------------------------------------------------------------ static pictures

    def results_figure(self) -> Figure:
        """The current results as a grid: rank, modality, score and labels above each image (chapter 0)."""
        hits = [{"rank": r.rank, "modality": r.modality, "score": r.score, "labels": r.labels} for r in self.results]
        return plot_search_results(self.query, hits, [r.image for r in self.results])

    def detail_figure(self, rank: int = 1) -> Figure:
        """One result large, with its labels and every stored caption (chapter 0)."""
        result = self._result(rank)
        fig = Figure(figsize=(7.5, 7.0), layout="constrained")
        image_ax, text_ax = fig.subplots(2, 1, height_ratios=[1.4, 1])
        image_ax.imshow(thumbnail(result.image))
        image_ax.set_axis_off()
        labels = textwrap.fill(", ".join(result.labels) or "(no label)", width=70)
        image_ax.set_title(f"{result.title}  {result.key}\n{labels}", fontsize=10)
        lines = [f"lon {result.lonlat[0]:.3f}, lat {result.lonlat[1]:.3f}"]
        for style, text in result.captions.items() or [("caption", "(no captions.parquet beside the corpus)")]:
            lines += textwrap.wrap(f"{style}: {text}", width=95)
        text_ax.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=9, family="sans-serif")
        text_ax.set_axis_off()
        return fig

    def map_figure(self) -> Figure:
        """Where the current results lie, labelled by rank (chapter 0)."""
        lonlats = np.array([r.lonlat for r in self.results])
        return static_map(lonlats, [f"#{r.rank}" for r in self.results], [r.modality for r in self.results])

    def _result(self, rank: int) -> Result:
        if not 1 <= rank <= len(self.results):
            raise ValueError(f"no result #{rank}: the search for {self.query!r} returned {len(self.results)}")
        return self.results[rank - 1]

    # ------------------------------------------------------------------ widgets

    def _build_widget(self) -> Any:
        """The ipywidgets interface, or None where ipywidgets is not installed."""
        try:
            import ipywidgets as w  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            return None
        self._query_box = w.Text(value=self.query, description="query", continuous_update=False, layout=w.Layout(width="60%"))
        self._modality_box = w.Dropdown(options=MODALITY_OPTIONS, value=self.modality, description="images")
        self._k_box = w.IntSlider(value=self.k, min=4, max=24, step=4, description="results")
        self._status = w.HTML()
        self._grid = w.GridBox(layout=w.Layout(grid_template_columns="repeat(4, 1fr)", grid_gap="6px"))
        self._detail = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self._map = w.Image(format="png", layout=w.Layout(max_width="60%"))
        for box in (self._query_box, self._modality_box, self._k_box):
            box.observe(self._on_change, names="value")
        self._show()
        controls = w.HBox([self._query_box, self._modality_box, self._k_box])
        return w.VBox([controls, self._status, self._grid, w.HTML("<b>Selected result</b> (click a title above)"), self._detail, self._map])

    def _on_change(self, _change: Any) -> None:
        try:
            self.search(self._query_box.value, self._modality_box.value, self._k_box.value)
        except ValueError as err:  # an empty query: say so instead of a traceback in a callback
            self._status.value = f"<span style='color:#b00'>{err}</span>"
            return
        self._show()

    def _show(self) -> None:
        import ipywidgets as w  # type: ignore[import-untyped, unused-ignore]

        self._status.value = f"{len(self.results)} results for <i>{self.query}</i> ({self.modality})"
        cells = []
        for result in self.results:
            button = w.Button(description=result.title, layout=w.Layout(width="100%"), tooltip=result.key)
            button.on_click(lambda _b, rank=result.rank: self._select(rank))
            labels = w.HTML(f"<small style='line-height:1.1'>{', '.join(result.labels) or '(no label)'}</small>")
            cells.append(w.VBox([w.Image(value=_png(thumbnail(result.image)), format="png"), button, labels]))
        self._grid.children = cells
        self._map.value = figure_png(self.map_figure())
        self._select(1)

    def _select(self, rank: int) -> None:
        self.selected = rank
        self._detail.value = figure_png(self.detail_figure(rank))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return WithFallback(self.widget, self.results_figure())._repr_mimebundle_(include, exclude)

