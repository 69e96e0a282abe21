"""Batched greedy generation for exact-match evaluation.

Prompts are token ids (already formatted by the profile). They are batched longest first, left-padded
(so every row's last prompt token sits at the same position and generation continues from there;
``generate`` derives position ids from the attention mask), decoded greedily with a fresh
``GenerationConfig`` (the model's own sampling defaults are ignored), and returned in the caller's
order. A row stops at EOS or at the first stop string; the batch stops when every row has stopped or
after ``max_new_tokens``. The text is cut at the first stop string.

Greedy decoding is deterministic on a given machine. Padding changes the arithmetic a little (a padded
row's matmuls see different shapes), so a row's logits in a batch match its logits alone to ~1e-6 in
float32, not bit for bit; a near-tie between two tokens can in principle resolve differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rankbench.bench.data import eval_order, pad_batch


@dataclass(frozen=True)
class Generation:
    text: str  # the new text, special tokens skipped, cut at the first stop string
    n_new_tokens: int  # tokens generated up to and including EOS / the token that completed a stop string
    finish: str  # "eos" | "stop" | "length"


def generate_greedy(
    model,
    tokenizer,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    stop: Sequence[str] = (),
    batch_size: int = 8,
    progress=None,
) -> list[Generation]:
    """Greedy continuations of ``prompts`` (lists of token ids), in the order given."""
    from transformers import GenerationConfig

    eos_ids = _eos_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    gen_cfg = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        eos_token_id=eos_ids,
        pad_token_id=pad_id,
    )
    device = next(model.parameters()).device
    seqs = [np.asarray(p, dtype=np.int64) for p in prompts]
    out: list[Generation | None] = [None] * len(seqs)
    was_training = model.training
    model.eval()
    done = 0
    try:
        for idx in eval_order(np.array([len(s) for s in seqs]), batch_size):
            input_ids, attention_mask = pad_batch([seqs[i] for i in idx], pad_id, side="left")
            # input_ids, attention_mask: (batch, longest prompt)
            criteria = _StopStrings(tokenizer, stop, input_ids.shape[1])
            with torch.inference_mode():
                generated = model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=attention_mask.to(device),
                    generation_config=gen_cfg,
                    stopping_criteria=[criteria] if stop else None,
                )
            new = generated[:, input_ids.shape[1] :].cpu()  # (batch, <= max_new_tokens)
            for row, i in enumerate(idx):
                out[i] = _finish(tokenizer, new[row].tolist(), eos_ids, stop, criteria.fired.get(row))
            done += len(idx)
            if progress is not None:
                progress("generate", done, len(seqs), {})
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the earliest occurrence of any stop string, and whether one was found."""
    cut = min((pos for s in stop if s and (pos := text.find(s)) >= 0), default=-1)
    return (text, False) if cut < 0 else (text[:cut], True)


def _finish(
    tokenizer, new: list[int], eos_ids: list[int], stop: Sequence[str], fired: int | None
) -> Generation:
    eos_at = next((k for k, t in enumerate(new) if t in eos_ids), None)
    kept = new if eos_at is None else new[:eos_at]
    text, stopped = truncate_at_stop(tokenizer.decode(kept, skip_special_tokens=True), stop)
    if stopped:
        return Generation(text, fired if fired is not None else len(kept), "stop")
    if eos_at is not None:
        return Generation(text, eos_at + 1, "eos")
    return Generation(text, len(new), "length")


def _eos_ids(model, tokenizer) -> list[int]:
    ids = []
    for source in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        for t in source if isinstance(source, (list, tuple)) else [source]:
            if t is not None and t not in ids:
                ids.append(int(t))
    if not ids:
        raise ValueError("the tokenizer has no eos token: generation could never stop early")
    return ids


class _StopStrings:
    """A stopping criterion: True for the rows whose new text contains a stop string.

    It decodes only the last few tokens of each row (a stop string of n characters spans at most n
    tokens, plus a few for tokens that decode to nothing); the final text is cut by ``truncate_at_stop``.
    ``fired[row]`` is the number of new tokens when the row first stopped.
    """

    def __init__(self, tokenizer, stop: Sequence[str], prompt_len: int) -> None:
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.prompt_len = prompt_len
        self.window = max((len(s) for s in self.stop), default=0) + 8
        self.fired: dict[int, int] = {}

    def __call__(self, input_ids: torch.LongTensor, scores=None, **kwargs) -> torch.BoolTensor:
        n_new = input_ids.shape[1] - self.prompt_len
        tails = input_ids[:, max(self.prompt_len, input_ids.shape[1] - self.window) :].tolist()
        hit = []
        for row, tail in enumerate(tails):
            if row in self.fired:
                hit.append(True)
                continue
            text = self.tokenizer.decode(tail, skip_special_tokens=True)
            found = any(s in text for s in self.stop)
            if found:
                self.fired[row] = n_new
            hit.append(found)
        return torch.tensor(hit, dtype=torch.bool, device=input_ids.device)
