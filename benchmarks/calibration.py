"""Calibration of the scene simulator against real Sentinel data and published values.

    .venv/bin/python benchmarks/calibration.py [--seeds 8] [--n 200]

Three comparisons, written to ``benchmarks/results/calibration.csv`` (one row per class, band
and comparison), ``calibration.md`` (the same as tables, for the book) and ``calibration.json``
(summary with the command, machine and date):

1. **Real BigEarthNet examples** (6 S1 + S2 pairs shipped with ``bigearthnet-common``, read
   through :func:`closp_lite.data.load_examples`; CORINE labels harmonized by :func:`closp_lite.labels.harmonize`). Real
   patches have patch-level CORINE labels, not pixel maps, so pixels are assigned to a Dynamic
   World class by a transparent rule: the index cover type of the pixel
   (:func:`closp_lite.physics.optical.index_cover`) decides, among the patch's harmonized labels,
   when exactly one label fits it (water pixels -> Water; vegetated pixels -> the one vegetated
   label; snow pixels -> Snow and Ice, as seasonal snow in winter). Ambiguous pixels are left out.
   S1 pixels take the class of the co-registered S2 pixel of the pair. The *same rule* is applied
   to simulated scenes of the same region, date and labels (plus the seasonal snow share seen in
   the real image), and the class means are compared.
2. **Published dataset means**: the BigEarthNet S2 band means and S1 VV/VH means published by the
   BigEarthNet team (TU Berlin RSiM, bigearthnet-models-tf; BigEarthNet-MM) against a simulated
   land-cover corpus (``sim_benv2s1``/``sim_benv2s2``, without clouds and without snow patches,
   which the BigEarthNet team flags and recommends dropping).
3. **Published typical backscatter** per class (indicative ranges from the literature) against the
   simulator's class medians.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

from closp_lite.data.bands import S1_BANDS, S2_BANDS
from closp_lite.labels import DW_CLASSES
from closp_lite.physics.optical import index_cover, to_reflectance
from closp_lite.simulate import simulate_scene
from closp_lite.simulate.corpus import make_patch, plan_corpus
from closp_lite.simulate.geography import LANDCOVER_REGIONS

VEGETATION = {"Trees", "Crops", "Grass", "Shrub and Scrub", "Flooded Vegetation"}
# Which Dynamic World labels an index cover type can stand for.
COVER_CANDIDATES = {
    "Water": {"Water"},
    "Snow": {"Snow and Ice"},
    "Dense vegetation": VEGETATION,
    "Sparse vegetation": VEGETATION,
    "Bare or built": {"Bare", "Built"},
}

# BigEarthNet band statistics published by the BigEarthNet team (Sumbul et al. 2019; TU Berlin
# RSiM, bigearthnet-models-tf) for S2 and BigEarthNet-MM (Sumbul et al. 2021) for S1.
PUBLISHED_BEN_S2_MEAN = (340.77, 429.94, 614.22, 590.24, 950.68, 1792.46, 2075.47, 2218.95, 2266.46, 2246.06, 1594.43, 1009.33)
PUBLISHED_BEN_S1_MEAN = (-12.62, -19.29)

# Indicative C-band (VV, VH) ranges in dB at 30-45 degrees: Sentinel-1 User Guide (ESA); Ulaby &
# Long (2014), Microwave Radar and Radiometric Remote Sensing, ch. 10-11; Twele et al. (2016),
# Int. J. Remote Sens. 37(13) (open water below about -18 dB VV); Dostalova et al. (2021),
# Remote Sens. 13(3) (forests roughly -6 to -11 dB VV, -12 to -16 dB VH).
PUBLISHED_S1_RANGES = {
    "Water": ((-26.0, -18.0), (-32.0, -23.0)),
    "Trees": ((-11.0, -6.0), (-16.0, -12.0)),
    "Crops": ((-14.0, -8.0), (-22.0, -14.0)),
    "Grass": ((-14.0, -9.0), (-21.0, -15.0)),
    "Built": ((-8.0, 2.0), (-15.0, -8.0)),
    "Bare": ((-18.0, -11.0), (-26.0, -18.0)),
    "Flooded Vegetation": ((-9.0, -3.0), (-19.0, -13.0)),
}


def assign_classes(s2_dn: np.ndarray, labels: set[str]) -> dict[str, np.ndarray]:
    """Pixel masks per Dynamic World class: the cover type decides when exactly one label fits."""
    found: dict[str, np.ndarray] = {}
    for cover, where in index_cover(to_reflectance(s2_dn)).items():
        candidates = COVER_CANDIDATES[cover] & (labels | {"Snow and Ice"} if cover == "Snow" else labels)
        if len(candidates) == 1:
            name = next(iter(candidates))
            found[name] = found.get(name, np.zeros_like(where)) | where
    return found


def nearest_region(lon: float, lat: float) -> str:
    """The land-cover region whose box centre is nearest (in degrees) to (lon, lat)."""
    centres = [(np.hypot(np.mean(r.lon) - lon, np.mean(r.lat) - lat), r.name) for r in LANDCOVER_REGIONS]
    return min(centres)[1]


def real_examples() -> list[dict]:
    """The 6 real S1 + S2 pairs shipped with ``bigearthnet-common``, read through the library.

    ``closp_lite.data.load_examples`` converts them to the CrisisLandMark format (20 m and 60 m
    bands resampled bilinearly to 10 m); ``example_pairs`` keeps the S1/S2 pairing.
    """
    from closp_lite.data import CrisisLandMark, example_pairs, load_examples, lonlat
    from closp_lite.labels import harmonize

    root = load_examples()
    pairs = []
    with CrisisLandMark(root) as corpus:
        for s1_key, s2_key in example_pairs(root):
            s1, s2 = corpus.read(s1_key), corpus.read(s2_key)
            harmonized = harmonize(s2.labels)
            if harmonized.unmapped:
                raise ValueError(f"example {s2_key}: labels {harmonized.unmapped} could not be harmonized")
            lon, lat = lonlat(s2)
            pairs.append({"key": s2_key, "s1": s1.image, "s2": s2.image, "lon": lon, "lat": lat,
                          "labels": set(harmonized.labels) & set(DW_CLASSES),
                          "date": dt.date.fromisoformat(str(s2.timestamp)[:10])})  # fmt: skip
    return pairs


def class_means(s2: np.ndarray, s1: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, dict]:
    """Mean S2 bands and median S1 dB of every class mask."""
    return {
        name: {"pixels": int(m.sum()), "s2": s2[:, m], "s1": s1[:, m]}
        for name, m in masks.items()
        if m.sum() > 0
    }


def _composition(pair: dict) -> dict[str, float]:
    """Equal shares of the pair's labels, plus its seasonal snow (CORINE labels never mention it)."""
    snow = float(index_cover(to_reflectance(pair["s2"]))["Snow"].mean())
    shares = dict.fromkeys(pair["labels"], (1 - snow) / len(pair["labels"]))
    return shares | ({"Snow and Ice": snow} if snow >= 0.05 else {})


