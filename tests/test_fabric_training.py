"""Full-mode training through Lightning Fabric (chapter 10): exact gradients with the gradient cache and over 2 processes, run and resume under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from closp_lite.data.module import collate
from closp_lite.losses import ClospLoss
from closp_lite.models.closp import CLOSP, ModelConfig

sys.path.insert(0, str(Path(__file__).parent))
from test_training import Toy

CPU = torch.device("cpu")


def problem() -> tuple[CLOSP, ClospLoss, dict[str, dict]]:
    """The same model, loss and global batch (8 per modality) in every process."""
    torch.manual_seed(0)
    model = CLOSP(ModelConfig(width=4)).eval()  # eval: batch norm must not see micro-batches or shards
    loss_fn = ClospLoss(learnable_scale=True, label_aware=True)
    batch = {m: collate([Toy(m, 8, seed)[i] for i in range(8)]) for m, seed in (("s1", 0), ("s2", 1))}
    return model, loss_fn, batch


def gradients(model: CLOSP, loss_fn: ClospLoss) -> dict[str, torch.Tensor]:
    """Every gradient of the towers and the logit scale, by name."""
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return grads | {"log_scale": loss_fn.log_scale.grad.clone()}


def chapter5_gradients(flips: bool = True) -> dict[str, torch.Tensor]:
    """One process, one backward per modality over the whole batch (flipped by seed 1, or not): chapter 5's step."""
    from closp_lite.training import backward_step

    model, loss_fn, batch = problem()
    backward_step(model, loss_fn, batch, torch.Generator().manual_seed(1) if flips else None, CPU)  # type: ignore[arg-type]
    return gradients(model, loss_fn)


@pytest.mark.parametrize(("accumulation", "compile_model"), [(1, False), (3, False), pytest.param(1, True, marks=pytest.mark.slow)])
def test_fabric_step_gradients_equal_one_big_batch(accumulation: int, compile_model: bool) -> None:
    from closp_lite.fabric_training import FabricStep, fabric_from_env
    from closp_lite.training import step_inputs

    expected = chapter5_gradients()
    model, loss_fn, batch = problem()
    step = FabricStep.setup(fabric_from_env(CPU, "fp32"), model, loss_fn, accumulation, compile_model)
    images, keys = step_inputs(batch, torch.Generator().manual_seed(1), CPU)  # the flips of chapter5_gradients
    values = step.backward(images, batch, keys)
    got = gradients(model, loss_fn)
    assert set(got) == set(expected) and {"s1", "s2", "loss"} <= set(values)
    for name, grad in expected.items():
        torch.testing.assert_close(got[name], grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.slow
def test_a_compiled_step_is_not_compiled_again_for_new_captions() -> None:
    """The text tower's caption cache stays out of the graph: new captions reuse the compiled step."""
    from torch._dynamo.utils import counters

    from closp_lite.fabric_training import FabricStep, fabric_from_env
    from closp_lite.training import step_inputs

    model, loss_fn, _ = problem()
    step = FabricStep.setup(fabric_from_env(CPU, "fp32"), model, loss_fn, 1, compile_model=True)
    torch._dynamo.reset()
    compiled = []
    for seed in (2, 4, 6):
        batch = {m: collate([Toy(m, 8, seed + j)[i] for i in range(8)]) for j, m in enumerate(("s1", "s2"))}
        for part in batch.values():
            part["text"] = [f"{text}, seen in step {seed}" for text in part["text"]]
        images, keys = step_inputs(batch, torch.Generator().manual_seed(seed), CPU)
        step.backward(images, batch, keys)
        compiled.append((sum(counters["frames"].values()), [b["text"] for b in batch.values()]))
    assert compiled[0][1] != compiled[1][1] != compiled[2][1]  # each step brings other captions
    assert compiled[0][0] > 0 and compiled[1][0] == compiled[2][0] == compiled[0][0]


def test_accumulation_outside_full_mode_is_refused() -> None:
    from test_training import _splits

    from closp_lite.training import TrainConfig, build_trainer

    with pytest.raises(ValueError, match="--mode full"):
        build_trainer(TrainConfig(mode="tiny", epochs=1, batch_size=4, accumulation=2).resolved(), _splits())


# Run by torchrun in 2 processes: gradients of a sharded global batch, then a full-mode run cut short and resumed.
SCRIPT = """
import json, sys, torch
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_fabric_training import CPU, problem, gradients
import closp_lite.training as training
from closp_lite.distributed import context, shard
from closp_lite.fabric_training import FabricStep, fabric_from_env

torch.set_num_threads(1)
out = Path(sys.argv[1])
rank = context().rank
model, loss_fn, batch = problem()
mine = {{m: {{k: (v[shard(range(8), context())] if isinstance(v, torch.Tensor) else [v[i] for i in shard(range(8), context())])
             for k, v in part.items()}} for m, part in batch.items()}}
step = FabricStep.setup(fabric_from_env(CPU, "fp32"), model, loss_fn, accumulation=2)
images, keys = training.step_inputs(mine, None, CPU)
step.backward(images, mine, keys)
torch.save(gradients(model, loss_fn), out / f"grads{{rank}}.pt")

saves = []
real_save = training.atomic_save
training.atomic_save = lambda obj, path: (saves.append(path.name), real_save(obj, path))
config = training.TrainConfig(mode="full", data=sys.argv[2], epochs=3, batch_size=4, workers=0,
                              accumulation=2, model=model.config)
first = training.train(config, out / "run", stop_after=1, progress=False).steps
last = training.train(config, out / "run", resume=True, progress=False).steps
(out / f"rank{{rank}}.json").write_text(json.dumps({{"steps": [first, last], "saves": saves}}))
"""


@pytest.mark.slow
def test_torchrun_two_processes_train_resume_and_reduce_exactly(tmp_path: Path) -> None:
    from closp_lite.simulate import sample_corpus

    root = sample_corpus("tiny", progress=False)  # simulated, made here so that the two processes do not race to make it
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script), str(tmp_path), str(root)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = chapter5_gradients(flips=False)
    for rank in (0, 1):  # DDP's reduction (with the gradient cache) gives every process the global batch's gradient
        got = torch.load(tmp_path / f"grads{rank}.pt", weights_only=True)
        for name, grad in expected.items():
            torch.testing.assert_close(got[name], grad, rtol=1e-4, atol=1e-6, msg=f"{name} (rank {rank})")
    reports = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert reports[0]["steps"] == reports[1]["steps"] and reports[0]["steps"][0] == 1 and reports[0]["steps"][1] > 1  # resumed past step 1
    assert "checkpoint.pt" in reports[0]["saves"] and reports[1]["saves"] == []  # rank 0 writes, rank 1 does not
    run = tmp_path / "run"
    assert json.loads((run / "launch.json").read_text()) == {"world_size": 2, "loop": "lightning-fabric", "precision": "fp32", "accumulation": 2,
                                                             "compile": False}  # fmt: skip
    assert torch.load(run / "checkpoint.pt", weights_only=True)["state"]["step"] == reports[0]["steps"][1]


