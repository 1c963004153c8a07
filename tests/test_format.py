"""Tests of the CrisisLandMark file format: writer, reader, queries, qrels, captions, lonlat."""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from closp_lite.data.format import (
    MASTER,
    METADATA,
    CorpusWriter,
    CrisisLandMark,
    Patch,
    lonlat,
    parse_crs,
    read_captions,
    read_qrels,
    read_queries,
    source_of_shard,
    write_captions,
    write_qrels,
    write_queries,
)


def test_round_trip_is_bit_exact(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, patches = tiny_corpus
    with CrisisLandMark(root) as corpus:
        assert len(corpus) == 6 and corpus.keys() == [p.key for p in patches] and "s1_0" in corpus
        assert "nope" not in corpus
        for patch in patches:
            got = corpus.read(patch.key)
            assert got.image.tobytes() == patch.image.tobytes() and got.coords.tobytes() == patch.coords.tobytes()
            assert got.labels == patch.labels and got.crs == patch.crs and got.timestamp == patch.timestamp
            assert (got.mask is None) == (patch.mask is None)
            if patch.mask is not None:
                assert np.array_equal(got.mask, patch.mask) and got.mask.dtype == np.uint8
            assert got.modality == patch.modality
        meta = corpus.metadata.set_index("key")
        assert meta.loc["s1_2", "modality"] == "s1" and meta.loc["s2_0", "split"] == "train"
        assert meta.loc["s2_1", "source"] == "tinys2" and meta.loc["s2_0", "labels"] == patches[0].labels


def test_master_is_made_of_external_links(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, patches = tiny_corpus
    with h5py.File(root / MASTER) as master:
        link = master.get("s1_0", getlink=True)
        assert isinstance(link, h5py.ExternalLink) and link.filename == "tinys1.h5"
        assert master["s2_2"]["image"].shape == (12, 120, 120)  # followed through the link
        assert sorted(master) == sorted(p.key for p in patches)
    assert sorted(p.name for p in root.iterdir()) == [MASTER, METADATA, "tinys1.h5", "tinys2.h5"]


def test_writer_rejects_bad_patches(tmp_path: Path, make_patch) -> None:
    with CorpusWriter(tmp_path / "c") as writer:
        writer.add(make_patch("a"), shard="x")
        with pytest.raises(ValueError, match="duplicate key"):
            writer.add(make_patch("a"), shard="y")
        bad = make_patch("b")
        bad.image = bad.image.astype(np.float64)
        with pytest.raises(ValueError, match="'b'.*float32"):
            writer.add(bad, shard="x")
        bad = make_patch("c")
        bad.image = bad.image[:5]
        with pytest.raises(ValueError, match="'c'.*shape"):
            writer.add(bad, shard="x")
        bad = make_patch("d")
        bad.coords = bad.coords[:, :60]
        with pytest.raises(ValueError, match="'d'.*coords"):
            writer.add(bad, shard="x")
        with pytest.raises(ValueError, match="split"):
            writer.add(make_patch("e"), shard="x", split="val")
        bad = make_patch("f")
        bad.labels = "Pastures"  # a string, not a list
        with pytest.raises(ValueError, match="'f'.*labels"):
            writer.add(bad, shard="x")


def test_interrupted_write_leaves_no_corpus(tmp_path: Path, make_patch) -> None:
    root = tmp_path / "c"
    with pytest.raises(RuntimeError), CorpusWriter(root) as writer:
        writer.add(make_patch("a"), shard="x")
        raise RuntimeError("power cut")
    assert list(root.iterdir()) == []
    with pytest.raises(FileNotFoundError, match=METADATA):
        CrisisLandMark(root)


def test_overwrite_replaces_only_the_old_corpus(tiny_corpus: tuple[Path, list[Patch]], make_patch) -> None:
    root, _ = tiny_corpus
    (root / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite"), CorpusWriter(root):
        pass
    with CorpusWriter(root, overwrite=True) as writer:
        writer.add(make_patch("new", "s1"), shard="other")
    assert sorted(p.name for p in root.iterdir()) == [MASTER, METADATA, "notes.txt", "other.h5"]
    with CrisisLandMark(root) as corpus:
        assert corpus.keys() == ["new"] and corpus.read("new").modality == "s1"


def test_official_layout_without_extra_columns(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, patches = tiny_corpus
    for old, new in (("tinys1.h5", "mmflood.h5"), ("tinys2.h5", "benv2s2_part2.h5")):
        (root / old).rename(root / new)
    table = pd.read_parquet(root / METADATA)[["key", "split", "labels"]]
    table.to_parquet(root / METADATA)
    with h5py.File(root / MASTER, "w") as master:
        for p in patches:
            master[p.key] = h5py.ExternalLink("mmflood.h5" if p.modality == "s1" else "benv2s2_part2.h5", f"/{p.key}")
    with CrisisLandMark(root) as corpus:
        meta = corpus.metadata.set_index("key")
        assert meta.loc["s1_0", "source"] == "mmflood" and meta.loc["s2_0", "source"] == "benv2s2"
        assert meta.loc["s1_0", "modality"] == "s1" and meta.loc["s2_1", "modality"] == "s2"
        assert np.array_equal(corpus.read("s2_1").image, patches[1].image)
    assert source_of_shard("benv2s1_part4.h5") == "benv2s1" and source_of_shard("cabuar") == "cabuar"


def _read_in_child(corpus: CrisisLandMark, key: str, queue: multiprocessing.Queue) -> None:
    queue.put(float(corpus.read(key).image.sum()))


def test_reader_survives_fork_and_pickle(tiny_corpus: tuple[Path, list[Patch]]) -> None:
    root, _ = tiny_corpus
    corpus = CrisisLandMark(root)
    expected = float(corpus.read("s2_0").image.sum())  # opens a handle in the parent
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_in_child, args=(corpus, "s2_0", queue))
    child.start()
    child.join(30)
    assert child.exitcode == 0 and queue.get(timeout=5) == expected
    clone = pickle.loads(pickle.dumps(corpus))
    assert float(clone.read("s2_0").image.sum()) == expected
    corpus.close()
    clone.close()


def test_same_patches_give_identical_files(tmp_path: Path, corpus_writer) -> None:
    corpus_writer(tmp_path / "a")
    corpus_writer(tmp_path / "b")
    for name in (MASTER, METADATA, "tinys1.h5", "tinys2.h5"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_lonlat_of_the_centre_pixel(make_patch) -> None:
    patch = make_patch("a")
    lon, lat = lonlat(patch)
    assert 16.3 < lon < 16.5 and 48.1 < lat < 48.3  # UTM 33N (600,605 E, 5,339,405 N) is near Vienna
    patch.coords[0, 60, 60] += 10_000  # 10 km east
    assert lonlat(patch)[0] - lon == pytest.approx(0.134, abs=0.01)
    with pytest.raises(ValueError, match="'b'.*EPSG:99999"):
        lonlat(make_patch("b", crs=99999))


def test_queries_round_trip_and_other_field_names(tmp_path: Path) -> None:
    write_queries(tmp_path, [{"id": 1, "text": "crops. water", "labels": ["Crops", "Water"]}, {"id": "q2", "text": "trees"}])
    queries = read_queries(tmp_path)
    assert queries == [{"id": "1", "text": "crops. water", "labels": ["Crops", "Water"]}, {"id": "q2", "text": "trees"}]
    (tmp_path / "beir.jsonl").write_text('{"_id": "a", "query": "flooded area", "metadata": {}}\n\n')
    assert read_queries(tmp_path / "beir.jsonl") == [{"id": "a", "text": "flooded area", "metadata": {}}]
    (tmp_path / "bad.jsonl").write_text('{"name": "x"}\n')
    with pytest.raises(ValueError, match="bad.jsonl, line 1"):
        read_queries(tmp_path / "bad.jsonl")
    with pytest.raises(ValueError, match="duplicate"):
        write_queries(tmp_path, [{"id": 1, "text": "a"}, {"id": "1", "text": "b"}])
    with pytest.raises(FileNotFoundError):
        read_queries(tmp_path / "missing")


def test_qrels_trec_and_beir(tmp_path: Path) -> None:
    qrels = {"q1": {"s2_0": 2, "s1_1": 1}, "q2": {"s2_1": 0}}
    path = write_qrels(tmp_path, qrels)
    assert path == tmp_path / "qrels" / "test.txt"
    assert path.read_text().splitlines()[0] == "q1 0 s2_0 2"
    assert read_qrels(tmp_path) == qrels and read_qrels(path) == qrels and read_qrels(tmp_path / "qrels") == qrels
    (tmp_path / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq9\tk1\t1\n")
    assert read_qrels(tmp_path, name="dev") == {"q9": {"k1": 1}}
    with pytest.raises(FileNotFoundError, match="dev.tsv, test.txt"):
        read_qrels(tmp_path)  # two files and no name
    with pytest.raises(ValueError, match="relevance"):
        write_qrels(tmp_path, {"q": {"d": 0.5}})


def test_captions_round_trip(tmp_path: Path) -> None:
    assert read_captions(tmp_path) is None
    table = pd.DataFrame({"key": ["a", "b"], "template": ["fields", "a lake"]})
    write_captions(tmp_path, table)
    pd.testing.assert_frame_equal(read_captions(tmp_path), table)
    with pytest.raises(ValueError, match="duplicate key 'a'"):
        write_captions(tmp_path, pd.DataFrame({"key": ["a", "a"], "template": ["x", "y"]}))


def test_parse_crs() -> None:
    assert parse_crs(32633) == parse_crs("EPSG:32633") == parse_crs(b"32633") == parse_crs(np.int64(32633)) == 32633
    with pytest.raises(ValueError, match="not an EPSG code"):
        parse_crs("UTM 33N")
