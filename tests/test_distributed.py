"""Two processes on one CPU (Gloo) train exactly like one process with the global batch (chapter 9)."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from closp_lite import distributed
from closp_lite.distributed import Context
from closp_lite.losses import ClospLoss
from closp_lite.models.image import ImageTower, tower_for

WORLD = 2
B = 6  # samples per process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _join(rank: int, port: int) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "WORLD_SIZE": str(WORLD), "LOCAL_RANK": str(rank)})
    torch.set_num_threads(1)


def _problem() -> tuple[ImageTower, ClospLoss, torch.Tensor, torch.Tensor, list[str]]:
    """The same tower, loss, global batch of images, caption vectors and captions in every process."""
    torch.manual_seed(0)
    tower = ImageTower(tower_for("s1", width=4)).eval()  # eval: batch norm must not depend on the split
    loss_fn = ClospLoss(learnable_scale=True, label_aware=True)
    images = torch.randn(WORLD * B, 2, 120, 120) * 3 - 15
    text = torch.nn.functional.normalize(torch.randn(WORLD * B, 384), dim=-1)
    keys = ["water", "crops", "water", "trees", "built", "crops"] * WORLD
    text = torch.stack([text[keys.index(k)] for k in keys])  # equal captions, equal vectors
    return tower, loss_fn, images, text, keys


def _gradients(tower: ImageTower, loss_fn: ClospLoss) -> dict[str, torch.Tensor]:
    grads = {f"tower.{n}": p.grad.clone() for n, p in tower.named_parameters()}
    return grads | {"log_scale": loss_fn.log_scale.grad.clone()}


def _gradient_worker(rank: int, port: int, out: str) -> None:
    _join(rank, port)
    ctx = distributed.context()
    tower, loss_fn, images, text, keys = _problem()
    mine = distributed.shard(list(range(WORLD * B)), ctx)
    loss, _ = loss_fn({"s1": (tower(images[mine]), text[mine])}, {"s1": [keys[i] for i in mine]})
    loss.backward()
    local = _gradients(tower, loss_fn)
    distributed.reduce_gradients(tower.parameters(), ctx)
    distributed.reduce_gradients(loss_fn.parameters(), ctx, average=True)
    torch.save({"loss": loss.detach(), "grads": _gradients(tower, loss_fn), "local": local}, Path(out) / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_sharded_gradients_equal_the_global_batch(tmp_path: Path) -> None:
    mp.spawn(_gradient_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD)
    tower, loss_fn, images, text, keys = _problem()
    loss, _ = loss_fn({"s1": (tower(images), text)}, {"s1": keys})
    loss.backward()
    expected = _gradients(tower, loss_fn)
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        torch.testing.assert_close(got["loss"], loss.detach(), rtol=1e-5, atol=1e-6)
        for name, grad in expected.items():
            torch.testing.assert_close(got["grads"][name], grad, rtol=1e-4, atol=1e-6, msg=f"{name} (rank {rank})")
        # Each process's own share of the gradient is not the global one: the reduction did the work.
        assert not torch.allclose(got["local"]["tower.proj.weight"], expected["tower.proj.weight"], rtol=1e-3, atol=1e-6)


def _train_worker(rank: int, port: int, out: str) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_training import _config, _splits

    from closp_lite.training import train

    _join(rank, port)
    steps = [train(_config(), Path(out) / "straight", splits=_splits(), progress=False).steps]
    train(_config(), Path(out) / "resumed", splits=_splits(), stop_after=1, progress=False)
    steps.append(train(_config(), Path(out) / "resumed", splits=_splits(), resume=True, progress=False).steps)
    torch.save(steps, Path(out) / f"steps{rank}.pt")
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_process_training_run_and_resume(tmp_path: Path) -> None:
    from closp_lite.training import read_log

    mp.spawn(_train_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD)
    # 20 S2 training samples in global batches of 4 x 2 -> 2 steps per epoch, 2 epochs, on both ranks.
    assert [torch.load(tmp_path / f"steps{r}.pt", weights_only=True) for r in range(WORLD)] == [[4, 4], [4, 4]]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert sorted(p.name for p in straight.iterdir()) == ["checkpoint.pt", "config.json", "launch.json", "log.csv", "model.pt", "train_config.json"]
    log = read_log(straight)
    assert [row["epoch"] for row in log] == [1, 2]
    assert log[0]["train_chance"] == pytest.approx(math.log(4 * WORLD))
    a = torch.load(straight / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(resumed / "checkpoint.pt", weights_only=True)["model"]
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, rtol=0, atol=1e-5)
    assert [r["val_loss"] for r in read_log(resumed)] == pytest.approx([r["val_loss"] for r in log], abs=1e-5)


def test_context_without_torchrun_is_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.context() == Context(0, 1, 0)
    assert distributed.shard([5, 6, 7], Context()) == [5, 6, 7]
    assert distributed.shard([0, 1, 2, 3, 4], Context(1, 2, 1)) == [1, 3]  # cut to a multiple of 2 first
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK"):
        distributed.context()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="integer"):
        distributed.context()
    with pytest.raises(ValueError, match="cannot be split"):
        distributed.shard([1], Context(0, 2, 0))