def compare_examples(pairs: list[dict], seeds: int) -> list[dict]:
    """Rows comparing real and simulated class means, pooled over the examples."""
    pools: dict[str, dict[str, list]] = defaultdict(lambda: {"real_s2": [], "real_s1": [], "sim_s2": [], "sim_s1": []})
    for pair in pairs:
        for name, got in class_means(pair["s2"], pair["s1"], assign_classes(pair["s2"], pair["labels"])).items():
            pools[name]["real_s2"].append(got["s2"])
            pools[name]["real_s1"].append(got["s1"])
        region = nearest_region(pair["lon"], pair["lat"])
        for seed in range(seeds):
            scene = simulate_scene(region, date=pair["date"], fractions=_composition(pair), seed=seed)
            for name, got in class_means(scene.s2, scene.s1, assign_classes(scene.s2, pair["labels"])).items():
                pools[name]["sim_s2"].append(got["s2"])
                pools[name]["sim_s1"].append(got["s1"])
    rows = []
    for name, pool in sorted(pools.items()):
        if not pool["real_s2"] or not pool["sim_s2"]:
            continue
        real_s2, sim_s2 = np.concatenate(pool["real_s2"], 1), np.concatenate(pool["sim_s2"], 1)
        real_s1, sim_s1 = np.concatenate(pool["real_s1"], 1), np.concatenate(pool["sim_s1"], 1)
        for b, band in enumerate(S2_BANDS):
            rows.append(_row("real examples", name, band, real_s2[b].mean(), sim_s2[b].mean(), "reflectance x 10,000",
                             "BigEarthNet examples (bigearthnet-common 2.8.0)", real_s2.shape[1]))  # fmt: skip
        for b, band in enumerate(S1_BANDS):
            rows.append(_row("real examples", name, band, np.median(real_s1[b]), np.median(sim_s1[b]), "dB (median)",
                             "BigEarthNet examples (bigearthnet-common 2.8.0)", real_s1.shape[1]))  # fmt: skip
    return rows


def compare_dataset_means(n: int) -> list[dict]:
    """Rows comparing published BigEarthNet band means with a cloud-free simulated land-cover corpus."""
    plans = [p for p in plan_corpus(n, n, seed=7) if p.source in ("sim_benv2s1", "sim_benv2s2")]
    images = defaultdict(list)
    for plan in plans:
        patch = make_patch(plan, seed=7, cloud_rate=0.0)
        if "Snow and Ice" not in patch.labels:  # the BigEarthNet recommended subset drops seasonal snow
            images[plan.modality].append(patch.image.mean(axis=(1, 2)))
    s2, s1 = np.mean(images["s2"], axis=0), np.mean(images["s1"], axis=0)
    reference = "BigEarthNet band statistics (Sumbul et al. 2019, 2021)"
    rows = [_row("published dataset means", "all", band, PUBLISHED_BEN_S2_MEAN[b], s2[b], "reflectance x 10,000", reference, len(images["s2"]))
            for b, band in enumerate(S2_BANDS)]  # fmt: skip
    rows += [_row("published dataset means", "all", band, PUBLISHED_BEN_S1_MEAN[b], s1[b], "dB (mean)", reference, len(images["s1"]))
             for b, band in enumerate(S1_BANDS)]  # fmt: skip
    return rows


