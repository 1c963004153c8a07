"""Caption audit of the bundled simulated sample corpus (``data_samples/``), one row per style.

    .venv/bin/python benchmarks/caption_audit.py [--root data_samples] [--seed 42]

Captions are generated in memory (the bundled folder is not modified) with
:func:`closp_lite.captions.caption_table` and audited with :func:`closp_lite.captions.audit_table`.
Writes ``benchmarks/results/caption_audit.csv`` (the table) and ``caption_audit.json`` (the
table with the command, machine and date), which chapter 4 reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

from closp_lite.captions import audit_table, caption_table
from closp_lite.config import DEFAULT_SEED
from closp_lite.data.format import CrisisLandMark
from closp_lite.simulate.samples import default_samples_dir


def main() -> None:
    """Audit every caption style on the sample corpus and write the result files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_samples_dir(), help="corpus folder (default: data_samples/)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    with CrisisLandMark(args.root) as corpus:
        metadata = corpus.metadata
    table = audit_table(caption_table(args.root, seed=args.seed), metadata)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.round(4).to_csv(RESULTS / "caption_audit.csv")
    write_result("caption_audit", {
        "corpus": str(args.root.name),
        "simulated": True,
        "patches": len(metadata),
        "seed": args.seed,
        "styles": table.round(4).to_dict(orient="index"),
    })
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
