"""Progressive transfer: schedules, warm starts between stages, SAR-TEXT metrics, CLI (chapter 8)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from closp_lite.cli import main
from closp_lite.data.bands import S2_MODEL_BANDS
from closp_lite.data.format import CorpusWriter
from closp_lite.models.closp import CLOSP, ModelConfig, atomic_save
from closp_lite.training import read_log
from closp_lite.transfer import (
    STATE_FILE,
    Pairs,
    TransferConfig,
    optical_to_sar,
    parse_schedule,
    run_schedule,
    sar_text_metrics,
    stage_splits,
)

LABELS = [["Coniferous forest"], ["Water bodies", "Pastures"], ["Discontinuous urban fabric"], ["Non-irrigated arable land"]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 S2 + 10 S1 training patches and 6 S1 test patches, no captions.parquet (captions are written on the fly)."""
    from conftest import _make_patch

    root = tmp_path_factory.mktemp("transfer") / "corpus"
    with CorpusWriter(root) as writer:
        for modality, n_train, n_test in (("s2", 10, 0), ("s1", 10, 6)):
            for i in range(n_train + n_test):
                patch = _make_patch(f"{modality}_{i}", modality, LABELS[i % len(LABELS)], seed=i)
                writer.add(patch, shard=modality, split="train" if i < n_train else "test", source=modality)
    return root


