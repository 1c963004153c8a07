"""Simulated CrisisLandMark corpora: generation, splits and the cached sample corpora (chapters 0-2).

A corpus is written through :class:`closp_lite.data.format.CorpusWriter` in the exact
CrisisLandMark layout, one shard per simulated source (named after the real ones, with a
``sim_`` prefix so nobody mistakes them for real data):

=================  ==========  ==================  ==========================================
source (shard)     modality    crisis event        stands in for
=================  ==========  ==================  ==========================================
``sim_benv2s1``    S1          -                   BigEarthNet v2 S1 (Europe, 2017-2018)
``sim_benv2s2``    S2          -                   BigEarthNet v2 S2
``sim_mmflood``    S1          flood               MMFlood
``sim_sen12flood`` S1 and S2   flood               SEN12FLOOD
``sim_quakeset``   S1          earthquake damage   QuakeSet
``sim_cabuar``     S2          burned area         CaBuAr (California)
=================  ==========  ==================  ==========================================

Every patch has its own random stream, ``default_rng([seed, modality, index])``, so the same seed
gives identical patches whatever else changes, and the split is assigned on the fly by a simple
iterative stratification so that every label appears in both splits whenever it occurs twice.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from closp_lite.config import DEFAULT_SEED, data_dir, settings
from closp_lite.data.format import CorpusWriter, Patch
from closp_lite.labels import VOCABULARY
from closp_lite.simulate.geography import LANDCOVER_REGIONS, Region, event_regions, get_region
from closp_lite.simulate.scene import render_patch

GENERATOR_VERSION = "3"
"""Bumped whenever the same seed would give different files; part of cache names and manifests."""

TRAIN_SHARE = 0.2
"""Share of each label's patches in the train split; the rest is the searched corpus ("test")."""


@dataclass(frozen=True)
class Source:
    """A simulated source: its modality and crisis event (``None`` for plain land cover)."""

    modalities: tuple[str, ...]
    event: str | None
    stands_for: str


SOURCES: dict[str, Source] = {
    "sim_benv2s1": Source(("s1",), None, "BigEarthNet v2 Sentinel-1"),
    "sim_benv2s2": Source(("s2",), None, "BigEarthNet v2 Sentinel-2"),
    "sim_mmflood": Source(("s1",), "flood", "MMFlood"),
    "sim_sen12flood": Source(("s1", "s2"), "flood", "SEN12FLOOD"),
    "sim_quakeset": Source(("s1",), "earthquake", "QuakeSet"),
    "sim_cabuar": Source(("s2",), "burned", "CaBuAr"),
}
"""The simulated sources (shard names) and what they stand for."""

DEFAULT_MIX: dict[str, dict[str, float]] = {
    "s1": {"sim_benv2s1": 0.7, "sim_mmflood": 0.1, "sim_sen12flood": 0.05, "sim_quakeset": 0.15},
    "s2": {"sim_benv2s2": 0.7, "sim_sen12flood": 0.12, "sim_cabuar": 0.18},
}
"""Share of each source per modality. Crisis patches are far more frequent than in the real
corpus (about 5%) so that a small corpus still has enough of them to search for."""

EVENT_EXTENT: dict[str, tuple[float, float]] = {"flood": (0.1, 0.5), "burned": (0.1, 0.6), "earthquake": (0.06, 0.2)}
"""Range of the share of a crisis patch covered by its event."""

CLOUD_RATE = 0.1
"""Share of S2 patches with clouds (BigEarthNet removed most cloudy patches; flood scenes are cloudier)."""

_MODALITY_CODE = {"s1": 1, "s2": 2}


@dataclass(frozen=True)
class PatchPlan:
    """What one patch of a corpus will be: key, modality, source, region and its index in the modality."""

    key: str
    modality: str
    source: str
    region: str
    index: int


def _regions(event: str | None) -> tuple[Region, ...]:
    return LANDCOVER_REGIONS if event is None else event_regions(event)


