"""Calibration of the scene simulator against real Sentinel data and published values.

    .venv/bin/python benchmarks/calibration.py [--seeds 8] [--n 200]

Four comparisons, written to ``benchmarks/results/calibration.csv`` (one row per class, band,
season and comparison), ``calibration.md`` (the same as tables, for the book) and
``calibration.json`` (summary with the command, machine and date). The reference values and their
citations live in ``benchmarks/reference/calibration_references.json``.

0. **Held-aside label medians** (the headline figure of issue 10): per Dynamic World label, the
   median over patches carrying the label of each patch's median, for real BigEarthNet patches
   kept aside by the issue's author, against the same statistic over a cloud-free simulated
   land-cover corpus (``sim_benv2s2``) without snow patches (BigEarthNet dropped them). The
   same statistic per season (December-February winter, ...) shows how far the season moves it;
   only all-season real values exist, so the seasonal rows set the season's simulated value
   beside the all-season reference.
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
import json
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
from closp_lite.simulate.scene import counterpart_scene

VEGETATION = {"Trees", "Crops", "Grass", "Shrub and Scrub", "Flooded Vegetation"}
# Which Dynamic World labels an index cover type can stand for.
COVER_CANDIDATES = {
    "Water": {"Water"},
    "Snow": {"Snow and Ice"},
    "Dense vegetation": VEGETATION,
    "Sparse vegetation": VEGETATION,
    "Bare or built": {"Bare", "Built"},
}

REFERENCES = json.loads((Path(__file__).resolve().parent / "reference" / "calibration_references.json").read_text())
HELD_ASIDE = REFERENCES["held_aside_label_medians"]
PUBLISHED_MEANS = REFERENCES["bigearthnet_band_means"]
PUBLISHED_S1_RANGES = REFERENCES["s1_typical_ranges_db"]
SEASONS = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
           6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}  # fmt: skip


def assign_classes(s2_dn: np.ndarray, labels: set[str]) -> dict[str, np.ndarray]:
    """Pixel masks per Dynamic World class: the cover type decides when exactly one label fits."""
    found: dict[str, np.ndarray] = {}
    for cover, where in index_cover(to_reflectance(s2_dn)).items():
        candidates = COVER_CANDIDATES[cover] & (labels | {"Snow and Ice"} if cover == "Snow" else labels)
        if len(candidates) == 1:
            name = next(iter(candidates))
            found[name] = found.get(name, np.zeros_like(where)) | where
    return found


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


def _snow_share(pair: dict) -> float:
    """The seasonal snow seen in the real image (CORINE labels never mention it); below 5 % it is ignored."""
    snow = float(index_cover(to_reflectance(pair["s2"]))["Snow"].mean())
    return snow if snow >= 0.05 else 0.0


def compare_examples(pairs: list[dict], seeds: int) -> list[dict]:
    """Rows comparing real and simulated class means, pooled over the examples."""
    pools: dict[str, dict[str, list]] = defaultdict(lambda: {"real_s2": [], "real_s1": [], "sim_s2": [], "sim_s1": []})
    for pair in pairs:
        for name, got in class_means(pair["s2"], pair["s1"], assign_classes(pair["s2"], pair["labels"])).items():
            pools[name]["real_s2"].append(got["s2"])
            pools[name]["real_s1"].append(got["s1"])
        for seed in range(seeds):
            scene = counterpart_scene(sorted(pair["labels"]), pair["lon"], pair["lat"], pair["date"],
                                      snow_fraction=_snow_share(pair), seed=seed)  # fmt: skip
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
                             "real_examples", real_s2.shape[1]))  # fmt: skip
        for b, band in enumerate(S1_BANDS):
            rows.append(_row("real examples", name, band, np.median(real_s1[b]), np.median(sim_s1[b]), "dB (median)",
                             "real_examples", real_s1.shape[1]))  # fmt: skip
    return rows


def patch_medians(n: int, seed: int = 7) -> list[tuple[list[str], str, np.ndarray]]:
    """(labels, season, per-band median) of the cloud-free, snow-free simulated land-cover S2 patches of an n-patch plan."""
    found = []
    for plan in plan_corpus(0, n, seed=seed):
        if plan.source != "sim_benv2s2":
            continue
        patch = make_patch(plan, seed=seed, cloud_rate=0.0)
        if "Snow and Ice" not in patch.labels:  # BigEarthNet dropped patches with seasonal snow
            season = SEASONS[int(str(patch.timestamp)[5:7])]
            found.append((patch.labels, season, np.median(patch.image.reshape(len(S2_BANDS), -1), axis=1)))
    return found


def compare_held_aside(medians: list[tuple[list[str], str, np.ndarray]]) -> list[dict]:
    """Rows: per label and band, the median of per-patch medians against the held-aside real value, all seasons and per season."""
    rows = []
    for season in ("all", *dict.fromkeys(SEASONS.values())):
        chosen = [m for m in medians if season in ("all", m[1])]
        for name, bands in HELD_ASIDE["values"].items():
            values = np.array([m[2] for m in chosen if name in m[0]])
            for band, reference in bands.items():
                simulated = np.median(values[:, S2_BANDS.index(band)]) if len(values) else np.nan
                comparison = "held-aside label medians" + ("" if season == "all" else " by season")
                rows.append(_row(comparison, name, band, reference, simulated, HELD_ASIDE["unit"], "held_aside_label_medians", len(values), season))
    return rows


def simulated_label_table(medians: list[tuple[list[str], str, np.ndarray]]) -> list[dict]:
    """Rows (no reference): every label's median of per-patch medians per band and season, to read the seasons from."""
    rows = []
    for season in ("all", *dict.fromkeys(SEASONS.values())):
        for name in DW_CLASSES:
            values = np.array([m[2] for m in medians if name in m[0] and season in ("all", m[1])])
            if len(values):
                for b, band in enumerate(S2_BANDS):
                    rows.append(_row("simulated label medians", name, band, np.nan, np.median(values[:, b]),
                                     "reflectance x 10,000", "simulated", len(values), season))  # fmt: skip
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
    reference = "bigearthnet_band_means"
    rows = [_row("published dataset means", "all", band, PUBLISHED_MEANS["s2"][band], s2[b], "reflectance x 10,000", reference, len(images["s2"]))
            for b, band in enumerate(S2_BANDS)]  # fmt: skip
    rows += [_row("published dataset means", "all", band, PUBLISHED_MEANS["s1_db"][band], s1[b], "dB (mean)", reference, len(images["s1"]))
             for b, band in enumerate(S1_BANDS)]  # fmt: skip
    return rows


