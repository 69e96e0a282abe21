"""The generic training loop and the device helpers, on a tiny torch model (no transformers)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from rankbench.bench.device import pick_device, pick_dtype, seed_everything
from rankbench.bench.train import cycle, linear_schedule, run_training
from rankbench.errors import RankbenchError
from rankbench.threads import set_torch_threads

CPU = torch.device("cpu")


class TinyClassifier(torch.nn.Module):
    """model(**batch).loss like a HF model: a frozen 'base' Linear and a trainable head."""

    def __init__(self):
        super().__init__()
        self.base = torch.nn.Linear(8, 16)
        self.base.requires_grad_(False)
        self.head = torch.nn.Linear(16, 2)

    def forward(self, x, labels):
        logits = self.head(torch.relu(self.base(x)))
        return SimpleNamespace(loss=torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100))


def easy_batches(n_batches=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        x = torch.randn(size, 8, generator=g)
        out.append({"x": x, "labels": (x[:, 0] > 0).long()})
    return out


def train(model, batches, steps=40, **kw):
    args = dict(
        steps=steps,
        learning_rate=1e-2,
        weight_decay=0.0,
        warmup_ratio=0.1,
        max_grad_norm=1.0,
        device=CPU,
        seed=0,
    )
    return run_training(model, batches, **{**args, **kw})


def test_exactly_steps_optimizer_steps_cycling_the_data():
    torch.manual_seed(0)
    model = TinyClassifier()
    calls = []
    handle = register_optimizer_step_post_hook(lambda opt, a, k: calls.append(1))
    try:
        stats = train(model, easy_batches(3), steps=10, log_every=4)
    finally:
        handle.remove()
    assert len(calls) == 10 and stats.steps == 10
    assert stats.examples == 10 * 32 and stats.examples_per_second > 0
    assert len(stats.losses) == 3 and stats.final_loss == stats.losses[-1]  # windows: 4, 4, 2


def test_loss_goes_down_and_only_trainable_params_change():
    torch.manual_seed(0)
    model = TinyClassifier()
    frozen = model.base.weight.clone()
    stats = train(model, easy_batches(), steps=60, log_every=10, learning_rate=5e-2)
    assert stats.losses[-1] < 0.7 * stats.losses[0]
    assert torch.equal(model.base.weight, frozen)


def test_seeded_runs_are_bit_for_bit_reproducible():
    def once():
        torch.manual_seed(123)
        model = TinyClassifier()
        stats = train(model, easy_batches(), steps=25, log_every=5)
        return stats.losses, [p.detach().clone() for p in model.head.parameters()]

    (l1, p1), (l2, p2) = once(), once()
    assert l1 == l2
    assert all(torch.equal(a, b) for a, b in zip(p1, p2, strict=True))


def test_progress_reports_running_loss():
    seen = []
    train(TinyClassifier(), easy_batches(), steps=7, log_every=3, progress=lambda *a: seen.append(a))
    assert [(s, d, t) for s, d, t, _ in seen] == [("train", 3, 7), ("train", 6, 7), ("train", 7, 7)]
    assert all(math.isfinite(info["loss"]) for *_, info in seen)


def test_divergence_is_an_error_not_nan_results():
    batches = [{"x": torch.full((4, 8), float("nan")), "labels": torch.zeros(4, dtype=torch.long)}]
    with pytest.raises(RankbenchError, match="training diverged: the loss is nan at step 2"):
        train(TinyClassifier(), batches, steps=5, log_every=2)


def test_no_trainable_parameters():
    model = TinyClassifier().requires_grad_(False)
    with pytest.raises(RankbenchError, match="the model has no trainable parameters"):
        train(model, easy_batches(), steps=1)


def test_empty_data():
    with pytest.raises(RankbenchError, match="the training data yielded no batches"):
        next(cycle([]))


def test_linear_schedule_warms_up_then_decays_to_zero():
    f = linear_schedule(100, 0.1)
    values = [f(s) for s in range(100)]
    assert values[0] < values[5] < values[9] <= 1.0
    assert values[10] == 1.0 and values[55] == pytest.approx(0.5) and values[99] > 0
    assert all(b <= a for a, b in zip(values[10:], values[11:], strict=False))
    assert linear_schedule(10, 0.0)(0) == 1.0


# --- device helpers -----------------------------------------------------------------------------


def test_device_and_dtype_choice_on_any_machine():
    assert pick_device("cpu") == CPU
    assert pick_dtype("auto", CPU) == torch.float32
    assert pick_dtype("bfloat16", CPU) == torch.bfloat16
    with pytest.raises(RankbenchError, match="expected auto, cpu or cuda"):
        pick_device("tpu")


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="this machine has a CUDA GPU; the test is for one without"
)
def test_without_a_gpu_auto_is_the_cpu_and_cuda_is_refused():
    assert pick_device("auto") == CPU
    with pytest.raises(
        RankbenchError, match="train.device is 'cuda:1' but this torch build sees no CUDA GPU"
    ):
        pick_device("cuda:1")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_with_a_gpu_auto_is_the_gpu():
    assert pick_device("auto").type == "cuda"


def test_auto_picks_cuda_and_bf16_when_a_gpu_is_there(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    device = pick_device("auto")
    assert device == torch.device("cuda", 0)
    assert pick_dtype("auto", device) == torch.bfloat16


def test_pin_threads_respects_omp_num_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        info = set_torch_threads()
        assert info["torch_num_threads"] == 1 and info["source"] == "OMP_NUM_THREADS"
        assert info["env"]["OMP_NUM_THREADS"] == "1"
        monkeypatch.delenv("OMP_NUM_THREADS")
        info = set_torch_threads()
        assert info["source"] == "cpu_count" and info["torch_num_threads"] == info["usable_cpus"]
    finally:
        torch.set_num_threads(before)


def test_seed_everything_seeds_python_numpy_torch():
    import random

    import numpy as np

    seed_everything(5)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(5)
    assert a == (random.random(), np.random.rand(), torch.rand(1).item())