def plan_corpus(n_s1: int, n_s2: int, seed: int = DEFAULT_SEED, mix: dict[str, dict[str, float]] | None = None) -> list[PatchPlan]:
    """Return the plan of a corpus: which source and region every patch comes from (chapter 0).

    Sources get their share of each modality exactly (rounded; the land-cover source takes the
    rest); regions are visited in turn so that even a small corpus covers all of them.

    Raises:
        ValueError: for negative sizes, shares not summing to 1, or a mix naming an unknown
        source or the wrong modality.
    """
    if n_s1 < 0 or n_s2 < 0:
        raise ValueError(f"corpus sizes must be >= 0, got n_s1={n_s1}, n_s2={n_s2}")
    mix = mix or DEFAULT_MIX
    rng = np.random.default_rng([seed, 0])
    plans: list[PatchPlan] = []
    for modality, n in (("s1", n_s1), ("s2", n_s2)):
        shares = mix.get(modality, {})
        if n and (not shares or min(shares.values()) < 0 or not np.isclose(sum(shares.values()), 1.0)):
            raise ValueError(f"the {modality} mix must give non-negative source shares summing to 1, got {shares}")
        for name in shares:
            if name not in SOURCES or modality not in SOURCES[name].modalities:
                raise ValueError(f"source {name!r} cannot produce {modality} patches: choose from {sorted(SOURCES)}")
        counts = {name: int(round(share * n)) for name, share in shares.items()}
        main = max(shares, key=lambda name: shares[name])
        counts[main] += n - sum(counts.values())
        sources = [name for name, count in counts.items() for _ in range(count)]
        rng.shuffle(sources)
        visits: Counter[str] = Counter()
        offsets = {name: int(rng.integers(0, 1000)) for name in shares}
        for index, source in enumerate(sources):
            regions = _regions(SOURCES[source].event)
            region = regions[(offsets[source] + visits[source]) % len(regions)]
            visits[source] += 1
            plans.append(PatchPlan(f"{source}_{modality}_{index:06d}", modality, source, region.name, index))
    return plans


def make_patch(plan: PatchPlan, seed: int = DEFAULT_SEED, cloud_rate: float = CLOUD_RATE) -> Patch:
    """Render the patch of ``plan`` (its own random stream: the same seed gives the same patch) (chapter 1)."""
    rng = np.random.default_rng([seed, _MODALITY_CODE[plan.modality], plan.index])
    event = SOURCES[plan.source].event
    extent = float(rng.uniform(*EVENT_EXTENT[event])) if event else 0.0
    cloudy = plan.modality == "s2" and rng.random() < (3 * cloud_rate if event == "flood" else cloud_rate)
    clouds = float(rng.uniform(0.05, 0.5)) if cloudy else 0.0
    scene, when = render_patch(
        plan.modality, get_region(plan.region), rng, event=event, event_fraction=extent, cloud_fraction=clouds
    )
    image = scene.s1 if plan.modality == "s1" else scene.s2
    assert image is not None  # the scene was rendered for the plan's modality
    return Patch(
        key=plan.key,
        image=image,
        coords=scene.coords,
        crs=scene.crs,
        labels=scene.labels,
        timestamp=when,
        mask=scene.mask,
    )


class SplitAssigner:
    """Online iterative stratification: 20% train per label, every label in both splits (chapter 0).

    Each patch is decided by its rarest label so far: it goes to train when that label's train
    count is behind ``share`` of its occurrences (the first occurrence goes to train, the next
    ones to the corpus until the share is due again).
    """

    def __init__(self, share: float = TRAIN_SHARE) -> None:
        if not 0.0 < share < 1.0:
            raise ValueError(f"the train share must lie in (0, 1), got {share}")
        self.share = share
        self.seen: Counter[str] = Counter()
        self.train: Counter[str] = Counter()

    def assign(self, labels: list[str]) -> str:
        """Return ``"train"`` or ``"test"`` for a patch with ``labels`` and update the counts."""
        keys = labels or [""]
        rarest = min(keys, key=lambda label: (self.seen[label], label))
        split = "train" if self.train[rarest] + 1 <= self.share * (self.seen[rarest] + 1) + (1 - self.share) else "test"
        self.seen.update(keys)
        if split == "train":
            self.train.update(keys)
        return split


