"""The generic training loop: AdamW over the trainable parameters, linear warmup then linear decay.

Task-agnostic: every batch is a dict of tensors passed as ``model(**batch)``, and the model computes
its own ``.loss`` from the labels in the batch (-100 = ignored). The loop takes exactly ``steps``
optimizer steps, cycling the data when it runs out. It never syncs the host with the device except
every ``log_every`` steps (to read the running loss), so on a GPU the CPU queues work ahead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from rankbench.bench.device import seed_everything
from rankbench.errors import RankbenchError


@dataclass(frozen=True)
class TrainStats:
    losses: list[float]  # mean loss of each log window of ``log_every`` steps
    final_loss: float  # mean loss of the last window
    seconds: float
    steps: int
    examples_per_second: float
    examples: int = 0

    def to_dict(self) -> dict:
        return {
            "losses": list(self.losses),
            "final_loss": self.final_loss,
            "seconds": self.seconds,
            "steps": self.steps,
            "examples_per_second": self.examples_per_second,
            "examples": self.examples,
        }


def linear_schedule(steps: int, warmup_ratio: float):
    """LR multiplier for step s: 0 -> 1 over the warmup steps, then 1 -> 0 at ``steps``."""
    warmup = math.ceil(warmup_ratio * steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return factor


def cycle(batches: Iterable[dict]) -> Iterator[dict]:
    """Yield batches forever; each new pass calls ``iter()`` again (a new epoch for BucketedBatches)."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise RankbenchError("the training data yielded no batches", hint="check task.train_size")


def _to_device(t: torch.Tensor, device: torch.device, non_blocking: bool) -> torch.Tensor:
    if not non_blocking:
        return t.to(device)
    # a copy from pinned host memory is truly asynchronous; from pageable memory it is not
    return (t if t.is_pinned() else t.pin_memory()).to(device, non_blocking=True)


def run_training(
    model: torch.nn.Module,
    batches: Iterable[dict],
    *,
    steps: int,
    learning_rate: float,
    weight_decay: float,
    warmup_ratio: float,
    max_grad_norm: float,
    device: torch.device,
    seed: int,
    progress=None,
    log_every: int = 10,
    amp_dtype: torch.dtype | None = None,
) -> TrainStats:
    """Train ``model``'s trainable parameters for exactly ``steps`` optimizer steps.

    ``amp_dtype`` (e.g. torch.bfloat16 on a GPU) runs the forward pass under autocast; weights and
    optimizer state stay in their own dtype. ``progress(stage, done, total, {"loss": ...})`` is called
    every ``log_every`` steps and at the end.
    """
    seed_everything(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise RankbenchError(
            "the model has no trainable parameters", hint="was the LoRA adapter loaded frozen?"
        )
    fused = device.type == "cuda"  # one kernel for the whole update; on CPU foreach is the fast path
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay, fused=fused or None)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(steps, warmup_ratio))
    autocast = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
    non_blocking = device.type == "cuda"

    model.train()
    losses: list[float] = []
    window = torch.zeros((), device=device)  # summed on the device: no host sync per step
    window_steps = 0
    examples = 0
    data = cycle(batches)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        batch = {k: _to_device(v, device, non_blocking) for k, v in next(data).items()}
        examples += next(iter(batch.values())).shape[0]
        with autocast:
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        window += loss.detach().float()
        window_steps += 1
        if step % log_every == 0 or step == steps:
            mean = window.item() / window_steps  # the one host sync per window
            if not math.isfinite(mean):
                raise RankbenchError(
                    f"training diverged: the loss is {mean} at step {step}",
                    hint="lower train.learning_rate or train.max_grad_norm",
                )
            losses.append(mean)
            window.zero_()
            window_steps = 0
            if progress is not None:
                progress("train", step, steps, {"loss": mean})
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return TrainStats(
        losses=losses,
        final_loss=losses[-1],
        seconds=seconds,
        steps=steps,
        examples_per_second=examples / seconds if seconds > 0 else 0.0,
        examples=examples,
    )
