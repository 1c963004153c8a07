"""CrisisLandMark data: band conventions, the file format, checks, datasets, examples, download (chapter 0)."""

from closp_lite.data import bands
from closp_lite.data.format import (
    CorpusWriter,
    CrisisLandMark,
    Patch,
    lonlat,
    read_captions,
    read_qrels,
    read_queries,
    write_captions,
    write_qrels,
    write_queries,
)

__all__ = [
    "CorpusWriter",
    "CrisisLandMark",
    "Patch",
    "bands",
    "lonlat",
    "read_captions",
    "read_qrels",
    "read_queries",
    "write_captions",
    "write_qrels",
    "write_queries",
]