# Run by torchrun: a small full-mode run straight through, and (with "resume") the same run cut after one step and resumed.
RUNS = """
import sys, torch
from pathlib import Path
import closp_lite.training as training
from closp_lite.models.closp import ModelConfig

torch.set_num_threads(1)
out, data, how, resume = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "resume"
config = training.TrainConfig(mode="full", data=data, epochs=2, batch_size=2, workers=0, compile=how == "compiled", model=ModelConfig(width=4))
training.train(config, out / "straight", progress=False)
if resume:
    training.train(config, out / "resumed", stop_after=1, progress=False)
    training.train(config, out / "resumed", resume=True, progress=False)
"""


def torchrun(tmp_path: Path, launch: list[str], how: str = "eager", resume: bool = False) -> subprocess.Popen[str]:
    """Start ``python -m torch.distributed.run LAUNCH`` on :data:`RUNS` writing to ``tmp_path``; the caller waits."""
    from closp_lite.simulate import sample_corpus

    root = sample_corpus("tiny", progress=False)  # made here, so that the processes do not race to make it
    script = tmp_path / "runs.py"
    script.write_text(RUNS)
    command = [sys.executable, "-m", "torch.distributed.run", *launch, str(script), str(tmp_path), str(root), how, "resume" if resume else "once"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def finished(process: subprocess.Popen[str]) -> None:
    """Wait for a :func:`torchrun` process and require that it succeeded."""
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-3000:]


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    """The model of a run's last checkpoint (the weights after its last step)."""
    saved = torch.load(run / "checkpoint.pt", weights_only=True)
    assert saved["state"]["step"] == 4  # 2 epochs of 2 global batches of 2 x 2 samples: the cut after step 1 is mid-epoch
    return saved["model"]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 1e-6) -> None:
    """Equal names and equal tensors (``atol`` absolute, no relative slack)."""
    assert set(a) == set(b)
    for name, value in a.items():
        torch.testing.assert_close(b[name], value, rtol=0, atol=atol, msg=name)


@pytest.mark.slow
def test_compiled_full_mode_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path: Path) -> None:
    finished(torchrun(tmp_path, ["--standalone", "--nproc_per_node", "2"], how="compiled", resume=True))
    straight, resumed = final_weights(tmp_path / "straight"), final_weights(tmp_path / "resumed")
    assert not any("_orig_mod" in name or name.startswith("module.") for name in straight)  # the checkpoint holds the plain model's names
    assert json.loads((tmp_path / "resumed" / "launch.json").read_text())["compile"] is True
    # A resume that loaded nothing (the names of a wrapper, ignored by strict=False) would continue from fresh weights.
    assert_same_weights(straight, resumed, atol=1e-5)


@pytest.mark.slow
def test_two_nodes_through_c10d_rendezvous_train_like_one_node_with_two_processes(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    finished(torchrun(tmp_path / "one", ["--standalone", "--nproc_per_node", "2"]))
    # Two torchrun agents, one per "node", that find each other through the c10d rendezvous on localhost (as on a cluster, one host).
    nodes = [torchrun(tmp_path / "two", ["--nnodes", "2", "--nproc-per-node", "1", "--node-rank", str(rank), "--rdzv-backend", "c10d",
                                         "--rdzv-endpoint", f"localhost:{port}", "--rdzv-id", f"closp-{port}"])
             for rank in (0, 1)]  # fmt: skip
    for node in nodes:
        finished(node)
    assert json.loads((tmp_path / "two" / "straight" / "launch.json").read_text())["world_size"] == 2
    assert_same_weights(final_weights(tmp_path / "one" / "straight"), final_weights(tmp_path / "two" / "straight"))
