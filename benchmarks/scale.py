"""What full scale costs: simulated corpora of growing size, search over 647,000 vectors, GPU throughput.

    .venv/bin/python benchmarks/scale.py search [--n 647000] [--hnsw]   # FAISS vs exact, 647k x 384
    .venv/bin/python benchmarks/scale.py cost --sizes 1000 5000         # simulate, train, embed, index
    .venv/bin/python benchmarks/scale.py search --hnsw-only --hnsw-m 16 # HNSW rows only, merged with the others
    .venv/bin/python benchmarks/scale.py compile                        # torch.compile on/off: compile time, steps/s (CPU)
    .venv/bin/python benchmarks/scale.py gpu --device cuda              # loader and model patches/s, bf16

Each sub-command updates its own section of ``benchmarks/results/scale.json`` and rewrites
``scale.md``. Everything is **simulated**:

* ``cost`` simulates a corpus of N patches (half S1, half S2), trains one epoch on its 20 % train
  split, embeds its 80 % corpus split in shards and builds the FAISS index; each stage runs in its
  own process so its peak memory (max RSS, torch included) is its own.
* ``search`` trains the book's small model on the simulated sample corpus, embeds its 3,000 patches
  and derives 647,000 vectors from them: each is a stored embedding plus Gaussian noise, scaled so a
  copy is as close to its source as a patch is to its nearest neighbour (measured on the 3,000),
  and inherits the source's labels, so the graded relevance of :mod:`closp_lite.queries` applies.
  Queries are the query set's texts embedded by the model's text tower. The vectors are never
  written to the repository.
* ``gpu`` measures the streaming loader alone and the model alone (forward + backward, bf16
  autocast) on one GPU, and the model in two processes (Lightning Fabric, DDP).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

from closp_lite.config import DEFAULT_SEED, data_dir, seed_everything

NAME = "scale"
DIM = 384
STAGES = ("simulate", "loader", "train", "embed")


def _peak_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def _usage() -> dict[str, Any]:
    """This process's peak memory, CPU seconds and torch threads (CPU time does not grow with a shared machine's load; wall time does)."""
    import torch

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_memory_gb": _peak_gb(), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1), "torch_threads": torch.get_num_threads()}


def _section(section: str) -> dict[str, Any] | None:
    """One section of the current scale.json (None if absent)."""
    path = RESULTS / f"{NAME}.json"
    return json.loads(path.read_text()).get("results", {}).get(section) if path.is_file() else None


def _update(section: str, payload: dict[str, Any]) -> None:
    """Replace one section of scale.json (keeping the others) and rewrite scale.md."""
    path = RESULTS / f"{NAME}.json"
    old = json.loads(path.read_text()) if path.is_file() else {"results": {}}
    results = {**old.get("results", {}), section: payload}
    commands = {**old.get("results", {}).get("commands", {}), section: " ".join(sys.argv)}
    results["commands"] = commands
    # The 2 cores may be shared: the load average says how far the times are from an idle machine.
    payload["load_average_1_5_15"] = [round(x, 1) for x in os.getloadavg()]
    write_result(NAME, results)
    (RESULTS / f"{NAME}.md").write_text(_markdown(results))


# ---------------------------------------------------------------- search over 647k vectors


def _base_embeddings() -> tuple[Any, Any]:
    """The book model trained on the simulated sample corpus, and its embeddings of all 3,000 patches."""
    from closp_lite.experiments import embed_corpus, run_encoders
    from closp_lite.simulate import sample_corpus
    from closp_lite.training import TrainConfig, train

    root = sample_corpus("sample", progress=False)
    run = data_dir() / "bench" / "scale-run"
    if not (run / "model.pt").is_file():
        train(TrainConfig(mode="sample", data=str(root), epochs=3), run, progress=False)
    encoders = run_encoders(run)
    return encoders, embed_corpus(encoders, root, split=None)


def _noise_scale(base: np.ndarray) -> float:
    """sigma such that cos(copy, source) = 1 / sqrt(1 + sigma^2) equals the median nearest-neighbour cosine."""
    sims = base @ base.T
    np.fill_diagonal(sims, -np.inf)
    nearest = float(np.median(sims.max(axis=1)))
    return float(np.sqrt(max(1.0 / nearest**2 - 1.0, 1e-6)))


def _derived_vectors(base: np.ndarray, n: int, sigma: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors, each a noisy copy of a random row of ``base``; returns them and their source rows."""
    source = rng.integers(0, base.shape[0], size=n)
    vectors = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        rows = source[start : start + 100_000]
        block = base[rows] + sigma * rng.standard_normal((rows.size, base.shape[1]), dtype=np.float32) / np.sqrt(base.shape[1])
        vectors[start : start + rows.size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return vectors, source


def _ndcg10(rankings: np.ndarray, grades: np.ndarray, source: np.ndarray) -> float:
    """Mean nDCG@10 with doc grade = grade of its source patch; the ideal counts every copy."""
    from closp_lite.evaluation import dcg

    copies = np.bincount(source, minlength=grades.shape[1])
    values = []
    for q, ranking in enumerate(rankings):
        order = np.argsort(-grades[q], kind="stable")
        ideal = np.repeat(grades[q][order], copies[order])[:10]
        best = dcg(ideal, 10)
        values.append(dcg(grades[q][source[ranking]], 10) / best if best > 0 else 0.0)
    return float(np.mean(values))


def _timed(search: Any, queries: np.ndarray, single: int = 20) -> dict[str, float]:
    """ms per query one query at a time (median of ``single``) and in one batch of 100."""
    times = []
    for q in queries[:single]:
        start = time.perf_counter()
        search(q[None, :])
        times.append(time.perf_counter() - start)
    batch = np.resize(queries, (100, queries.shape[1]))
    start = time.perf_counter()
    search(batch)
    return {"ms_per_query_batch1": round(1000 * float(np.median(times)), 3),
            "ms_per_query_batch100": round(1000 * (time.perf_counter() - start) / 100, 3)}  # fmt: skip


def _method_order(row: dict[str, Any]) -> tuple[int, str]:
    """Exact searches first, then IVF, then HNSW settings (stable within a kind)."""
    name = row["method"]
    return (next((i for i, kind in enumerate(("exact", "flat", "IVF", "HNSW")) if kind in name), 4), name)


def hnsw_rows(vectors: np.ndarray, m: int, ef_construction: int, max_build_minutes: float, record: Any) -> dict[str, Any]:
    """Build HNSW over ``vectors`` if a timed build of a 50,000-vector prefix projects it under ``max_build_minutes``; record its rows.

    HNSW inserts one vector at a time, each costing about ``log N`` graph hops, so the projection
    scales the prefix's rate by ``log N / log 50,000``. Returns the build measurements (or why it was skipped).
    """
    import faiss

    from closp_lite.faiss_index import IndexSpec, build

    spec = IndexSpec(kind="hnsw", hnsw_m=m, ef_construction=ef_construction)
    probe_n = min(50_000, len(vectors))
    start = time.perf_counter()
    build(vectors[:probe_n], spec, recall_queries=10)
    probe_rate = probe_n / (time.perf_counter() - start)
    projected = len(vectors) / probe_rate * np.log(len(vectors)) / np.log(probe_n) / 60
    build_info = {"hnsw_m": m, "ef_construction": ef_construction, "probe_vectors": probe_n, "probe_vectors_per_s": round(probe_rate, 1),
                  "projected_build_minutes": round(float(projected), 1), "max_build_minutes": max_build_minutes}  # fmt: skip
    print(build_info, flush=True)
    if projected > max_build_minutes:
        return {**build_info, "built": False}
    start = time.perf_counter()
    graph = build(vectors, spec, recall_queries=10)
    graph_s, graph_mb = time.perf_counter() - start, faiss.serialize_index(graph.index).nbytes / 2**20
    for ef in (16, 32, 64, 128, 256):
        graph.index.hnsw.efSearch = ef
        record(f"FAISS HNSW{m},Flat (efConstruction {ef_construction})", lambda q: graph.search(q, 10)[0], graph_s, graph_mb, ef_search=ef)
    return {**build_info, "built": True, "build_s": round(graph_s, 1), "vectors_per_s": round(len(vectors) / graph_s, 1)}


def search_benchmark(n: int, hnsw: bool, hnsw_only: bool = False, hnsw_m: int = 16, ef_construction: int = 40,
                     max_build_minutes: float = 20.0, previous: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """FAISS flat / IVF-SQ8 (nprobe sweep) / optional HNSW against closp-lite's exact float16 search.

    ``hnsw_only`` measures HNSW alone. Rows of ``previous`` that were not measured again are kept
    when they were measured on the same vectors (same exact nDCG@10 and noise scale: same corpus,
    model and seed), so HNSW settings can be added one run at a time.
    """
    import faiss

    from closp_lite.faiss_index import IndexSpec, build, recall_at_k
    from closp_lite.index import top_k
    from closp_lite.queries import make_queries, relevance

    rng = np.random.default_rng(seed_everything(DEFAULT_SEED))
    encoders, base = _base_embeddings()
    base_vectors = np.asarray(base.vectors, dtype=np.float32)
    sigma = _noise_scale(base_vectors)
    vectors, source = _derived_vectors(base_vectors, n, sigma, rng)
    queries_meta = make_queries(base.labels, n_combinations=10, regions=())
    texts = encoders.text([q["text"] for q in queries_meta]).detach().float().numpy()
    queries = texts / np.linalg.norm(texts, axis=1, keepdims=True)
    grades = np.array([[relevance(q, labels) for labels in base.labels] for q in queries_meta], dtype=float)
    k = 10
    exact_ids, _ = top_k(queries, vectors, k)
    exact_ndcg = _ndcg10(exact_ids, grades, source)
    rows: list[dict[str, Any]] = []

    def record(method: str, search: Any, build_s: float, index_mb: float, **extra: Any) -> None:
        found = search(queries)
        rows.append({"method": method, **extra, "build_s": round(build_s, 2), "index_mb": round(index_mb, 1), **_timed(search, queries),
                     "recall_at_10": round(recall_at_k(found, exact_ids, k), 4), "ndcg_at_10": round(_ndcg10(found, grades, source), 4)})  # fmt: skip
        print(rows[-1], flush=True)

    if not hnsw_only:
        half = vectors.astype(np.float16)
        record("exact float16 (closp_lite.index)", lambda q: top_k(q, half, k)[0], 0.0, half.nbytes / 2**20)
        start = time.perf_counter()
        flat = build(vectors, IndexSpec(kind="flat"), recall_queries=10)
        record("FAISS flat (exact)", lambda q: flat.search(q, k)[0], time.perf_counter() - start, vectors.nbytes / 2**20)
        start = time.perf_counter()
        ivf = build(vectors, IndexSpec(kind="ivf"), recall_queries=10)
        ivf_s, ivf_mb = time.perf_counter() - start, faiss.serialize_index(ivf.index).nbytes / 2**20
        for nprobe in (1, 2, 4, 8, 16, 32, 64):
            faiss.extract_index_ivf(ivf.index).nprobe = nprobe
            record(f"FAISS IVF{ivf.spec.nlist},SQ8", lambda q: ivf.search(q, k)[0], ivf_s, ivf_mb, nprobe=nprobe)
    builds = {}
    if hnsw or hnsw_only:
        builds[f"HNSW{hnsw_m},efConstruction{ef_construction}"] = hnsw_rows(vectors, hnsw_m, ef_construction, max_build_minutes, record)
    previous = previous or {}
    if previous.get("exact_ndcg_at_10") == round(exact_ndcg, 4) and previous.get("noise_sigma") == round(sigma, 4):
        measured = {r["method"] for r in rows}
        rows = sorted([r for r in previous.get("methods", []) if r["method"] not in measured] + rows, key=_method_order)
        builds = {**previous.get("hnsw_builds", {}), **builds}
    return {"n_vectors": n, "dim": DIM, "base_patches": len(base), "noise_sigma": round(sigma, 4), "queries": len(queries),
            "faiss_threads": faiss.omp_get_max_threads(), "exact_ndcg_at_10": round(exact_ndcg, 4), "methods": rows,
            "hnsw_builds": builds, "peak_memory_gb": _peak_gb(),
            "note": "simulated: vectors derived from a trained model's embeddings of simulated patches"}  # fmt: skip


# ---------------------------------------------------------------- cost against corpus size


def stage(name: str, size: int, workdir: Path, threads: int) -> dict[str, Any]:
    """Run one stage for a corpus of ``size`` patches in this process with ``threads`` torch threads; return time, patches/s and usage."""
    import torch

    from closp_lite.data.format import CrisisLandMark

    torch.set_num_threads(threads)

    root, run, out = workdir / f"corpus-{size}", workdir / f"run-{size}", workdir / f"index-{size}"
    start = time.perf_counter()
    if name == "simulate":
        from closp_lite.simulate.corpus import generate_corpus

        generate_corpus(root, size // 2, size - size // 2, DEFAULT_SEED, overwrite=True, progress=False)
        patches = size
    elif name == "loader":
        from closp_lite.data.datasets import CrisisLandMarkDataset
        from closp_lite.streaming import StreamConfig, loader, loader_throughput

        dataset = CrisisLandMarkDataset(root, modality="s2", split="train")
        return {"stage": name, "size": size, "patches_per_s": round(loader_throughput(loader(dataset, 64, StreamConfig(workers=0))), 1),
                **_usage()}  # fmt: skip
    elif name == "train":
        from closp_lite.training import TrainConfig, train

        result = train(TrainConfig(mode="sample", data=str(root), epochs=1), run, progress=False)
        return {"stage": name, "size": size, "seconds": round(time.perf_counter() - start, 2), "patches_per_s": round(result.samples_per_second, 1),
                "train_patches": sum(CrisisLandMark(root).metadata["split"] == "train"), **_usage()}  # fmt: skip
    elif name == "embed":
        from closp_lite.embedding_shards import embed_sharded
        from closp_lite.experiments import run_encoders

        done = embed_sharded(run_encoders(run), root, out, progress=False)
        assert done is not None
        patches = len(done[0])
        return {"stage": name, "size": size, "seconds": round(time.perf_counter() - start, 2), "patches": patches,
                "patches_per_s": round(patches / (time.perf_counter() - start), 1), "index_build_s": done[1].info["build_seconds"],
                "index_kind": done[1].spec.kind, **_usage()}  # fmt: skip
    else:
        raise ValueError(f"unknown stage {name!r}")
    seconds = time.perf_counter() - start
    return {"stage": name, "size": size, "seconds": round(seconds, 2), "patches_per_s": round(patches / seconds, 1), **_usage()}


def merge_cost_rows(previous: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of both runs, a new row replacing an old one of the same stage and size; sorted by size, then stage order."""
    order = {name: i for i, name in enumerate(STAGES)}
    merged = {(r["stage"], r["size"]): r for r in [*previous, *new]}
    return sorted(merged.values(), key=lambda r: (r["size"], order.get(r["stage"], len(order))))


def growth_exponents(rows: list[dict[str, Any]], key: str = "seconds") -> dict[str, float]:
    """Per stage, ``e`` of ``rows[key] ~ size^e`` fitted on log-log scales (stages measured at two sizes or more).

    ``key="cpu_seconds"`` fits the process's CPU time, which a shared machine's load does not inflate.
    """
    growth = {}
    for name in ("simulate", "train", "embed"):
        points = [(r["size"], r[key]) for r in rows if r["stage"] == name and key in r]
        if len(points) > 1:
            x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
            growth[name] = round(float(np.polyfit(x, y, 1)[0]), 2)
    return growth


def cost_benchmark(sizes: list[int], workdir: Path, threads: int, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every stage for every size, each in a fresh process, merged with the rows of ``previous`` sizes; growth exponents refitted.

    A size's corpus, run and index are deleted once measured (50,000 patches take about 7 GB).
    """
    import shutil

    rows = []
    for size in sizes:
        for name in STAGES:
            command = [sys.executable, __file__, "stage", name, "--size", str(size), "--workdir", str(workdir), "--threads", str(threads)]
            line = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            # The 2 cores are shared: each row keeps the load it ran under.
            rows.append({**json.loads(line), "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()]})
            print(rows[-1], flush=True)
        for folder in ("corpus", "run", "index"):
            shutil.rmtree(workdir / f"{folder}-{size}", ignore_errors=True)
    previous = previous or {}
    rows = merge_cost_rows(previous.get("stages", []), rows)
    return {"sizes": sorted({r["size"] for r in rows}), "stages": rows, "time_growth_exponent": growth_exponents(rows),
            "cpu_time_growth_exponent": growth_exponents(rows, "cpu_seconds"),
            "note": "simulated corpora; one process per stage; train = one epoch in sample settings on the 20 % train split"}  # fmt: skip


# ---------------------------------------------------------------- torch.compile


def compile_benchmark(arch: str, batch: int, steps: int) -> dict[str, Any]:
    """Training steps of one S2 tower on random patches, eager and ``torch.compile``-d: first-step (compile) time and steps/s after 3 warm-ups."""
    import torch

    from closp_lite.streaming import step_seconds

    rows = []
    for compiled in (False, True):
        try:
            seconds = step_seconds(arch, batch, steps + 3, compile_model=compiled)
        except Exception as error:  # inductor needs a working C compiler: record why it failed
            rows.append({"compile": compiled, "error": f"{type(error).__name__}: {str(error)[:300]}"})
        else:
            rows.append({"compile": compiled, "first_step_s": round(seconds[0], 2), "steps_per_s": round(steps / sum(seconds[3:]), 3),
                         "patches_per_s": round(batch * steps / sum(seconds[3:]), 1)})  # fmt: skip
        print(rows[-1], flush=True)
    return {"arch": arch, "batch": batch, "steps": steps, "device": "cpu", "torch_threads": torch.get_num_threads(), "rows": rows,
            "note": "random patches (simulated); the first step of the compiled tower includes compiling it"}  # fmt: skip


# ---------------------------------------------------------------- GPU


def gpu_benchmark(device: str, batch: int, steps: int, compile_model: bool, archs: list[str]) -> dict[str, Any]:
    """Loader-only and model-only patches/s (bf16 autocast) on one GPU, and the model in two processes (Fabric DDP)."""
    from closp_lite.data.datasets import CrisisLandMarkDataset
    from closp_lite.simulate import sample_corpus
    from closp_lite.streaming import (
        StreamConfig,
        fabric_throughput,
        loader,
        loader_throughput,
        model_throughput,
    )

    cuda = device.startswith("cuda")
    root = sample_corpus(progress=False)  # the mode's simulated corpus (sample unless CLOSP_LITE_MODE says otherwise)
    dataset = CrisisLandMarkDataset(root, modality="s2")
    rows = [{"what": "loader only", "workers": w, "patches_per_s": round(loader_throughput(loader(dataset, batch, StreamConfig(workers=w, pin_memory=cuda))), 1)}
            for w in (0, 4, 8)]  # fmt: skip
    print(rows, flush=True)
    for arch in archs:
        variants = [("fp32", False), ("bf16", False)] + ([("bf16", True)] if compile_model else [])
        for precision, compiled in variants:
            rate = model_throughput(arch, batch, steps, device, precision, compile_model=compiled)  # type: ignore[arg-type]
            rows.append({"what": "model only", "arch": arch, "precision": precision, "processes": 1, "compile": compiled, "patches_per_s": round(rate, 1)})
            print(rows[-1], flush=True)
        rate = fabric_throughput(arch, batch, steps, devices=2, accelerator="cuda" if cuda else "cpu", precision="bf16-mixed" if cuda else "32-true")
        rows.append({"what": "model only", "arch": arch, "precision": "bf16" if cuda else "fp32", "processes": 2, "compile": False, "patches_per_s": round(rate, 1)})
        print(rows[-1], flush=True)
    return {"device": device, "batch_per_process": batch, "steps": steps, "rows": rows, "note": "S2 patches of the simulated sample corpus"}


# ---------------------------------------------------------------- report


def _markdown(results: dict[str, Any]) -> str:
    lines = ["# Full scale (simulated data)", "", "Written by `benchmarks/scale.py`; numbers from `scale.json`.", ""]
    header = "| method | nprobe / ef | build s | index MB | ms/query (1) | ms/query (100) | recall@10 | nDCG@10 |"
    search = results.get("search")
    if search:
        title = f"## Search over {search['n_vectors']:,} x {search['dim']} vectors ({search['queries']} text queries, {search['faiss_threads']} threads)"
        lines += [title, "", f"Exact nDCG@10: {search['exact_ndcg_at_10']}", "",
                  header, "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in search["methods"]:
            knob = r.get("nprobe", r.get("ef_search", ""))
            lines.append(f"| {r['method']} | {knob} | {r['build_s']} | {r['index_mb']} | {r['ms_per_query_batch1']} | "
                         f"{r['ms_per_query_batch100']} | {r['recall_at_10']} | {r['ndcg_at_10']} |")  # fmt: skip
        lines.append("")
        for name, built in search.get("hnsw_builds", {}).items():
            lines += [f"{name} build: {built}", ""]
        lines.append("")
    cost = results.get("cost")
    if cost:
        lines += ["## Cost against corpus size", "", "| stage | patches | seconds | CPU s | patches/s | peak GB | threads | 1-min load |", "|---|---|---|---|---|---|---|---|"]
        for r in cost["stages"]:
            lines.append(f"| {r['stage']} | {r['size']} | {r.get('seconds', '')} | {r.get('cpu_seconds', '')} | {r['patches_per_s']} | {r['peak_memory_gb']} | "
                         f"{r.get('torch_threads', '')} | {r.get('load_average_1_5_15', [''])[0]} |")  # fmt: skip
        lines += ["", f"Time growth exponents (time ~ size^e), wall: {cost['time_growth_exponent']}; "
                  f"CPU: {cost.get('cpu_time_growth_exponent', 'not recorded')}", ""]  # fmt: skip
    comp = results.get("compile")
    if comp:
        lines += [f"## torch.compile ({comp['arch']}, batch {comp['batch']}, {comp['device']}, {comp['torch_threads']} thread(s))", "",
                  "| compile | first step s | steps/s | patches/s | error |", "|---|---|---|---|---|"]  # fmt: skip
        for r in comp["rows"]:
            lines.append(f"| {r['compile']} | {r.get('first_step_s', '')} | {r.get('steps_per_s', '')} | {r.get('patches_per_s', '')} | {r.get('error', '')} |")
        lines.append("")
    gpu = results.get("gpu")
    lines += ["## GPU", ""]
    if gpu:
        lines += ["| what | arch | precision | processes | compile | workers | patches/s |", "|---|---|---|---|---|---|---|"]
        for r in gpu["rows"]:
            lines.append(f"| {r['what']} | {r.get('arch', '')} | {r.get('precision', '')} | {r.get('processes', '')} | "
                         f"{r.get('compile', '')} | {r.get('workers', '')} | {r['patches_per_s']} |")  # fmt: skip
    else:
        lines.append("Unmeasured: no GPU was available (run `benchmarks/scale.py gpu --device cuda`).")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse the sub-command and run it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    search = sub.add_parser("search")
    search.add_argument("--n", type=int, default=647_000)
    search.add_argument("--hnsw", action="store_true")
    search.add_argument("--hnsw-only", action="store_true", help="measure HNSW only; keep the other rows of scale.json")
    search.add_argument("--hnsw-m", type=int, default=16, help="HNSW links per vector")
    search.add_argument("--ef-construction", type=int, default=40, help="HNSW build candidates")
    search.add_argument("--max-build-minutes", type=float, default=20.0, help="skip the HNSW build if a timed prefix projects more")
    comp = sub.add_parser("compile")
    comp.add_argument("--arch", default="small_cnn")
    comp.add_argument("--batch", type=int, default=32)
    comp.add_argument("--steps", type=int, default=10)
    cost = sub.add_parser("cost")
    cost.add_argument("--sizes", type=int, nargs="+", default=[1_000, 5_000])
    cost.add_argument("--workdir", type=Path, default=None)
    cost.add_argument("--threads", type=int, default=1, help="torch threads per stage (1 leaves the other core to the loader or another job)")
    one = sub.add_parser("stage")
    one.add_argument("name")
    one.add_argument("--size", type=int, required=True)
    one.add_argument("--workdir", type=Path, required=True)
    one.add_argument("--threads", type=int, default=1)
    gpu = sub.add_parser("gpu")
    gpu.add_argument("--device", default="cuda")
    gpu.add_argument("--batch", type=int, default=128)
    gpu.add_argument("--steps", type=int, default=20)
    gpu.add_argument("--compile", action="store_true")
    gpu.add_argument("--archs", nargs="+", default=["small_cnn", "resnet50"])
    gpu.add_argument("--dry-run", action="store_true", help="print the results, do not write them (smoke test on a CPU)")
    args = parser.parse_args()
    if args.what == "search":
        _update("search", search_benchmark(args.n, args.hnsw, args.hnsw_only, args.hnsw_m, args.ef_construction, args.max_build_minutes,
                                           _section("search")))  # fmt: skip
    elif args.what == "compile":
        _update("compile", compile_benchmark(args.arch, args.batch, args.steps))
    elif args.what == "cost":
        _update("cost", cost_benchmark(args.sizes, args.workdir or data_dir() / "bench" / "scale", args.threads, _section("cost")))
    elif args.what == "stage":
        print(json.dumps(stage(args.name, args.size, args.workdir, args.threads)))
    else:
        result = gpu_benchmark(args.device, args.batch, args.steps, args.compile, args.archs)
        if not args.dry_run:
            _update("gpu", result)


if __name__ == "__main__":
    main()
