"""Embedding a corpus, search and the experiment runner (closp_lite.experiments) on a tiny corpus."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from closp_lite import experiments as ex
from closp_lite.data.format import CorpusWriter

LABELS = {"s2a": ["Pastures"], "s2b": ["Water bodies"], "s1a": ["Pastures"], "s1b": ["Water bodies"], "s1t": ["Water bodies"]}


@pytest.fixture
def corpus(tmp_path: Path, make_patch) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path / "corpus"
    with CorpusWriter(root) as writer:
        for seed, (key, labels) in enumerate(LABELS.items()):
            patch = make_patch(key, modality=key[:2], labels=labels, seed=seed)
            writer.add(patch, shard=f"shard_{key[:2]}", split="train" if key == "s1t" else "test")
    return root


QUERIES = [{"id": "grass", "text": "grass"}, {"id": "water", "text": "water"}]
QRELS = {"grass": {"s2a": 1, "s1a": 1}, "water": {"s2b": 1, "s1b": 1, "s1t": 1}}


def test_corpus_samples_and_embedding(corpus: Path) -> None:
    samples = list(ex.corpus_samples(corpus))
    assert sorted(s["key"] for s in samples) == ["s1a", "s1b", "s2a", "s2b"]  # the train patch is not searched
    s2 = next(s for s in samples if s["key"] == "s2a")
    assert s2["image"].shape == (13, 120, 120) and s2["labels"] == ["Grass"] and s2["modality"] == "s2"
    assert len(list(ex.corpus_samples(corpus, split=None))) == 5
    assert ex.corpus_labels(corpus) == {s["key"]: (s["modality"], s["labels"]) for s in samples}
    with pytest.raises(ValueError, match="split must be .train., .test. or None"):
        list(ex.corpus_samples(corpus, split="validation"))
    encoders = ex.Encoders(lambda x: x.mean(dim=(2, 3))[:, :2], lambda t: torch.ones(len(t), 2), "channel means")
    index = ex.embed_corpus(encoders, corpus, batch_size=1)
    assert len(index) == 4 and index.dim == 2 and index.info["model"] == "channel means"
    assert sorted(index.keys) == sorted(s["key"] for s in samples)


def test_run_experiments_structure_and_ranges(corpus: Path) -> None:
    label_of = {}
    for sample in ex.corpus_samples(corpus):
        label_of[float(sample["image"].sum())] = sample["labels"][0]

    def perfect() -> ex.Encoders:
        # looks the image up by its pixel sum: a stand-in for a model that learned the labels exactly
        def image(images: torch.Tensor) -> torch.Tensor:
            return torch.tensor([[1.0, 0.0] if label_of[float(x.sum())] == "Grass" else [0.0, 1.0] for x in images])

        return ex.Encoders(image, lambda texts: torch.tensor([[1.0, 0.0] if t == "grass" else [0.0, 1.0] for t in texts]))

    def random() -> ex.Encoders:
        generator = torch.Generator().manual_seed(0)
        return ex.Encoders(lambda x: torch.randn(len(x), 8, generator=generator), lambda t: torch.randn(len(t), 8, generator=generator))

    results = ex.run_experiments(corpus, {"perfect": perfect, "random": random}, QUERIES, QRELS, ndcg_k=10, descriptions={"random": "chance"})
    assert list(results) == ["perfect", "random"] and results["random"]["description"] == "chance"
    for result in results.values():
        assert set(result["metrics"]) == {"s1", "s2", "mixed"}
        for corpus_metrics in result["metrics"].values():
            for name in ("ndcg@10", "map@10", "R@1", "R@5", "R@10", "i2t_R@1", "mR"):
                assert 0.0 <= corpus_metrics[name] <= 100.0 and not math.isnan(corpus_metrics[name])
            assert corpus_metrics["n_queries"] == 2
        assert all(0.0 <= v <= 100.0 for v in result["ndcg_curve"].values())
        assert result["seconds"]["build"] >= 0
    for corpus_metrics in results["perfect"]["metrics"].values():
        assert corpus_metrics["ndcg@10"] == pytest.approx(100.0) and corpus_metrics["mR"] == pytest.approx(100.0)
    # the train patch s1t is judged relevant but not searched: restricted away, so perfect stays 100
    assert results["perfect"]["metrics"]["s1"]["n_documents"] == 2


def test_metrics_per_query_group(corpus: Path) -> None:
    def one_right() -> ex.Encoders:
        # every image looks like "water": right for the water query, useless for the grass query
        return ex.Encoders(lambda x: torch.tensor([[0.0, 1.0]] * len(x)) + 1e-3 * torch.arange(len(x))[:, None],
                           lambda texts: torch.tensor([[1.0, 0.0] if t == "grass" else [0.0, 1.0] for t in texts]))  # fmt: skip

    index = ex.embed_corpus(one_right(), corpus)
    groups = {"land": ["grass"], "water": ["water"], "both": ["grass", "water"]}
    result = ex.evaluate_index(index, one_right(), QUERIES, QRELS, ndcg_k=10, groups=groups)
    by = result["by_group"]
    assert set(by) == set(groups) and all(set(m) == {"s1", "s2", "mixed"} for m in by.values())
    assert all(m["n_queries"] == 1 for m in by["land"].values())
    assert by["both"]["mixed"]["ndcg@10"] == pytest.approx(result["metrics"]["mixed"]["ndcg@10"])
    assert by["both"]["mixed"]["ndcg@10"] == pytest.approx((by["land"]["mixed"]["ndcg@10"] + by["water"]["mixed"]["ndcg@10"]) / 2)
    with pytest.raises(ValueError, match="not in the query set"):
        ex.evaluate_index(index, one_right(), QUERIES, QRELS, groups={"x": ["fire"]})


def test_search_text_and_errors(corpus: Path) -> None:
    encoders = ex.Encoders(lambda x: x.mean(dim=(2, 3))[:, :2], lambda t: torch.tensor([[1.0, 0.0]] * len(t)))
    index = ex.embed_corpus(encoders, corpus)
    rows = ex.search_text(encoders, index, "anything", k=3, modality="s2")
    assert [r["rank"] for r in rows] == [1, 2] and all(r["modality"] == "s2" for r in rows)
    assert rows[0]["score"] >= rows[1]["score"] and isinstance(rows[0]["labels"], list)
    with pytest.raises(ValueError, match="empty"):
        ex.search_text(encoders, index, "  ")
    with pytest.raises(FileNotFoundError, match="queries build"):
        ex.load_queries(corpus)
    with pytest.raises(ValueError, match="no experiments"):
        ex.run_experiments(corpus, {}, QUERIES, QRELS)


def test_untrained_encoders_route_by_channels() -> None:
    encoders = ex.untrained_encoders(seed=0)
    s1 = encoders.image(torch.zeros(2, 2, 120, 120))
    s2 = encoders.image(torch.zeros(3, 13, 120, 120))
    assert s1.shape == (2, 384) and s2.shape == (3, 384)
    np.testing.assert_allclose(s2.norm(dim=1).numpy(), 1.0, rtol=1e-5)
    assert encoders.text(["water"]).shape == (1, 384)
    with pytest.raises(ValueError, match="channels"):
        encoders.image(torch.zeros(1, 3, 120, 120))


def test_search_figure_and_result_plots(corpus: Path) -> None:
    from matplotlib.figure import Figure

    from closp_lite import plotting

    encoders = ex.Encoders(lambda x: x.mean(dim=(2, 3))[:, :2], lambda t: torch.tensor([[1.0, 0.5]] * len(t)))
    rows = ex.search_text(encoders, ex.embed_corpus(encoders, corpus), "grass", k=4)
    images = ex.read_images(corpus, [r["key"] for r in rows])
    fig = plotting.plot_search_results("grass", rows, images, ncols=3)
    assert isinstance(fig, Figure) and len([ax for ax in fig.axes if ax.images]) == 4
    assert "Grass" in " ".join(ax.get_title() for ax in fig.axes)
    rgb = plotting.thumbnail(images[0])
    assert rgb.shape == (120, 120, 3) and 0.0 <= rgb.min() and rgb.max() <= 1.0
    with pytest.raises(ValueError, match="one image per hit"):
        plotting.plot_search_results("grass", rows, images[:1])
    with pytest.raises(ValueError, match="thumbnail"):
        plotting.thumbnail(np.zeros((5, 4, 4)))
    results = {"a": {"s1": {"ndcg@10": 40.0}, "mixed": {"ndcg@10": 50.0}}}
    bars = plotting.plot_ablation_bars(results, metric="ndcg@10")
    assert len(bars.axes[0].patches) == 3  # one (NaN) bar per corpus
    curves = plotting.plot_ndcg_curves({"a": {"1": 10.0, "10": 30.0}})
    assert list(curves.axes[0].lines[0].get_xdata()) == [1, 10]


def test_cli_embed_search_evaluate(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from closp_lite.cli import main
    from closp_lite.data.format import write_qrels, write_queries

    assert main(["embed", "untrained", "--data", str(corpus), "--out", str(tmp_path / "emb"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 4
    figure = tmp_path / "hits.png"
    argv = ["search", "grass", "--run", "untrained", "--data", str(corpus), "--index", str(tmp_path / "emb")]
    assert main([*argv, "--modality", "s1", "--k", "5", "--json", "--figure", str(figure)]) == 0
    found = json.loads(capsys.readouterr().out)["results"]
    assert len(found) == 2 and {r["modality"] for r in found} == {"s1"} and figure.stat().st_size > 0
    assert main(["evaluate", "untrained", "--data", str(corpus)]) == 1  # no queries yet: a clear error
    assert "queries build" in capsys.readouterr().err
    write_queries(corpus, QUERIES)
    write_qrels(corpus, QRELS)
    assert main(["evaluate", "untrained", "--data", str(corpus), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert set(metrics) == {"s1", "s2", "mixed"} and 0 <= metrics["mixed"]["ndcg@1000"] <= 100
    assert main(["search", "grass", "--run", "my_run/", "--data", str(corpus)]) == 1
    assert "is it a run folder written by `closp-lite train`" in capsys.readouterr().err
