"""The training loop: it learns, logs, checkpoints and resumes exactly (chapter 5)."""

from __future__ import annotations

import json

import pytest
import torch

from closp_lite.models.closp import CLOSP, ModelConfig
from closp_lite.runfolder import RunFolderError
from closp_lite.training import TrainConfig, random_flips, read_log, train

LABELS = [["crops"], ["water"], ["trees"], ["built"]]


class Toy(torch.utils.data.Dataset):
    """Synthetic samples whose images depend on the label (a learnable signal)."""

    def __init__(self, modality: str, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        channels = 2 if modality == "s1" else 13
        self.items = []
        for i in range(n):
            k = i % len(LABELS)
            image = torch.randn(channels, 120, 120, generator=g) * 0.1
            image[k % channels] += 1.0
            self.items.append({"image": image, "modality": modality, "labels": LABELS[k], "text": ". ".join(LABELS[k]), "key": f"{modality}{i}"})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def _splits() -> dict:
    return {"s1": (Toy("s1", 12, 0), Toy("s1", 8, 1)), "s2": (Toy("s2", 20, 2), Toy("s2", 8, 3))}


def _config(**kw) -> TrainConfig:
    return TrainConfig(**{"mode": "tiny", "epochs": 2, "batch_size": 4, "lr": 1e-2, "model": ModelConfig(width=4), **kw})


def test_run_folder_log_and_loss_goes_down(tmp_path) -> None:
    result = train(_config(), tmp_path / "run", splits=_splits(), progress=False)
    assert result.steps == 2 * 5  # 20 S2 samples / 4 per batch; S1 cycles
    rows = read_log(tmp_path / "run")
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] and rows[-1]["val_loss"] < rows[0]["val_loss"]
    assert rows[0]["scale"] != pytest.approx(1.0) and 1.0 < rows[0]["scale"] <= 100.0  # learnable temperature by default
    fixed = train(_config(learnable_scale=False, epochs=1), tmp_path / "fixed", splits=_splits(), progress=False)
    assert fixed.log[0]["scale"] == pytest.approx(1.0)
    assert result.best_val_loss == min(r["val_loss"] for r in rows)
    model = CLOSP.load(tmp_path / "run")
    assert model.encode_image(torch.zeros(1, 2, 120, 120)).shape == (1, 384)
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["batch_size"] == 4


def test_interrupted_and_resumed_equals_straight(tmp_path) -> None:
    straight = train(_config(label_aware=True, learnable_scale=True), tmp_path / "a", splits=_splits(), progress=False)
    train(_config(label_aware=True, learnable_scale=True), tmp_path / "b", splits=_splits(), stop_after=7, progress=False)
    resumed = train(_config(label_aware=True, learnable_scale=True), tmp_path / "b", resume=True, splits=_splits(), progress=False)
    assert resumed.steps == straight.steps
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    # Same weights up to float rounding: the frozen text cache of a new process is filled in
    # batches of another composition, which changes the last bits of the caption vectors.
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, rtol=0, atol=1e-5)
    assert [r["val_loss"] for r in straight.log] == pytest.approx([r["val_loss"] for r in resumed.log], abs=1e-5)
    # A different seed gives clearly different weights, so the comparison above can fail.
    other = train(_config(label_aware=True, learnable_scale=True, seed=7), tmp_path / "c", splits=_splits(), progress=False)
    c = torch.load(other.out_dir / "checkpoint.pt", weights_only=True)
    assert not torch.allclose(c["model"]["towers.s2.proj.weight"], a["model"]["towers.s2.proj.weight"], atol=1e-3)
    assert a["loss"]["log_scale"] != torch.log(torch.tensor(1 / 0.07))  # the temperature was learned


def test_resume_without_checkpoint_fails(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="train_config.json"):
        train(_config(), tmp_path / "none", resume=True, splits=_splits(), progress=False)


def test_resume_refuses_a_checkpoint_whose_model_loads_nothing(tmp_path) -> None:
    run = tmp_path / "run"
    train(_config(), run, splits=_splits(), stop_after=1, progress=False)
    saved = torch.load(run / "checkpoint.pt", weights_only=True)
    saved["model"] = {f"net.{k}": v for k, v in saved["model"].items()}  # names no part of the model has: strict=False loaded nothing
    torch.save(saved, run / "checkpoint.pt")
    with pytest.raises(ValueError, match=r"checkpoint.pt does not fit this run \(its model does not match this run's model: missing \['towers"):
        train(_config(), run, resume=True, splits=_splits(), progress=False)