def generate_corpus(
    root: str | Path,
    n_s1: int,
    n_s2: int,
    seed: int = DEFAULT_SEED,
    *,
    cloud_rate: float = CLOUD_RATE,
    mix: dict[str, dict[str, float]] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    workers: int = 0,
) -> dict:
    """Write a **simulated** CrisisLandMark corpus of ``n_s1`` + ``n_s2`` patches to ``root`` (chapters 0-2).

    ``workers`` > 0 renders patches in that many separate processes while this one writes (the
    files are the same: every patch has its own random stream and the writer keeps the plan's
    order); 0 does everything here. Returns a summary: sizes,
    seed, generator version, patches per split, label counts per modality.

    Raises:
        ValueError: for bad sizes, mix or workers; FileExistsError (from the writer) if ``root``
        holds a corpus and ``overwrite`` is false.
    """
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if n_s1 < 0 or n_s2 < 0 or n_s1 + n_s2 == 0:
        raise ValueError(f"a corpus needs at least one patch and no negative count: got {n_s1} S1 and {n_s2} S2 patches")
    if not 0.0 <= cloud_rate <= 1.0:
        raise ValueError(f"the cloud rate is a share of S2 patches between 0 and 1, got {cloud_rate}")
    plans = plan_corpus(n_s1, n_s2, seed, mix)
    splitters = {"s1": SplitAssigner(), "s2": SplitAssigner()}
    labels: dict[str, Counter[str]] = {"s1": Counter(), "s2": Counter()}
    splits: Counter[str] = Counter()
    render = partial(make_patch, seed=seed, cloud_rate=cloud_rate)
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(CorpusWriter(root, overwrite=overwrite))
        patches: Iterator[Patch]
        if workers > 0:
            patches = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers)).imap(render, plans, chunksize=8)
        else:
            patches = map(render, plans)
        bar = tqdm(zip(plans, patches), total=len(plans), desc="simulating patches", unit="patch", disable=not progress)
        for plan, patch in bar:
            split = splitters[plan.modality].assign(patch.labels)
            writer.add(patch, shard=plan.source, split=split, source=plan.source)
            labels[plan.modality].update(patch.labels)
            splits[split] += 1
    return {
        "root": str(root),
        "simulated": True,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "n_s1": n_s1,
        "n_s2": n_s2,
        "cloud_rate": cloud_rate,
        "splits": dict(sorted(splits.items())),
        "labels": {m: {label: labels[m][label] for label in VOCABULARY if labels[m][label]} for m in labels},
    }


_DONE_FILE = "simulation.json"


def sample_corpus(mode: str | None = None, seed: int = DEFAULT_SEED, progress: bool = True) -> Path:
    """Return the folder of the cached simulated corpus of scale ``mode``, generating it once (chapters 0-6).

    The size comes from :func:`closp_lite.config.settings` (``n_s1``, ``n_s2``); the corpus lives
    in ``closp_lite.config.data_dir() / "simulated"`` and is reused while the generator version,
    seed and sizes stay the same.

    Raises:
        ValueError: in ``full`` mode, which uses the real corpus (``closp-lite data download``).
    """
    scale = settings(mode)
    if scale.n_s1 is None or scale.n_s2 is None:
        raise ValueError(
            f"mode {scale.mode!r} uses the real CrisisLandMark corpus, not a simulated one: "
            "download it with `closp-lite data download` or set CLOSP_LITE_MODE=sample"
        )
    root = data_dir() / "simulated" / f"{scale.mode}-{scale.n_s1}x{scale.n_s2}-seed{seed}-v{GENERATOR_VERSION}"
    done = root / _DONE_FILE
    if done.is_file():
        return root
    if root.exists():  # an interrupted run: start again
        shutil.rmtree(root)
    # Big corpora render in two processes (measured ~25% faster on 2 cores than one process,
    # benchmarks/simulate_speed.py); small ones are not worth starting processes.
    workers = 2 if scale.n_s1 + scale.n_s2 >= 1000 and (os.cpu_count() or 1) >= 2 else 0
    summary = generate_corpus(root, scale.n_s1, scale.n_s2, seed, progress=progress, workers=workers)
    done.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return root
