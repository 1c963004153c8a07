"""The main job (``make tour`` / ``closp-lite tour``): the whole book in one run (chapter 0).

real example patches -> simulated sample corpus -> verification -> harmonized labels and captions
-> queries and graded relevance -> CLOSP-lite training -> evaluation against the untrained
reference -> a text search with its figure. Every step calls the library function that the
matching chapter teaches; this module only chains them and says where the outputs are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from closp_lite.config import DEFAULT_SEED, seed_everything, settings

DEFAULT_QUERY = "flooded fields near a river"


def _check(report: Any, root: Path) -> None:
    if not report.ok:
        raise ValueError(f"{root} failed verification: " + "; ".join(map(str, report.problems[:5])))


def run_tour(out: str | Path, mode: str | None = None, query: str = DEFAULT_QUERY, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Run the main job in ``mode`` and write its outputs to ``out``; return a summary (chapter 0).

    Outputs: ``run/`` (the trained model and its log), ``queries/``, ``evaluation.json``,
    ``search.png``, ``search.json``, ``summary.json``.
    """
    from closp_lite.captions import build_captions
    from closp_lite.data import load_examples, verify
    from closp_lite.experiments import (
        embed_corpus,
        evaluate_index,
        load_queries,
        read_images,
        run_encoders,
        search_text,
        untrained_encoders,
        validation_calibration,
    )
    from closp_lite.plotting import plot_search_results
    from closp_lite.queries import build_queries
    from closp_lite.simulate import sample_corpus
    from closp_lite.training import TrainConfig, train

    scale = settings(mode)  # resolved once; every step below gets it, none reads the environment again
    mode = scale.mode
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(seed)
    steps = tqdm(total=7, desc="tour", unit="step")

    examples = load_examples()
    _check(verify(examples), examples)
    steps.update()
    corpus = sample_corpus(mode, seed=seed)
    _check(verify(corpus), corpus)
    steps.update()
    build_captions(corpus, seed=seed, progress=False)
    build_queries(corpus, out / "queries", overwrite=True)  # the tour replaces its own earlier outputs
    queries, qrels = load_queries(out / "queries")
    steps.update()
    trained = train(TrainConfig(mode=mode, data=str(corpus), seed=seed), out / "run", overwrite=True)
    steps.update()
    models = {"untrained": untrained_encoders(seed), "closp-lite": run_encoders(out / "run")}
    # The default modality-gap remedy merges by the counts of a calibration fitted on the validation images (chapter 6).
    models["closp-lite"].calibration = validation_calibration(models["closp-lite"], corpus, seed)
    indexes = {name: embed_corpus(encoders, corpus, scale=scale) for name, encoders in models.items()}
    metrics = {name: evaluate_index(indexes[name], models[name], queries, qrels)["metrics"] for name in models}
    (out / "evaluation.json").write_text(json.dumps(metrics, indent=2))
    steps.update()
    hits = search_text(models["closp-lite"], indexes["closp-lite"], query, k=12)
    figure = plot_search_results(query, hits, read_images(corpus, [h["key"] for h in hits]))
    figure.savefig(out / "search.png", dpi=100)
    (out / "search.json").write_text(json.dumps(hits, indent=2, default=str))
    steps.update()
    summary = {
        "mode": mode,
        "simulated_corpus": str(corpus),
        "real_examples": str(examples),
        "run": str(out / "run"),
        "train_seconds": round(trained.seconds, 1),
        "best_val_loss": trained.best_val_loss,
        "ndcg@1000": {name: {c: round(m["ndcg@1000"], 2) for c, m in by.items()} for name, by in metrics.items()},
        "query": query,
        "top_hit": hits[0] if hits else None,
        "outputs": {name: str(out / name) for name in ("evaluation.json", "search.png", "search.json", "queries")},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    steps.update()
    steps.close()
    return summary
