"""Captioner, staged fine-tuning and caption scores (issue 13, chapter 9). Data: simulated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from closp_lite.captions.metrics import caption_scores, optical_word_audit
from closp_lite.data.bands import S2_MODEL_BANDS
from closp_lite.finetune import (
    RunFolder,
    Stage,
    read_run,
    schedule_modalities,
    schedule_start,
    task_splits,
    train_stages,
    transplant,
)
from closp_lite.models.captioner import (
    Captioner,
    CaptionerConfig,
    Vocabulary,
    encode_captions,
    tokenize,
)
from closp_lite.models.image import ImageTower, tower_for
from closp_lite.models.tokens import TokenEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated corpus of 24 S1 + 24 S2 patches (with class maps)."""
    from closp_lite.simulate.corpus import generate_corpus

    root = tmp_path_factory.mktemp("talk") / "corpus"
    generate_corpus(root, 24, 24, seed=3, progress=False)
    return root


def test_vocabulary_round_trip_and_unknown_words() -> None:
    vocab = Vocabulary.build(["Dark water lies in the north.", "Bright built-up land, speckle."])
    assert tokenize("Bright built-up land, speckle.") == ["bright", "built-up", "land", ",", "speckle", "."]
    ids = vocab.encode("dark water lies in the north.", max_len=12)
    assert ids[0] == 1 and ids[8] == 2 and ids[9:] == [0] * 3
    assert vocab.decode(ids[1:]) == "dark water lies in the north."
    assert vocab.decode(vocab.encode("dark snow", 8)[1:]) == "dark <unk>"


def test_decoder_is_causal() -> None:
    torch.manual_seed(0)
    model = Captioner(CaptionerConfig(Vocabulary.build(["a b c d e"]).words, max_len=8)).eval()
    memory = model.encoder(torch.randn(1, 2, 32, 32), "s1")
    first, second = torch.tensor([[1, 4, 5, 6]]), torch.tensor([[1, 4, 7, 8]])
    # Position 1 sees tokens 0-1 only: changing tokens 2-3 must not change it.
    assert torch.allclose(model.logits(first, memory)[0, :2], model.logits(second, memory)[0, :2], atol=1e-5)
    assert not torch.allclose(model.logits(first, memory)[0, 3], model.logits(second, memory)[0, 3])


