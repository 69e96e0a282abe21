"""The generic training loop: AdamW over the trainable parameters, linear warmup then linear decay.

Task-agnostic: every batch is a dict of tensors passed as ``model(**batch)``, and the model computes
its own ``.loss`` from the labels in the batch (-100 = ignored). The loop takes exactly ``steps``
optimizer steps, cycling the data when it runs out. It never syncs the host with the device except
every ``log_every`` steps (to read the running loss), so on a GPU the CPU queues work ahead.

:func:`train_adapter` is what a task profile calls: the loop with the config's ``train`` recipe, then
the adapter saved atomically, as a :class:`~rankbench.bench.profiles.base.TrainResult`.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from rankbench.bench.device import pick_dtype, seed_everything
from rankbench.bench.profiles.base import TrainJob, TrainResult
from rankbench.bench.sources import PortableBase, portable_base
from rankbench.errors import RankbenchError
from rankbench.io import atomic_write_text, give_normal_modes

if TYPE_CHECKING:
    from rankbench.bench.config import BenchConfig


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


def amp_dtype(cfg: BenchConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``train.dtype`` on this device; None for float32 (no autocast)."""
    dtype = pick_dtype(cfg.train.dtype, device)
    return None if dtype == torch.float32 else dtype


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
    params = _trainable(model)
    fused = device.type == "cuda"  # one kernel for the whole update; on CPU foreach is the fast path
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay, fused=fused or None)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(steps, warmup_ratio))
    autocast = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
    non_blocking = device.type == "cuda"

    model.train()
    window = _LossWindow(device)
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
        window.add(loss)
        if step % log_every == 0 or step == steps:
            mean = window.close(step)
            if progress is not None:
                progress("train", step, steps, {"loss": mean})
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return TrainStats(
        losses=window.means,
        final_loss=window.means[-1],
        seconds=seconds,
        steps=steps,
        examples_per_second=examples / seconds if seconds > 0 else 0.0,
        examples=examples,
    )


def _trainable(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise RankbenchError(
            "the model has no trainable parameters", hint="was the LoRA adapter loaded frozen?"
        )
    return params


class _LossWindow:
    """The running loss, summed on the device (no host sync per step) and read once per window."""

    def __init__(self, device: torch.device) -> None:
        self.sum = torch.zeros((), device=device)
        self.steps = 0
        self.means: list[float] = []

    def add(self, loss: torch.Tensor) -> None:
        self.sum += loss.detach().float()
        self.steps += 1

    def close(self, step: int) -> float:
        """The window's mean loss (the one host sync); a non-finite one stops the training."""
        mean = self.sum.item() / self.steps
        if not math.isfinite(mean):
            raise RankbenchError(
                f"training diverged: the loss is {mean} at step {step}",
                hint="lower train.learning_rate or train.max_grad_norm",
            )
        self.means.append(mean)
        self.sum.zero_()
        self.steps = 0
        return mean


def train_adapter(
    model: torch.nn.Module,
    batches: Iterable[dict],
    cfg: BenchConfig,
    job: TrainJob,
    device: torch.device,
) -> TrainResult:
    """A profile's training: ``run_training`` with the config's ``train`` recipe (autocast to
    ``train.dtype``), then the adapter saved to ``job.out_dir``."""
    t = cfg.train
    amp = amp_dtype(cfg, device)
    stats = run_training(
        model,
        batches,
        steps=job.steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        warmup_ratio=t.warmup_ratio,
        max_grad_norm=t.max_grad_norm,
        device=device,
        seed=job.seed,
        progress=job.progress,
        amp_dtype=amp,
    )
    save_adapter(model, Path(job.out_dir), portable_base(cfg.model))
    return TrainResult(
        adapter_dir=Path(job.out_dir),
        steps=stats.steps,
        final_loss=stats.final_loss,
        losses=list(stats.losses),
        seconds=stats.seconds,
        examples_per_second=stats.examples_per_second,
        device=str(device),
        compute_dtype=str(amp or torch.float32).removeprefix("torch."),
    )


def save_adapter(model: torch.nn.Module, out_dir: Path, base: PortableBase | None = None) -> None:
    """save_pretrained into ``out_dir.tmp``, then rename: a killed run never leaves a half adapter.

    ``base`` is the name written as ``base_model_name_or_path`` (and in PEFT's model card) instead of
    the folder the base was loaded from, so the adapter loads on another machine; the files get the
    modes a normal write would (PEFT leaves the weights 0600).
    """
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp), safe_serialization=True)
    _name_base(tmp, base)
    give_normal_modes(tmp)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)


def _name_base(folder: Path, base: PortableBase | None) -> None:
    """Replace the loaded-from folder in a saved adapter's config and model card by ``base``.

    Done after the save, not before it: PEFT looks a hub id up on the network while saving (to check
    the vocabulary), and the bench never needs the network.
    """
    config_path = folder / "adapter_config.json"
    if base is None or not config_path.is_file():
        return
    config = json.loads(config_path.read_text(encoding="utf-8"))
    local = config.get("base_model_name_or_path")
    config["base_model_name_or_path"] = base.name
    if base.revision is not None:
        config["revision"] = base.revision
    atomic_write_text(config_path, json.dumps(config, indent=2, sort_keys=True))
    card = folder / "README.md"
    if card.is_file():
        text = card.read_text(encoding="utf-8")
        named = re.search(r"^base_model: *['\"]?(.+?)['\"]?$", text, flags=re.MULTILINE)
        for old in {local, named and named.group(1)} - {None, ""}:
            text = text.replace(old, base.name)  # the front matter's base_model and its tag
        atomic_write_text(card, text)
