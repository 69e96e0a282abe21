"""The evaluation forward of a sequence classifier: argmax class per item."""

from __future__ import annotations

from contextlib import nullcontext

import torch

from rankbench.bench.batch_workers import eval_workers, map_batches
from rankbench.bench.data import eval_order, pad_batch
from rankbench.bench.profiles.first_token import FirstTokenEval
from rankbench.bench.train import amp_dtype


def predict(
    model,
    split,
    pad: int,
    batch_size: int,
    device,
    cfg,
    progress=None,
    *,
    workers=None,
    first_token=True,
):
    """(argmax class per item in ``split`` order, how the logits were computed).

    Batches are sorted by length so padding stays small; on a CPU they run side by side, one per core
    (``batch_workers``); the last layer runs for the first token only where the head reads nothing else
    (``first_token``).
    """
    amp = amp_dtype(cfg, device)
    non_blocking = device.type == "cuda"
    preds = torch.empty(len(split.ids), dtype=torch.int64, device=device)
    batches = eval_order(split.lengths, batch_size)

    def tensors(idx):
        input_ids, mask = pad_batch([split.ids[i] for i in idx], pad)
        return input_ids.to(device, non_blocking=non_blocking), mask.to(device, non_blocking=non_blocking)

    forward = FirstTokenEval(model, enabled=first_token)
    if batches:
        with torch.inference_mode():
            forward.check(*tensors(batches[0]))

    def run(idx) -> None:
        input_ids, mask = tensors(idx)
        autocast = torch.autocast(device.type, dtype=amp) if amp is not None else nullcontext()
        with torch.inference_mode(), autocast:  # both are per thread
            logits = live(input_ids=input_ids, attention_mask=mask).logits
        preds[torch.from_numpy(idx).to(device)] = logits.argmax(-1)

    with forward.installed() as live:
        map_batches(batches, run, eval_workers(device) if workers is None else workers, progress)
    return preds.cpu().numpy(), {"path": forward.path, "reason": forward.reason}
