"""The bundled sample corpus ``data_samples/``: a small **simulated** corpus with a manifest (chapter 0).

``closp-lite data samples`` rebuilds it; ``closp-lite data samples --check`` regenerates it in a
temporary folder and compares every file's sha256 with ``MANIFEST.json``. The files are
byte-deterministic, so a match means the committed corpus is exactly what this code generates.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import closp_lite
from closp_lite.config import DEFAULT_SEED
from closp_lite.data.checksum import sha256_of
from closp_lite.data.format import atomic_path, corpus_files
from closp_lite.simulate.corpus import GENERATOR_VERSION, generate_corpus

SAMPLES_SEED = DEFAULT_SEED
SAMPLES_N_S1 = 20
SAMPLES_N_S2 = 20
MANIFEST = "MANIFEST.json"


def default_samples_dir() -> Path:
    """Return the repository's ``data_samples/`` folder (next to the ``closp_lite`` package) (chapter 0)."""
    return Path(closp_lite.__file__).resolve().parent.parent / "data_samples"


def _corpus_files(root: Path) -> dict[str, dict[str, int | str]]:
    return {name: {"sha256": sha256_of(root / name), "bytes": (root / name).stat().st_size} for name in sorted(corpus_files(root))}


def _generate(root: Path, overwrite: bool = False) -> dict:
    """Write the sample corpus into ``root`` (replacing its corpus if ``overwrite``) and return its manifest."""
    summary = generate_corpus(root, SAMPLES_N_S1, SAMPLES_N_S2, SAMPLES_SEED, progress=False, overwrite=overwrite)
    return {
        "description": (
            "SIMULATED data: synthetic Sentinel-1 and Sentinel-2 patches from the closp_lite scene "
            "simulator in the CrisisLandMark layout. Not real satellite images."
        ),
        "simulated": True,
        "command": "closp-lite data samples",
        "generator": "closp_lite.simulate",
        "generator_version": GENERATOR_VERSION,
        "seed": SAMPLES_SEED,
        "n_s1": SAMPLES_N_S1,
        "n_s2": SAMPLES_N_S2,
        "splits": summary["splits"],
        "labels": summary["labels"],
        "files": _corpus_files(root),
    }


def write_samples(root: str | Path | None = None, overwrite: bool = False) -> dict:
    """(Re)build the simulated sample corpus in ``root`` (default :func:`default_samples_dir`) with its manifest (chapter 0).

    Only the corpus files and ``MANIFEST.json`` are written; any other file in ``root`` stays.
    Returns the manifest that was written to ``root / MANIFEST.json``.

    Raises:
        FileExistsError: if ``root`` already holds a sample corpus (or any corpus) and ``overwrite`` is false.
    """
    root = Path(root) if root is not None else default_samples_dir()
    if (root / MANIFEST).exists() and not overwrite:
        raise FileExistsError(f"{root} already holds a sample corpus ({MANIFEST}); pass --overwrite to rebuild it")
    manifest = _generate(root, overwrite=overwrite)
    with atomic_path(root / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def check_samples(root: str | Path | None = None) -> list[str]:
    """Compare a sample corpus with its manifest and with a fresh regeneration; return the problems (chapter 0).

    An empty list means: every file listed in ``MANIFEST.json`` is present with the listed sha256,
    and regenerating with the manifest's generator version and seed gives the same bytes.

    Raises:
        FileNotFoundError: if ``root`` has no ``MANIFEST.json`` (rebuild with ``closp-lite data samples``).
    """
    root = Path(root) if root is not None else default_samples_dir()
    path = root / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: build the sample corpus with `closp-lite data samples`")
    manifest = json.loads(path.read_text())
    problems = []
    if manifest.get("generator_version") != GENERATOR_VERSION or manifest.get("seed") != SAMPLES_SEED:
        problems.append(
            f"manifest is for generator {manifest.get('generator_version')} seed {manifest.get('seed')}, "
            f"this code is generator {GENERATOR_VERSION} seed {SAMPLES_SEED}: rebuild with `closp-lite data samples`"
        )
    problems += _compare("on disk", manifest["files"], _corpus_files(root))
    with tempfile.TemporaryDirectory(prefix="closp_samples_") as tmp:
        fresh = _generate(Path(tmp) / "corpus")
    problems += _compare("regenerated", manifest["files"], fresh["files"])
    return problems


def _compare(what: str, expected: dict, found: dict) -> list[str]:
    problems = [f"{what}: {name} is missing" for name in sorted(set(expected) - set(found))]
    problems += [f"{what}: {name} is not in the manifest" for name in sorted(set(found) - set(expected))]
    problems += [
        f"{what}: {name} has sha256 {found[name]['sha256'][:12]}..., manifest says {expected[name]['sha256'][:12]}..."
        for name in sorted(set(expected) & set(found))
        if found[name]["sha256"] != expected[name]["sha256"]
    ]
    return problems