def test_teacher_forcing_learns_to_caption_two_kinds_of_image() -> None:
    torch.manual_seed(0)
    captions = ["dark smooth water fills the scene.", "bright built-up land with double bounce."]
    vocab = Vocabulary.build(captions)
    model = Captioner(CaptionerConfig(vocab.words, width=8, d_model=32, layers=1, max_len=10, dropout=0.0))
    images = torch.cat([torch.full((4, 2, 32, 32), -25.0), torch.full((4, 2, 32, 32), 0.0)]) + torch.randn(8, 2, 32, 32)
    targets = encode_captions(vocab, [captions[0]] * 4 + [captions[1]] * 4, 10)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        loss = model.loss(images, "s1", targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.02 * losses[0]
    model.eval()
    assert model.generate(images[[0, 7]], "s1") == captions
    assert model.generate(images[[0, 7]], "s1", method="beam", beam=3) == captions
    steps = model.decoding_steps(images[0], "s1")
    assert [s["word"] for s in steps][:3] == ["dark", "smooth", "water"] and steps[-1]["word"] == "<eos>"


def test_beam_of_one_is_greedy() -> None:
    torch.manual_seed(1)
    model = Captioner(CaptionerConfig(Vocabulary.build(["a b c d e f g"]).words, max_len=9)).eval()
    images = torch.randn(3, 2, 32, 32)
    assert model.generate(images, "s1", method="beam", beam=1) == model.generate(images, "s1")


def test_transplant_carries_optical_weights_into_the_sar_tower() -> None:
    torch.manual_seed(0)
    s2, s1 = ImageTower(tower_for("s2")), ImageTower(tower_for("s1"))
    copied = transplant(s2, s1)
    first2, first1 = s2.backbone[0].weight, s1.backbone[0].weight
    rgb = first2[:, [S2_MODEL_BANDS.index(b) for b in ("B4", "B3", "B2")]]
    # chapter 8's rule: VV and VH each take the mean B4/B3/B2 filter x 3/2
    assert first1.shape[1] == 2 and torch.allclose(first1, rgb.mean(1, keepdim=True).repeat(1, 2, 1, 1) * 3 / 2)
    assert torch.equal(s1.backbone[3].weight, s2.backbone[3].weight) and torch.equal(s1.proj.weight, s2.proj.weight)
    assert copied == len([k for k in s1.state_dict() if not k.startswith("normalize.")])
    assert not torch.equal(s1.normalize.mean, s2.normalize.mean[:, :2])  # each tower keeps its own statistics


def test_token_encoder_reads_the_grid() -> None:
    encoder = TokenEncoder(["s1", "s2"], d_model=16)
    assert encoder(torch.randn(2, 2, 60, 60), "s1").shape == (2, 16, 16)  # 60 px -> 4 x 4 cells
    with pytest.raises(ValueError, match="no 's3' tower"):
        encoder(torch.randn(1, 2, 60, 60), "s3")
    efficientnet = TokenEncoder(["s1"], d_model=16, arch="efficientnet_lite0").eval()
    assert efficientnet(torch.randn(2, 2, 96, 96), "s1").shape == (2, 9, 16)  # stride 32: 96 px -> 3 x 3 cells
    assert efficientnet.proj["s1"].in_features == 1280


def test_schedules_start_where_chapter_8_says() -> None:
    assert schedule_start("sar") is None
    assert schedule_start("direct") == schedule_start("progressive") == "imagenet"  # the natural-image stage
    assert schedule_start("direct", "run/closp") == "run/closp"
    with pytest.raises(ValueError, match="from scratch"):
        schedule_start("sar", "run/closp")


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


@pytest.mark.slow
def test_direct_and_progressive_start_from_imagenet(corpus: Path, tmp_path: Path) -> None:
    from closp_lite.captioning import train_captioner
    from closp_lite.models import efficientnet

    rgb = efficientnet.imagenet_efficientnet_lite0().conv_stem.weight.detach()
    stems = {}
    for schedule in ("sar", "direct", "progressive"):
        train_captioner(corpus, tmp_path / schedule, schedule, mode="tiny", seed=0, progress=False)
        settings, weights = read_run(tmp_path / schedule)
        assert settings["model"]["arch"] == "efficientnet_lite0"
        stems[schedule] = {m: weights[f"encoder.towers.{m}.backbone.conv_stem.weight"] for m in settings["model"]["modalities"]}
    # one tiny epoch moves the weights little: a stem that started from ImageNet still looks like it
    assert _cosine(stems["direct"]["s1"], efficientnet.stem_weight(rgb, "s1")) > 0.9
    assert _cosine(stems["progressive"]["s2"], efficientnet.stem_weight(rgb, "s2")) > 0.9
    assert _cosine(stems["progressive"]["s1"], efficientnet.stem_weight(rgb, "s1")) > 0.9  # natural -> optical -> SAR
    assert abs(_cosine(stems["sar"]["s1"], efficientnet.stem_weight(rgb, "s1"))) < 0.5
    assert read_run(tmp_path / "direct")[0]["init"] == "imagenet" and read_run(tmp_path / "sar")[0]["init"] is None


def _linear_stages(model: nn.Linear, hooks: list[str], fail_at: int | None = None) -> list[Stage]:
    data, target = torch.randn(20, 3, generator=torch.Generator().manual_seed(0)), torch.randn(20, 1, generator=torch.Generator().manual_seed(1))
    calls = {"n": 0}

    def loss(idx: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise KeyboardInterrupt
        return ((model(data[idx]) - target[idx]) ** 2).mean()

    return [Stage("optical", 20, loss, 2, on_start=lambda: hooks.append("a")), Stage("sar", 20, loss, 2, on_start=lambda: hooks.append("b"))]


def test_an_interrupted_run_resumes_to_the_same_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    straight, hooks = nn.Linear(3, 1), []
    with RunFolder(tmp_path / "s", {"x": 1}) as run:
        train_stages(straight, _linear_stages(straight, hooks), run, batch_size=8, progress=False)
    torch.manual_seed(0)
    broken, hooks_broken = nn.Linear(3, 1), []
    with pytest.raises(KeyboardInterrupt), RunFolder(tmp_path / "r", {"x": 1}) as run:  # 3 batches an epoch: call 8 is in stage 2
        train_stages(broken, _linear_stages(broken, hooks_broken, fail_at=8), run, 8, progress=False)
    assert not (tmp_path / "r" / ".lock").exists()  # an interrupted run releases its lock
    torch.manual_seed(5)
    resumed, hooks_resumed = nn.Linear(3, 1), []
    with RunFolder(tmp_path / "r", {"x": 1}, resume=True) as run:
        log = train_stages(resumed, _linear_stages(resumed, hooks_resumed), run, 8, progress=False)
    assert torch.equal(resumed.weight, straight.weight) and torch.equal(resumed.bias, straight.bias)
    assert hooks == ["a", "b"] and hooks_broken + hooks_resumed == ["a", "b", "b"] and len(log) == 4
    assert json.loads((tmp_path / "r" / "log.json").read_text()) == log


def test_run_folder_refuses_to_mix_runs(tmp_path: Path) -> None:
    with RunFolder(tmp_path, {"schedule": "sar"}):
        with pytest.raises(ValueError, match="locked"), RunFolder(tmp_path, {"schedule": "sar"}, resume=True):
            pass  # a second process may not write the folder at the same time
    with pytest.raises(ValueError, match="--resume"), RunFolder(tmp_path, {"schedule": "sar"}):
        pass
    with pytest.raises(ValueError, match="schedule"), RunFolder(tmp_path, {"schedule": "direct"}, resume=True):
        pass
    with RunFolder(tmp_path, {"schedule": "direct"}, overwrite=True):
        assert json.loads((tmp_path / "config.json").read_text()) == {"schedule": "direct"}


def test_schedules_and_splits() -> None:
    import pandas as pd

    assert schedule_modalities("progressive") == ["s2", "s1"] and schedule_modalities("direct") == ["s1"]
    with pytest.raises(ValueError, match="schedule"):
        schedule_modalities("curriculum")
    meta = pd.DataFrame({"key": [f"k{i}" for i in range(400)], "split": ["train"] * 100 + ["test"] * 300})
    splits = task_splits(meta)
    assert (splits.iloc[:100] == "train").all()  # what a retrieval run trained on never becomes test data
    shares = splits.iloc[100:].value_counts(normalize=True)
    assert 0.3 < shares["test"] < 0.5 and 0.03 < shares["val"] < 0.2
    assert splits.equals(task_splits(meta)) and not splits.equals(task_splits(meta, seed=7))


def test_caption_scores_agree_with_torchmetrics_and_reward_exact_matches() -> None:
    from torchmetrics.text import BLEUScore

    refs = {"a": ["The cat sat on the mat today."], "b": ["Dark water lies in the north of the scene."]}
    cands = {"a": "the cat sat on a mat today", "b": "dark water lies in the south of the scene"}
    scores = caption_scores(refs, cands, meteor=False)
    expected = float(BLEUScore(n_gram=4)(list(cands.values()), [[r[0].lower().rstrip(".")] for r in refs.values()]))
    assert scores["BLEU-4"] == pytest.approx(expected, abs=1e-6)
    perfect = caption_scores(refs, {k: v[0] for k, v in refs.items()}, meteor=False)
    assert perfect["BLEU-4"] == pytest.approx(1.0, abs=1e-6) and perfect["ROUGE-L"] == pytest.approx(1.0)
    assert perfect["CIDEr-D"] > scores["CIDEr-D"]
    with pytest.raises(ValueError, match="same"):
        caption_scores(refs, {"a": "x"}, meteor=False)


def test_optical_word_audit() -> None:
    audit = optical_word_audit(["Dark smooth water.", "Green fields and blue water with shadows."])
    assert audit == {"captions_with_optical_words": 1, "optical_words": 3, "words_found": ["blue", "green", "shadows"]}


@pytest.mark.slow
def test_captioner_cli_trains_generates_and_evaluates(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from closp_lite.cli import main

    run = tmp_path / "run"
    assert main(["captioner", "train", "--data", str(corpus), "--out", str(run), "--mode", "tiny", "--schedule", "progressive", "--json"]) == 0
    log = json.loads(capsys.readouterr().out)["log"]
    assert [row["stage"] for row in log] == ["s2 captions", "s1 captions"]
    key = "sim_benv2s1_s1_000000"
    assert main(["captioner", "generate", str(run), "--data", str(corpus), "--keys", key, "--decoding", "beam", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == [key]
    assert main(["captioner", "evaluate", str(run), "--no-meteor", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] > 0 and set(result["scores"]) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr-D"}
    assert result["audit"]["optical_words"] == 0
    assert main(["captioner", "train", "--data", str(corpus), "--out", str(run), "--mode", "tiny"]) == 1
    assert main(["captioner", "train", "--data", str(corpus), "--out", str(tmp_path / "d"), "--init", str(run), "--mode", "tiny"]) == 1
    assert "from scratch" in capsys.readouterr().err