def compare_typical_backscatter(seeds: int) -> list[dict]:
    """Rows: the simulator's class medians against indicative published ranges (the range centre is the reference)."""
    rows = []
    for name, ranges in PUBLISHED_S1_RANGES.items():
        values = [[], []]
        for seed in range(seeds):
            region = LANDCOVER_REGIONS[seed % len(LANDCOVER_REGIONS)].name
            scene = simulate_scene(region, season="summer", fractions={name: 1.0}, seed=seed)
            for b in range(2):
                values[b].append(scene.s1[b][scene.mask == DW_CLASSES.index(name)])
        for b, band in enumerate(S1_BANDS):
            low, high = ranges[b]
            simulated = float(np.median(np.concatenate(values[b])))
            row = _row("published typical backscatter", name, band, (low + high) / 2, simulated, "dB (median)",
                       "ESA S1 User Guide; Ulaby & Long 2014; Twele et al. 2016; Dostalova et al. 2021", 0)  # fmt: skip
            row["published_range"] = f"{low:g} to {high:g}"
            row["within_range"] = low <= simulated <= high
            rows.append(row)
    return rows


def _row(comparison: str, name: str, band: str, reference: float, simulated: float, unit: str, source: str, n: int) -> dict:
    reference, simulated = float(reference), float(simulated)
    relative = (simulated - reference) / abs(reference) if "reflectance" in unit else None
    return {
        "comparison": comparison,
        "class": name,
        "band": band,
        "reference": round(reference, 2),
        "simulated": round(simulated, 2),
        "difference": round(simulated - reference, 2),
        "relative_difference": None if relative is None else round(relative, 3),
        "unit": unit,
        "reference_source": source,
        "n": n,
    }


def write_tables(rows: list[dict]) -> tuple[Path, Path]:
    """Write calibration.csv and calibration.md (one table per comparison)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    fields = ["comparison", "class", "band", "reference", "simulated", "difference", "relative_difference", "unit",
              "published_range", "within_range", "reference_source", "n"]  # fmt: skip
    csv_path = RESULTS / "calibration.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "# Simulator calibration: simulated patches against real and published values",
        "",
        "Written by `benchmarks/calibration.py` (method in its docstring). *Reference* is the real or",
        "published value, *simulated* the same quantity measured on **simulated** scenes.",
        "",
    ]
    for comparison in dict.fromkeys(r["comparison"] for r in rows):
        chosen = [r for r in rows if r["comparison"] == comparison]
        ranged = "published_range" in chosen[0]
        extra = " published range | within |" if ranged else ""
        lines += [f"## {comparison}", "", f"| class | band | reference | simulated | difference | unit |{extra}",
                  "|---|---|---|---|---|---|" + ("---|---|" if ranged else "")]  # fmt: skip
        for r in chosen:
            tail = f" {r['published_range']} | {'yes' if r['within_range'] else 'no'} |" if ranged else ""
            lines.append(f"| {r['class']} | {r['band']} | {r['reference']} | {r['simulated']} | {r['difference']} | {r['unit']} |{tail}")
        lines += ["", f"Source: {chosen[0]['reference_source']}.", ""]
    md_path = RESULTS / "calibration.md"
    md_path.write_text("\n".join(lines))
    return csv_path, md_path


def summarise(rows: list[dict]) -> dict:
    """Median absolute relative S2 error and median absolute S1 dB error per comparison."""
    summary = {}
    for comparison in dict.fromkeys(r["comparison"] for r in rows):
        chosen = [r for r in rows if r["comparison"] == comparison]
        s2 = [abs(r["relative_difference"]) for r in chosen if r["relative_difference"] is not None]
        s1 = [abs(r["difference"]) for r in chosen if r["band"] in S1_BANDS]
        summary[comparison] = {
            "median_abs_relative_error_s2": round(float(np.median(s2)), 3) if s2 else None,
            "median_abs_error_s1_db": round(float(np.median(s1)), 2) if s1 else None,
            "classes": sorted({r["class"] for r in chosen}),
        }
    return summary


def main() -> None:
    """Run the three comparisons and write the result files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8, help="simulated scenes per real example and per class")
    parser.add_argument("--n", type=int, default=200, help="simulated patches per modality for the dataset means")
    args = parser.parse_args()
    rows = compare_examples(real_examples(), args.seeds) + compare_dataset_means(args.n) + compare_typical_backscatter(args.seeds)
    paths = write_tables(rows)
    summary = summarise(rows)
    print(summary)
    print(write_result("calibration", {"summary": summary, "tables": [str(p.relative_to(RESULTS.parent.parent)) for p in paths]}))


if __name__ == "__main__":
    main()
