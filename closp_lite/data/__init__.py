"""CrisisLandMark data: band conventions, the file format, checks, datasets, examples, download (chapter 0)."""

from closp_lite.data import bands
from closp_lite.data.datasets import CrisisLandMarkDataset
from closp_lite.data.download import download
from closp_lite.data.examples import example_pairs, load_examples
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
from closp_lite.data.module import CrisisLandMarkDataModule, collate
from closp_lite.data.verify import VerifyReport, verify

__all__ = [
    "CorpusWriter",
    "CrisisLandMark",
    "CrisisLandMarkDataModule",
    "CrisisLandMarkDataset",
    "Patch",
    "VerifyReport",
    "bands",
    "collate",
    "download",
    "example_pairs",
    "load_examples",
    "lonlat",
    "read_captions",
    "read_qrels",
    "read_queries",
    "verify",
    "write_captions",
    "write_qrels",
    "write_queries",
]