def compare_typical_backscatter(seeds: int) -> list[dict]:
    """Rows: the simulator's class medians against indicative published ranges (the range centre is the reference)."""
    rows = []
    for name, ranges in PUBLISHED_S1_RANGES["values"].items():
        values = [[], []]
        for seed in range(seeds):
            region = LANDCOVER_REGIONS[seed % len(LANDCOVER_REGIONS)].name
            scene = simulate_scene(region, season="summer", fractions={name: 1.0}, seed=seed)
            for b in range(2):
                values[b].append(scene.s1[b][scene.mask == DW_CLASSES.index(name)])
        for b, band in enumerate(S1_BANDS):
            low, high = ranges[band]
            simulated = float(np.median(np.concatenate(values[b])))
            row = _row("published typical backscatter", name, band, (low + high) / 2, simulated, "dB (median)",
                       "s1_typical_ranges_db", 0)  # fmt: skip
            row["published_range"] = f"{low:g} to {high:g}"
            row["within_range"] = low <= simulated <= high
            rows.append(row)
    return rows


def _row(
    comparison: str, name: str, band: str, reference: float, simulated: float, unit: str, source: str, n: int, season: str = "all"
) -> dict:
    reference, simulated = float(reference), float(simulated)
    relative = (simulated - reference) / abs(reference) if "reflectance" in unit and np.isfinite(reference) else None
    return {
        "comparison": comparison,
        "class": name,
        "band": band,
        "season": season,
        "reference": round(reference, 2),
        "simulated": round(simulated, 2),
        "difference": round(simulated - reference, 2),
        "relative_difference": None if relative is None else round(relative, 3),
        "unit": unit,
        "reference_source": source,
        "n": n,
    }


