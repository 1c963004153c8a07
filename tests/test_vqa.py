"""VQA data, model and CLI (issue 13, chapter 9). Data: simulated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from closp_lite.models.vqa import VQAConfig, VQAModel
from closp_lite.vqa_data import (
    CELLS,
    answer_prior,
    balance,
    class_shares,
    count_regions,
    grid_cell,
    patch_questions,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _mask() -> np.ndarray:
    """Grass everywhere, two separate lakes in the north-west, a village in the south-east."""
    mask = np.full((120, 120), 2, dtype=np.uint8)
    mask[5:25, 5:25] = 0
    mask[5:25, 30:38] = 0
    mask[88:118, 88:118] = 6
    return mask


def test_counting_position_and_shares() -> None:
    mask = _mask()
    assert count_regions(mask == 0) == 2 and count_regions(mask == 6) == 1
    assert count_regions(mask == 0, min_size=500) == 0  # both lakes are smaller than 500 pixels
    assert grid_cell(mask == 6) == ("south-east", 1.0) and grid_cell(mask == 0)[0] == "north-west"
    shares = class_shares(mask)
    assert shares.sum() == pytest.approx(1.0) and shares[0] == pytest.approx((400 + 160) / 14400)


def test_patch_questions_are_answered_from_the_map() -> None:
    qa = {(t, q): a for t, q, a in patch_questions(["Built", "Grass", "Water"], _mask(), ["Flooded Area"], np.random.default_rng(0))}
    assert qa["presence", "Is there water in the image?"] == "yes" and qa["presence", "Is there forest in the image?"] == "no"
    assert qa["dominant", "What is the dominant land cover?"] == "grassland"
    assert qa["counting", "How many separate areas of water are there?"] == "2"
    assert qa["position", "Where is most of the built-up land?"] == "south-east"
    assert qa["crisis", "Is there a flooded area in the image?"] == "no"
    assert all(a in CELLS for (t, _), a in qa.items() if t == "position")


def test_balance_leaves_no_question_answerable_without_the_image() -> None:
    rows = [(f"k{i}", "s1", "presence", "Is there water in the image?", "yes" if i % 4 else "no") for i in range(40)]
    rows += [(f"k{i}", "s1", "presence", "Is there snow in the image?", "no") for i in range(40)]
    rows += [(f"k{i}", "s1", "counting", "How many?", str(1 + i % 3) if i < 30 else "1") for i in range(40)]
    table = pd.DataFrame(rows, columns=["key", "modality", "type", "question", "answer"])
    balanced = balance(table)
    water = balanced[balanced["question"] == "Is there water in the image?"]["answer"].value_counts()
    assert water["yes"] == water["no"] == 10
    assert "Is there snow in the image?" not in set(balanced["question"])  # one answer only: dropped
    counts = balanced[balanced["type"] == "counting"]["answer"].value_counts()
    assert counts.max() <= 10 and set(counts.index) == {"1", "2", "3"}


def test_answer_prior() -> None:
    table = pd.DataFrame({"split": ["train"] * 3 + ["test"] * 4, "type": ["presence"] * 7, "question": ["q"] * 7,
                          "answer": ["yes", "yes", "no", "yes", "no", "no", "no"]})  # fmt: skip
    prior = answer_prior(table)
    assert prior.at["presence", "type_prior"] == 0.25 and prior.at["presence", "n"] == 4


def test_question_only_model_ignores_the_image() -> None:
    torch.manual_seed(0)
    question = torch.randn(2, 384)
    blind = VQAModel(VQAConfig(["no", "yes"], use_image=False)).eval()
    assert torch.equal(blind(torch.randn(2, 2, 32, 32), "s1", question), blind(torch.randn(2, 2, 32, 32), "s1", question))
    seeing = VQAModel(VQAConfig(["no", "yes"])).eval()
    assert not torch.allclose(seeing(torch.randn(2, 2, 32, 32), "s1", question), seeing(torch.randn(2, 2, 32, 32), "s1", question))
    fused, attention = seeing.fuse(torch.randn(2, 2, 32, 32), "s1", question)
    assert fused.shape == (2, 3 * 128) and attention is not None and torch.allclose(attention.sum(-1), torch.ones(2))


def test_questions_share_one_pass_of_their_image() -> None:
    from closp_lite.answering import questions_of

    torch.manual_seed(0)
    model = VQAModel(VQAConfig(["no", "yes"], width=8, d_model=32)).eval()
    images, questions = torch.randn(4, 2, 32, 32), torch.randn(7, 384)
    which = torch.tensor([2, 0, 2, 3, 1, 2, 0])  # image of every question row
    rows, positions = questions_of(which, torch.tensor([2, 0]))
    assert rows.tolist() == [0, 1, 2, 5, 6] and positions.tolist() == [0, 1, 0, 0, 1]
    shared = model(images[[2, 0]], "s1", questions[rows], positions)
    assert torch.allclose(shared, model(images[which[rows]], "s1", questions[rows]), atol=1e-5)


def test_fusion_learns_what_the_question_asks_about_the_image() -> None:
    """Bright or dark image x two questions whose answers are opposite: only image + question can solve it."""
    torch.manual_seed(0)
    bright = torch.rand(64) > 0.5
    images = torch.where(bright[:, None, None, None], 0.0, -25.0) + torch.randn(64, 2, 32, 32)
    asks_bright = torch.rand(64) > 0.5
    questions = torch.stack([torch.eye(384)[0] if b else torch.eye(384)[1] for b in asks_bright])
    answers = (bright == asks_bright).long()
    model = VQAModel(VQAConfig(["no", "yes"], width=8, d_model=32))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(120):
        loss = torch.nn.functional.cross_entropy(model(images, "s1", questions), answers)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    assert (model(images, "s1", questions).argmax(-1) == answers).float().mean() > 0.95


@pytest.mark.slow
def test_vqa_cli_builds_trains_asks_and_evaluates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from closp_lite.cli import main
    from closp_lite.simulate.corpus import generate_corpus

    corpus = tmp_path / "corpus"
    generate_corpus(corpus, 24, 24, seed=3, progress=False)
    assert main(["vqa", "build", str(corpus), "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["questions"] > 100 and {"presence", "dominant", "counting"} <= set(built["per_type"])
    table = pd.read_parquet(corpus / "vqa.parquet")
    assert set(table["split"]) == {"train", "val", "test"} and table.groupby("key")["split"].nunique().max() == 1
    run = tmp_path / "run"
    assert main(["vqa", "train", "--data", str(corpus), "--out", str(run), "--mode", "tiny", "--schedule", "progressive", "--json"]) == 0
    assert [row["stage"] for row in json.loads(capsys.readouterr().out)["log"]] == ["s2 questions", "s1 questions"]
    key = str(table[table["modality"] == "s1"]["key"].iloc[0])
    assert main(["vqa", "ask", str(run), "Is there water in the image?", "--data", str(corpus), "--key", key, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["answer"] == answer["top"][0][0] and sum(p for _, p in answer["top"]) <= 1.0 + 1e-6
    assert main(["vqa", "evaluate", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0.0 <= result["accuracy"] <= 1.0 and result["n"] == sum(v["n"] for v in result["per_type"].values())
    assert main(["vqa", "ask", str(run), "Is there water?", "--data", str(corpus), "--key", "nope"]) == 1
    assert "nope" in capsys.readouterr().err