def test_a_run_is_never_replaced_and_resumes_only_with_its_settings(tmp_path) -> None:
    run = tmp_path / "run"
    train(_config(), run, splits=_splits(), stop_after=2, progress=False)
    saved = (run / "train_config.json").read_text()
    with pytest.raises(RunFolderError, match="already holds a run"):
        train(_config(), run, splits=_splits(), progress=False)
    with pytest.raises(RunFolderError, match=r"batch_size: saved 4, now 2.*epochs: saved 2, now 3"):
        train(_config(epochs=3, batch_size=2), run, resume=True, splits=_splits(), progress=False)
    assert (run / "train_config.json").read_text() == saved
    assert not (run / ".lock").exists()
    (run / "checkpoint.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"checkpoint.pt \(0 bytes\) is not a readable training checkpoint"):
        train(_config(), run, resume=True, splits=_splits(), progress=False)
    result = train(_config(), run, overwrite=True, splits=_splits(), progress=False)
    assert result.steps == 10 and (run / "checkpoint.pt").stat().st_size > 0


def test_flips_and_config_files(tmp_path) -> None:
    x = torch.arange(2 * 1 * 2 * 2, dtype=torch.float32).view(2, 1, 2, 2)
    flipped = random_flips(x, torch.Generator().manual_seed(0))
    for original, out in zip(x, flipped, strict=True):
        assert any(torch.equal(out, c) for c in (original, original.flip(-1), original.flip(-2), original.flip(-1).flip(-2)))
    (tmp_path / "c.toml").write_text("epochs = 3\nlr = 0.001\n[model]\nwidth = 8\n")
    config = TrainConfig.from_file(tmp_path / "c.toml")
    assert (config.epochs, config.model.width) == (3, 8)
    (tmp_path / "bad.json").write_text('{"epochz": 3}')
    with pytest.raises(ValueError, match="epochz"):
        TrainConfig.from_file(tmp_path / "bad.json")


def test_plots_from_the_log(tmp_path) -> None:
    from closp_lite.plotting.training import plot_loss_curves, plot_similarity

    train(_config(), tmp_path / "run", splits=_splits(), progress=False)
    fig = plot_loss_curves(read_log(tmp_path / "run"))
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4 and len(fig.axes[1].lines) == 4  # + 2 chance levels
    heat = plot_similarity(torch.eye(3).numpy(), ["a", "b", "c"], ["a", "b", "c"])
    assert heat.axes[0].images[0].get_array().shape == (3, 3)
    with pytest.raises(ValueError, match="empty"):
        plot_loss_curves([])
    with pytest.raises(ValueError, match="labels"):
        plot_similarity(torch.eye(3).numpy(), ["a"])


def test_one_modality_at_a_time_gives_the_joint_gradients() -> None:
    from closp_lite.data.datasets import collate
    from closp_lite.losses import ClospLoss
    from closp_lite.training import backward_step, batch_features

    splits = _splits()
    batch = {m: collate([splits[m][0][i] for i in range(4)]) for m in ("s1", "s2")}
    torch.manual_seed(0)
    model, loss_fn = CLOSP(ModelConfig(width=4)), ClospLoss(learnable_scale=True)
    features, keys = batch_features(model, batch, torch.Generator().manual_seed(1), torch.device("cpu"))
    joint, _ = loss_fn(features, keys)
    joint.backward()
    expected = {n: p.grad.clone() for n, p in [*model.named_parameters(), *loss_fn.named_parameters()] if p.grad is not None}
    model.zero_grad(), loss_fn.zero_grad()
    values = backward_step(model, loss_fn, batch, torch.Generator().manual_seed(1), torch.device("cpu"))
    assert values["loss"] == pytest.approx(float(joint.detach()))
    got = {n: p.grad for n, p in [*model.named_parameters(), *loss_fn.named_parameters()] if p.grad is not None}
    assert got.keys() == expected.keys() and any(n.startswith("towers.s1") for n in got) and "log_scale" in got
    for name, grad in expected.items():
        torch.testing.assert_close(got[name], grad, rtol=1e-5, atol=1e-7, msg=name)


def test_live_curves_are_redrawn_after_every_epoch(tmp_path) -> None:
    from closp_lite.plotting.training import live_loss_curves

    drawn = []
    redraw = live_loss_curves("live")

    def on_epoch(log: list[dict]) -> None:
        drawn.append(redraw(log))

    train(_config(), tmp_path / "run", splits=_splits(), progress=False, on_epoch=on_epoch)
    assert len(drawn) == 2
    assert [len(fig.axes[0].lines[0].get_xdata()) for fig in drawn] == [1, 2]  # one more epoch each time


def test_fine_tuned_text_tower_gets_its_own_learning_rate(tmp_path) -> None:
    result = train(_config(text_lr=1e-4, model=ModelConfig(width=4, train_text=True)), tmp_path / "run", splits=_splits(), progress=False)
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    frozen = CLOSP(ModelConfig(width=4)).text.state_dict()
    changed = [k for k, v in frozen.items() if not torch.allclose(saved[f"text.{k}"], v)]
    assert changed, "the text tower did not change although train_text=True"
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert [g["max_lr"] for g in checkpoint["optimizer"]["param_groups"]] == [1e-2, 1e-4]
    assert result.steps == 10