def write_tables(rows: list[dict]) -> tuple[Path, Path]:
    """Write calibration.csv (every row; ``reference_source`` names an entry of the references file) and calibration.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    fields = ["comparison", "class", "band", "season", "reference", "simulated", "difference", "relative_difference", "unit",
              "published_range", "within_range", "reference_source", "n"]  # fmt: skip
    csv_path = RESULTS / "calibration.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "# Simulator calibration: simulated patches against real and published values",
        "",
        "Written by `benchmarks/calibration.py` (method in its docstring; references and citations in",
        "`benchmarks/reference/calibration_references.json`). *Reference* is the real or published value,",
        "*simulated* the same quantity measured on **simulated** scenes; *relative* = simulated / reference - 1.",
        "",
    ]
    for comparison in dict.fromkeys(r["comparison"] for r in rows):
        chosen = [r for r in rows if r["comparison"] == comparison]
        lines += [f"## {comparison}", ""]
        lines += _wide_table(chosen) if comparison == "simulated label medians" else _long_table(chosen)
        key = chosen[0]["reference_source"]
        source = f"`{key}` in the references file: {REFERENCES[key]['source']}" if key in REFERENCES else "the simulator only"
        lines += ["", f"Source: {source}", ""]
    md_path = RESULTS / "calibration.md"
    md_path.write_text("\n".join(lines))
    return csv_path, md_path


def _long_table(chosen: list[dict]) -> list[str]:
    ranged = "published_range" in chosen[0]
    seasonal = any(r["season"] != "all" for r in chosen)
    head = "| class | band |" + (" season |" if seasonal else "") + " reference | simulated | difference | relative | unit | n |"
    head += " published range | within |" if ranged else ""
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in chosen:
        relative = "" if r["relative_difference"] is None else f"{r['relative_difference']:+.3f}"
        line = f"| {r['class']} | {r['band']} |" + (f" {r['season']} |" if seasonal else "")
        line += f" {r['reference']} | {r['simulated']} | {r['difference']} | {relative} | {r['unit']} | {r['n']} |"
        line += f" {r['published_range']} | {'yes' if r['within_range'] else 'no'} |" if ranged else ""
        lines.append(line)
    return lines


def _wide_table(chosen: list[dict], bands: tuple[str, ...] = ("B2", "B4", "B8", "B11")) -> list[str]:
    """Labels x seasons for a few bands (all 12 bands are in the CSV)."""
    seasons = list(dict.fromkeys(r["season"] for r in chosen))
    value = {(r["class"], r["band"], r["season"]): r["simulated"] for r in chosen}
    head = "| class | band | " + " | ".join(seasons) + " |"
    lines = [head, "|" + "---|" * (len(seasons) + 2)]
    for name in dict.fromkeys(r["class"] for r in chosen):
        for band in bands:
            cells = [f"{value[(name, band, s)]:.0f}" if (name, band, s) in value else "" for s in seasons]
            lines.append(f"| {name} | {band} | " + " | ".join(cells) + " |")
    return lines


def summarise(rows: list[dict]) -> dict:
    """Median absolute relative S2 error and median absolute S1 dB error per comparison (season "all" rows)."""
    summary = {}
    for comparison in dict.fromkeys(r["comparison"] for r in rows):
        chosen = [r for r in rows if r["comparison"] == comparison and r["season"] == "all"]
        s2 = [abs(r["relative_difference"]) for r in chosen if r["relative_difference"] is not None]
        s1 = [abs(r["difference"]) for r in chosen if r["band"] in S1_BANDS]
        if not s2 and not s1:
            continue
        summary[comparison] = {
            "median_abs_relative_error_s2": round(float(np.median(s2)), 3) if s2 else None,
            "max_abs_relative_error_s2": round(float(np.max(s2)), 3) if s2 else None,
            "median_abs_error_s1_db": round(float(np.median(s1)), 2) if s1 else None,
            "classes": sorted({r["class"] for r in chosen}),
        }
    summary["figure_issue_10"] = {
        "s2_median_abs_relative_error_vs_held_aside": summary["held-aside label medians"]["median_abs_relative_error_s2"],
        "s2_target": 0.15,
        "s1_median_abs_error_db_vs_real_examples": summary["real examples"]["median_abs_error_s1_db"],
        "s1_target_db": 1.0,
    }
    return summary


def main() -> None:
    """Run the comparisons and write the result files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8, help="simulated scenes per real example and per class")
    parser.add_argument("--n", type=int, default=200, help="simulated patches per modality for the dataset means")
    parser.add_argument("--n-labels", type=int, default=600, help="simulated S2 patches planned for the label medians")
    args = parser.parse_args()
    medians = patch_medians(args.n_labels)
    rows = compare_held_aside(medians) + compare_examples(real_examples(), args.seeds) + compare_dataset_means(args.n)
    rows += compare_typical_backscatter(args.seeds) + simulated_label_table(medians)
    paths = write_tables(rows)
    summary = summarise(rows)
    print(json.dumps(summary, indent=1))
    print(write_result("calibration", {"summary": summary, "tables": [str(p.relative_to(RESULTS.parent.parent)) for p in paths]}))


if __name__ == "__main__":
    main()