@pytest.fixture(scope="module")
def progressive(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[TransferConfig, Path]:
    config = TransferConfig(schedule="natural,optical,sar", mode="tiny", data=str(corpus), steps=3, batch_size=8, input_size=32, seed=1)
    out = tmp_path_factory.mktemp("runs") / "progressive"
    run_schedule(config, out, progress=False)
    return config, out


def test_schedules_are_checked() -> None:
    assert parse_schedule("natural, optical,sar") == ("natural", "optical", "sar")
    with pytest.raises(ValueError, match="natural,optical,sar"):
        parse_schedule("sar,optical")
    with pytest.raises(ValueError, match="at least 3"):
        TransferConfig(steps=2).resolved()


def test_stage_splits_keep_validation_fixed() -> None:
    pairs = Pairs(torch.zeros(40, 2, 8, 8), [f"t{i}" for i in range(40)], [["a"]] * 40, [f"k{i}" for i in range(40)], "s1")
    full_train, full_val = stage_splits(pairs, seed=3, fraction=1.0)
    small_train, small_val = stage_splits(pairs, seed=3, fraction=0.25)
    assert small_val.keys == full_val.keys and len(full_val) == 4
    assert len(small_train) == 9 and set(small_train.keys) < set(full_train.keys)
    assert not set(full_train.keys) & set(full_val.keys)


def test_sar_text_metrics_by_hand() -> None:
    labels = [["water"], ["forest"], ["forest"], ["crops", "water"]]
    pairs = Pairs(torch.zeros(4, 2, 8, 8), ["w", "f1", "f2", "cw"], labels, ["a", "b", "c", "d"], "s1")
    perfect = np.eye(4)
    metrics = sar_text_metrics(perfect, perfect, pairs)
    assert metrics["mR"] == pytest.approx(100.0)
    # nDCG grades by shared labels: ties rank in corpus order, so "w" finds d (shares "water") 4th, not 2nd.
    idcg = 1 + 1 / np.log2(3)
    by_hand = [(1 + 1 / np.log2(5)) / idcg, 1.5 / idcg, 1.5 / idcg, 1.0]
    assert metrics["nDCG@10"] == pytest.approx(100 * np.mean(by_hand))
    swapped = perfect[[1, 2, 0, 3]]  # images: a looks like "f1", b like "f2", c like "w"
    worse = sar_text_metrics(swapped, perfect, pairs)
    # caption "w" finds image c first (wrong), "f1" finds a (wrong), "f2" finds b (right: same labels), "cw" finds d
    assert worse["R@1"] == pytest.approx(50.0)
    assert worse["R@5"] == pytest.approx(100.0)
    assert worse["mR"] < 100.0


def test_optical_tower_becomes_the_sar_tower(tmp_path: Path) -> None:
    model = CLOSP(ModelConfig(arch="efficientnet_lite0", weights={"s2": "imagenet"})).eval()
    atomic_save(optical_to_sar(model.state_dict()), tmp_path / "init.pt")
    sar = CLOSP(ModelConfig(arch="efficientnet_lite0"))
    sar.warm_start(tmp_path / "init.pt")
    sar.eval()
    assert torch.equal(sar.towers["s1"].proj.weight, model.towers["s2"].proj.weight)
    grey = torch.randn(2, 1, 48, 48)
    s2 = torch.zeros(2, 13, 48, 48)
    s2[:, [S2_MODEL_BANDS.index(b) for b in ("B4", "B3", "B2")]] = grey
    with torch.no_grad():  # backbones: the normalisation statistics stay each modality's own
        assert torch.allclose(sar.towers["s1"].backbone(grey.repeat(1, 2, 1, 1)), model.towers["s2"].backbone(s2), atol=1e-5)


def test_warm_start_refuses_a_file_that_does_not_fit(tmp_path: Path) -> None:
    atomic_save({"towers.s1.proj.weight": torch.zeros(3, 3)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="towers.s1.proj.weight"):
        CLOSP(ModelConfig(arch="efficientnet_lite0")).warm_start(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError):
        CLOSP().warm_start(tmp_path / "missing.pt")


def test_progressive_run_folders_and_metrics(progressive) -> None:
    _, out = progressive
    state = json.loads((out / STATE_FILE).read_text())
    assert [s["stage"] for s in state["stages"]] == ["optical", "sar"]
    assert all(s["steps"] == 3 and s["train_size"] == 8 for s in state["stages"])  # 8 patches, batch 8: 3 epochs of one step
    for folder in ("1-optical", "2-sar"):
        assert len(read_log(out / folder)) >= 1 and (out / folder / "model.pt").is_file()
    assert json.loads((out / "1-optical" / "train_config.json").read_text())["model"]["weights"] == {"s2": "imagenet"}
    # The SAR stage started from the optical stage's projection into the text space.
    init = torch.load(out / "2-sar" / "init.pt", weights_only=True)
    optical = torch.load(out / "1-optical" / "model.pt", weights_only=True)
    assert torch.equal(init["towers.s1.proj.weight"], optical["towers.s2.proj.weight"])
    for corpus, n in (("s1_test", 6), ("real_examples", 6)):
        metrics = state["metrics"][corpus]
        assert metrics["n_images"] == n
        assert 0 <= metrics["R@1"] <= metrics["R@5"] <= metrics["R@10"] <= 100
        assert metrics["mR"] == pytest.approx(np.mean([metrics[k] for k in ("R@1", "R@5", "R@10", "i2t_R@1", "i2t_R@5", "i2t_R@10")]))


def test_a_finished_run_is_refused_or_resumed(progressive) -> None:
    config, out = progressive
    with pytest.raises(ValueError, match="--resume"):
        run_schedule(config, out, progress=False)
    logs = {f: (out / f / "log.csv").read_text() for f in ("1-optical", "2-sar")}
    result = run_schedule(config, out, resume=True, evaluate=False, progress=False)
    assert [s["stage"] for s in result.stages] == ["optical", "sar"]
    assert logs == {f: (out / f / "log.csv").read_text() for f in logs}  # nothing trained again
    with pytest.raises(ValueError, match="lr: saved 0.001, now 0.01"):
        run_schedule(replace(config, lr=1e-2), out, resume=True, evaluate=False, progress=False)


def test_cli_transfer(progressive, capsys) -> None:
    config, out = progressive
    assert main(["transfer", "--schedule", "optical,radar", "--out", str(out / "x"), "--json"]) == 1
    assert "unknown transfer schedule" in capsys.readouterr().err
    assert main(["transfer", "--schedule", config.schedule, "--data", str(config.data), "--out", str(out), "--mode", "tiny",
                 "--steps", "3", "--batch-size", "8", "--input-size", "32", "--seed", "1", "--resume", "--json"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert set(report["metrics"]) == {"s1_test", "real_examples"}


def test_benchmark_shares_the_optical_stage_exactly(progressive, tmp_path: Path) -> None:
    """benchmarks/transfer.py trains the optical stage once per seed; a run reusing it must end where a fresh run does."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from transfer import share_optical

    config, out = progressive
    half = replace(config, sar_fraction=0.5).resolved()
    share_optical(out, tmp_path / "shared", half)
    shared = run_schedule(half, tmp_path / "shared", resume=True, evaluate=False, progress=False)
    assert (tmp_path / "shared" / "1-optical").is_symlink()  # reused, not trained again
    assert shared.stages[-1]["train_size"] < run_schedule(config, out, resume=True, evaluate=False, progress=False).stages[-1]["train_size"]
    fresh = run_schedule(half, tmp_path / "fresh", evaluate=False, progress=False)
    weights = [torch.load(r.out_dir / r.stages[-1]["folder"] / "model.pt", weights_only=True) for r in (shared, fresh)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    with pytest.raises(AssertionError, match="only the SAR share"):
        share_optical(out, tmp_path / "other", replace(half, lr=1e-2))
