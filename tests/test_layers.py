"""The data layer is the ground floor: it imports nothing from the floors above it."""

from __future__ import annotations

import re
from pathlib import Path

import closp_lite

PACKAGE = Path(closp_lite.__file__).parent


def _imports(path: Path) -> set[str]:
    return set(re.findall(r"^\s*(?:from|import)\s+(closp_lite[\w.]*)", path.read_text(), flags=re.M))


def test_data_imports_no_captions_plotting_or_statistics() -> None:
    above = ("closp_lite.captions", "closp_lite.plotting", "closp_lite.labels.statistics", "closp_lite.training", "closp_lite.experiments")
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(name for name in _imports(path) if name.startswith(above))
        for path in (PACKAGE / "data").glob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_label_statistics_read_no_files() -> None:
    source = (PACKAGE / "labels" / "statistics.py").read_text()
    assert not {name for name in _imports(PACKAGE / "labels" / "statistics.py") if name.startswith("closp_lite.data")}
    assert "read_parquet" not in source and "CrisisLandMark(" not in source
