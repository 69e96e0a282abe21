"""Causal LMs scored by exact match of a generated answer (GSM8K and any prompt/answer JSONL).

- Formatting: ``task.prompt_template`` (with ``{prompt}``) and ``task.answer_template`` (with
  ``{answer}``). When the tokenizer has a chat template, the formatted prompt is the user turn and the
  eval prompt ends with the template's generation prompt; the formatted answer (leading whitespace
  dropped, as chat turns have none) follows it as the assistant turn. Training and evaluation see the
  exact same prompt ids.
- Loss: on the answer tokens and a final EOS only (so the model learns to stop). Labels are -100 on
  prompt and padding tokens; batches are built here, because a generic collator that rebuilds labels
  from input_ids would silently undo the masking (and mask EOS wherever pad == eos).
- Length: ``model.max_length`` bounds a training sequence (prompt + answer + EOS); longer ones lose
  the end of their answer, and an item whose prompt alone fills it is dropped (both counted and
  warned about). Eval prompts are not cut; ``task.max_new_tokens`` bounds what is generated.
- Metric ``eval_exact_match``: greedy generation (:mod:`rankbench.bench.profiles.generation`), the answer
  extracted (:mod:`rankbench.bench.profiles.answers`), 1.0 when it equals the gold answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rankbench.bench.profiles.base import (
    EvalResult,
    LoraSpec,
    PreparedData,
    ProgressFn,
    TrainJob,
    TrainResult,
)
from rankbench.errors import RankbenchError, warn

if TYPE_CHECKING:
    from rankbench.bench.config import BenchConfig

LLAMA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
GPT2_TARGETS = ["c_attn", "c_proj", "c_fc"]
GENERATED_CHARS = 1000  # generated text kept per record
IGNORE = -100


@dataclass
class TrainItems:
    """Training sequences: ``ids[i]`` = prompt + answer + EOS (int32), the first ``prompt_lens[i]`` masked."""

    ids: list[np.ndarray]
    prompt_lens: np.ndarray  # (n,) int64


@dataclass
class EvalItem:
    item_id: str
    prompt_ids: np.ndarray  # (prompt_len,) int32, ends where generation starts
    gold: str


class CausalLMExactMatchProfile:
    name = "causal_lm_exact_match"
    primary_metric_key = "eval_exact_match"
    model_type = "causal_lm"
    peft_task_type = "CAUSAL_LM"

    def __init__(self) -> None:
        self._sources: dict[tuple, object] = {}

    # --- model ----------------------------------------------------------------------------------

    def _source(self, cfg):
        """The resolved model (a local folder with safetensors); GGUF files are dequantised once."""
        m = cfg.model
        key = (m.name, m.revision, m.gguf_file)
        if key not in self._sources:
            from rankbench.bench.sources import resolve_model

            src = resolve_model(m)
            if getattr(src, "gguf_file", None):
                from rankbench.bench.gguf_cache import materialize_gguf

                slug = Path(src.gguf_file).stem.lower().replace(" ", "-")
                src = materialize_gguf(
                    Path(src.path) / src.gguf_file, name=slug, model_id=src.model_id, kind=src.kind
                )
            self._sources[key] = src
        return self._sources[key]

    def model_provenance(self, cfg) -> dict:
        src = self._source(cfg)
        return {"model_id": src.model_id, "revision": src.revision, "path": str(src.path), "kind": src.kind}

    def _tokenizer(self, cfg):
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(
            self._source(cfg).path, trust_remote_code=cfg.model.trust_remote_code
        )
        if tok.eos_token_id is None:
            raise RankbenchError(
                "the tokenizer has no EOS token: the model could not learn to stop",
                path=self._source(cfg).path,
                hint="set eos_token in tokenizer_config.json",
            )
        return tok

    def _model(self, cfg):
        import torch
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(
            self._source(cfg).path, dtype=torch.float32, trust_remote_code=cfg.model.trust_remote_code
        )

    def meta_model(self, cfg, data: PreparedData | None = None):
        """The base model on the meta device: names and shapes only, no memory, no weights read."""
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(
            self._source(cfg).path, trust_remote_code=cfg.model.trust_remote_code
        )
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config, trust_remote_code=cfg.model.trust_remote_code)

    def default_target_modules(self, cfg) -> list[str]:
        import torch
        from transformers.pytorch_utils import Conv1D

        return infer_target_modules(self.meta_model(cfg), (torch.nn.Linear, Conv1D))

    # --- data -----------------------------------------------------------------------------------

    def prepare(self, cfg, *, seed: int, cache_dir: Path) -> PreparedData:
        from rankbench.bench.profiles.prompt_data import load_prompt_splits

        splits = load_prompt_splits(cfg.task, seed=seed)
        tok = self._tokenizer(cfg)
        fmt = Formatter(tok, cfg.task)
        train, truncated, dropped = encode_train(fmt, splits.train, cfg.model.max_length)
        if dropped == len(splits.train):
            raise RankbenchError(
                f"every training prompt is at least model.max_length={cfg.model.max_length} tokens long",
                hint="raise model.max_length (GSM8K with a chat template needs about 512)",
            )
        if truncated:
            warn(
                f"{truncated} of {len(splits.train)} training items are longer than model.max_length="
                f"{cfg.model.max_length} tokens: their answers lose their end (and EOS)"
                + (f"; {dropped} have no answer token left and are dropped" if dropped else "")
            )
        evals = [EvalItem(it.item_id, fmt.prompt_ids(it.prompt), it.gold) for it in splits.eval]
        extra = {
            "chat_template": fmt.chat,
            "max_length": cfg.model.max_length,
            "train_truncated": truncated,
            "train_dropped": dropped,
            "eos_token_id": tok.eos_token_id,
        }
        return PreparedData(train, evals, [e.item_id for e in evals], splits.provenance, extra)

    # --- training -------------------------------------------------------------------------------

    def train(self, cfg: BenchConfig, data: PreparedData, job: TrainJob) -> TrainResult:
        from rankbench.bench.data import BucketedBatches
        from rankbench.bench.device import pick_device, seed_everything
        from rankbench.bench.train import train_adapter
        from rankbench.threads import set_torch_threads

        set_torch_threads()
        device = pick_device(cfg.train.device)
        seed_everything(job.seed)  # the LoRA A init draws from torch's generator
        tok = self._tokenizer(cfg)
        model = attach_lora(self._model(cfg), job.lora, job.init_adapter).to(device)
        items: TrainItems = data.train
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        batches = BucketedBatches(
            np.array([len(x) for x in items.ids]),
            cfg.train.batch_size,
            seed=job.seed,
            make_batch=lambda idx: collate_train(items, idx, pad_id),
        )
        return train_adapter(model, batches, cfg, job, device)

    # --- evaluation -----------------------------------------------------------------------------

    def evaluate(
        self, cfg, data: PreparedData, adapter_dir: Path, *, progress: ProgressFn | None = None
    ) -> EvalResult:
        import torch
        from peft import PeftModel

        from rankbench.bench.device import eval_batch_size, pick_device, pick_dtype
        from rankbench.bench.profiles.answers import score_answer
        from rankbench.bench.profiles.generation import generate_greedy
        from rankbench.threads import set_torch_threads

        t0 = time.perf_counter()
        set_torch_threads()
        device = pick_device(cfg.train.device)
        amp = pick_dtype(cfg.train.dtype, device)
        tok = self._tokenizer(cfg)
        # merged: the same function as the adapter, and no per-layer LoRA matmuls at every decode step
        model = PeftModel.from_pretrained(self._model(cfg), str(adapter_dir)).merge_and_unload().to(device)
        items: list[EvalItem] = data.eval
        autocast = torch.autocast(device.type, dtype=amp, enabled=amp != torch.float32)
        with autocast:
            gens = generate_greedy(
                model,
                tok,
                [e.prompt_ids for e in items],
                max_new_tokens=cfg.task.max_new_tokens,
                stop=cfg.task.stop,
                batch_size=eval_batch_size(cfg, device),
                progress=progress,
            )
        records = []
        for item, gen in zip(items, gens, strict=True):
            extracted, correct = score_answer(gen.text, item.gold)
            records.append(
                {
                    "item_id": item.item_id,
                    "score": 1.0 if correct else 0.0,
                    "correct": correct,
                    "extracted": extracted,
                    "gold": item.gold,
                    "generated": gen.text[:GENERATED_CHARS],
                    "n_new_tokens": gen.n_new_tokens,
                    "finish": gen.finish,
                }
            )
        value = float(np.mean([r["score"] for r in records])) if records else 0.0
        return EvalResult(self.primary_metric_key, value, records, time.perf_counter() - t0)


# --- formatting, batches, LoRA (module functions: testable without a profile) -------------------


class Formatter:
    """Turns a prompt (and answer) into token ids the same way for training and evaluation."""

    def __init__(self, tokenizer, task_cfg) -> None:
        self.tok = tokenizer
        self.task = task_cfg
        self.chat = bool(getattr(tokenizer, "chat_template", None))

    def prompt_ids(self, prompt: str) -> np.ndarray:
        text = self.task.prompt_template.format(prompt=prompt)
        if self.chat:
            text = self.tok.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
            )
            ids = self.tok(text, add_special_tokens=False)["input_ids"]  # the template wrote them
        else:
            ids = self.tok(text, add_special_tokens=True)["input_ids"]  # e.g. BOS for Llama
        return np.asarray(ids, dtype=np.int32)

    def answer_ids(self, answer: str) -> np.ndarray:
        text = self.task.answer_template.format(answer=answer)
        if self.chat:
            text = text.lstrip()
        ids = self.tok(text, add_special_tokens=False)["input_ids"] + [self.tok.eos_token_id]
        return np.asarray(ids, dtype=np.int32)


def encode_train(fmt: Formatter, items, max_length: int) -> tuple[TrainItems, int, int]:
    """(train items, how many were cut at max_length, how many had no answer token left and were dropped)."""
    ids, prompt_lens, truncated, dropped = [], [], 0, 0
    for it in items:
        p, a = fmt.prompt_ids(it.prompt), fmt.answer_ids(it.answer)
        if len(p) + len(a) > max_length:
            truncated += 1
            if len(p) >= max_length:
                dropped += 1
                continue
        ids.append(np.concatenate([p, a])[:max_length])
        prompt_lens.append(len(p))
    return TrainItems(ids, np.asarray(prompt_lens, dtype=np.int64)), truncated, dropped


def collate_train(items: TrainItems, idx, pad_id: int) -> dict:
    """Right-padded batch; labels = ids on answer tokens (+EOS), -100 on prompt and padding."""
    import torch

    seqs = [items.ids[i] for i in idx]
    longest = max(len(s) for s in seqs)
    input_ids = np.full((len(seqs), longest), pad_id, dtype=np.int64)  # (batch, longest)
    attention_mask = np.zeros((len(seqs), longest), dtype=np.int64)
    labels = np.full((len(seqs), longest), IGNORE, dtype=np.int64)
    for row, (i, s) in enumerate(zip(idx, seqs, strict=True)):
        input_ids[row, : len(s)] = s
        attention_mask[row, : len(s)] = 1
        p = int(items.prompt_lens[i])
        labels[row, p : len(s)] = s[p:]
    return {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(attention_mask),
        "labels": torch.from_numpy(labels),
    }


def infer_target_modules(model, linear_types: tuple) -> list[str]:
    """Llama-like or GPT-2 projections when the model has them all, else every linear layer but the head."""
    head = model.get_output_embeddings()
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, linear_types) and module is not head
    }
    for known in (LLAMA_TARGETS, GPT2_TARGETS):
        if set(known) <= names:
            return list(known)
    if not names:
        raise RankbenchError(
            f"found no linear layers to put LoRA on in {type(model).__name__}",
            hint="name them in lora.target_modules",
        )
    return sorted(names)


def attach_lora(model, lora: LoraSpec, init_adapter: Path | None):
    """A PEFT model: a fresh LoRA as ``lora`` says, or a saved adapter to continue training."""
    from peft import PeftModel, get_peft_model

    if init_adapter is not None:
        return PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
    config = lora.to_peft_config(CausalLMExactMatchProfile.peft_task_type)
    return get_peft_model(model, config)
