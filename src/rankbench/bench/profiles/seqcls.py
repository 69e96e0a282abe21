"""Sequence classification: an encoder (or decoder) with a classification head, LoRA on its Linears.

The head (and any other module the checkpoint lacks, e.g. DistilBERT's ``pre_classifier``) is trained
in full and saved in the adapter (PEFT ``modules_to_save``), so an adapter folder alone reproduces the
classifier. Score per eval item: 1.0 when the argmax class equals the label, else 0.0.

Within one process the base model for evaluation is loaded once: each ``evaluate()`` merges the
adapter into it, runs, and restores the pristine base weights from a snapshot, so the ~7 variant
evaluations of a bench share one load. A failure on the way drops the cached base rather than risk
reusing a modified one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from rankbench.bench.data import (
    BucketedBatches,
    cached_tokenize,
    pad_batch,
    sample_items,
    split_items,
)
from rankbench.bench.device import eval_batch_size, pick_device, seed_everything
from rankbench.bench.profiles.base import EvalResult, LoraSpec, PreparedData, TrainJob, TrainResult
from rankbench.bench.profiles.seqcls_eval import predict
from rankbench.bench.profiles.seqcls_model import (
    extra_head_modules,
    linear_targets,
    load_base,
    load_tokenizer,
    meta_classifier,
    pad_id,
    tokenizer_key,
)
from rankbench.bench.sources import ModelSource, load_rows, resolve_model
from rankbench.bench.train import train_adapter
from rankbench.errors import RankbenchError
from rankbench.threads import set_torch_threads

if TYPE_CHECKING:
    from rankbench.bench.config import BenchConfig


@dataclass
class SeqClsSplit:
    ids: list[np.ndarray]  # token ids per item (int32, already truncated)
    labels: np.ndarray  # (n,) int64 class indices
    item_ids: list[str]

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.ids), dtype=np.int64, count=len(self.ids))


class SeqClsProfile:
    name = "seqcls"
    primary_metric_key = "eval_accuracy"
    model_type = "seq_cls"
    peft_task_type = "SEQ_CLS"

    def __init__(self) -> None:
        self._sources: dict[tuple, ModelSource] = {}
        self._eval_base: tuple | None = None  # (key, model, pristine state dict)

    # --- data ---------------------------------------------------------------------------------

    def source(self, cfg) -> ModelSource:
        key = (cfg.model.name, cfg.model.revision, cfg.model.gguf_file)
        if key not in self._sources:
            self._sources[key] = resolve_model(cfg.model)
        return self._sources[key]

    def model_provenance(self, cfg) -> dict:
        return self.source(cfg).to_dict()

    def prepare(self, cfg, *, seed: int, cache_dir: Path) -> PreparedData:
        t = cfg.task
        rows, prov = load_rows(t)
        where = prov.get("dataset_id")
        if t.eval_split is None:
            train_idx, eval_idx = split_items(
                len(rows), seed=seed, eval_size=t.eval_size, train_size=t.train_size, source=where
            )
            train_rows, eval_rows = [rows[i] for i in train_idx], [rows[i] for i in eval_idx]
        else:
            eval_all, eval_prov = load_rows(t, split=t.eval_split)
            eval_rows = [
                eval_all[i] for i in sample_items(len(eval_all), t.eval_size, seed=seed, source=where)
            ]
            train_rows = [rows[i] for i in _train_draw(len(rows), t.train_size, seed, where)]
            prov = {**prov, "eval_split": t.eval_split, "eval_revision": eval_prov.get("revision")}
        # classes from every loaded row, so that num_labels does not depend on which items a seed drew
        every = rows if t.eval_split is None else rows + eval_all
        label_names, index = label_vocab(
            [r[t.label_column] for r in every], t.label_column, where, order=t.labels
        )

        source = self.source(cfg)
        tokenizer = load_tokenizer(source, cfg)
        texts = [str(r[t.text_column]) for r in train_rows + eval_rows]
        tok = cached_tokenize(
            lambda xs: tokenizer(xs, truncation=True, max_length=cfg.model.max_length)["input_ids"],
            texts,
            fingerprint=tokenizer_key(source),
            max_length=cfg.model.max_length,
            cache_dir=cache_dir,
            extra=f"seqcls:{type(tokenizer).__name__}",
        )
        n_train = len(train_rows)

        def split(rows_, offset):
            labels = np.array([index[_as_label(r[t.label_column])] for r in rows_], dtype=np.int64)
            return SeqClsSplit(
                [tok[offset + i] for i in range(len(rows_))], labels, [r["item_id"] for r in rows_]
            )

        train, evals = split(train_rows, 0), split(eval_rows, n_train)
        prov = {
            **prov,
            "split_sizes": {"train": n_train, "eval": len(eval_rows)},
            "requested_split": t.split,
            "label_order": label_names,
            "label_order_source": "config: task.labels" if t.labels else "sorted label values",
        }
        extra = {
            "num_labels": len(label_names),
            "label_names": label_names,
            "pad_token_id": pad_id(tokenizer),
            "tokens_cache_hit": tok.cache_hit,
            "mean_tokens": float(tok.lengths.mean()),
        }
        return PreparedData(train=train, eval=evals, eval_ids=evals.item_ids, provenance=prov, extra=extra)

    # --- model --------------------------------------------------------------------------------

    def meta_model(self, cfg, data: PreparedData):
        """The classifier with the task's head on the meta device: names and shapes, no weights."""
        return meta_classifier(self.source(cfg), cfg, data.extra["num_labels"])

    def default_target_modules(self, cfg) -> list[str]:
        """Leaf names of the Linear (and GPT-2 Conv1D) layers of the encoder/decoder, not of the head."""
        return linear_targets(self.source(cfg), cfg)

    def train(self, cfg: BenchConfig, data: PreparedData, job: TrainJob) -> TrainResult:
        set_torch_threads()
        device = pick_device(cfg.train.device)
        seed_everything(job.seed)  # the head's initial weights come from this
        base, missing = load_base(self.source(cfg), cfg, data.extra["num_labels"], data.extra["pad_token_id"])
        model = attach_lora(base, job.lora, job.init_adapter, extra_head_modules(missing)).to(device)
        pad = data.extra["pad_token_id"]
        split: SeqClsSplit = data.train

        def make_batch(idx):
            input_ids, mask = pad_batch([split.ids[i] for i in idx], pad)
            return {
                "input_ids": input_ids,
                "attention_mask": mask,
                "labels": torch.from_numpy(split.labels[idx]),
            }

        batches = BucketedBatches(split.lengths, cfg.train.batch_size, seed=job.seed, make_batch=make_batch)
        return train_adapter(model, batches, cfg, job, device)

    def evaluate(self, cfg, data: PreparedData, adapter_dir: Path, *, progress=None) -> EvalResult:
        from peft import PeftModel

        set_torch_threads()
        _check_adapter_dir(Path(adapter_dir))
        start = time.perf_counter()
        device = pick_device(cfg.train.device)
        key, base, pristine = self._base_for_eval(cfg, data, device)
        self._eval_base = None  # until the base is pristine again, nobody may reuse it
        try:
            model = PeftModel.from_pretrained(base, str(adapter_dir))
        except (RuntimeError, ValueError, KeyError) as exc:
            raise RankbenchError(
                f"the adapter does not fit this model and task: {str(exc).splitlines()[0]}",
                path=adapter_dir,
                hint=f"was it trained on {cfg.model.name} with {data.extra['num_labels']} labels?",
            ) from None
        # merged: the same function with one matmul per layer instead of three; the head becomes the
        # adapter's copy. Loading the snapshot afterwards makes the base pristine for the next adapter.
        merged = model.merge_and_unload().eval()
        pad = data.extra["pad_token_id"]
        preds, forward = predict(merged, data.eval, pad, eval_batch_size(cfg, device), device, cfg, progress)
        merged.load_state_dict(pristine, strict=True)
        self._eval_base = (key, merged, pristine)
        labels = data.eval.labels
        records = [
            {"item_id": iid, "score": float(p == y), "pred": int(p), "label": int(y)}
            for iid, p, y in zip(data.eval.item_ids, preds.tolist(), labels.tolist(), strict=True)
        ]
        value = float(np.mean(preds == labels)) if len(labels) else 0.0
        return EvalResult(self.primary_metric_key, value, records, time.perf_counter() - start, forward)

    def _base_for_eval(self, cfg, data: PreparedData, device: torch.device):
        source = self.source(cfg)
        key = (
            str(source.path),
            source.revision,
            data.extra["num_labels"],
            data.extra["pad_token_id"],
            str(device),
        )
        if self._eval_base is None or self._eval_base[0] != key:
            self._eval_base = None  # free the old one first
            base, _ = load_base(source, cfg, data.extra["num_labels"], data.extra["pad_token_id"])
            base.to(device).eval()
            # on the CPU: a GPU keeps room for activations; copying back is cheap next to an eval
            pristine = {k: v.detach().to("cpu", copy=True) for k, v in base.state_dict().items()}
            self._eval_base = (key, base, pristine)
        return self._eval_base


# --- helpers ------------------------------------------------------------------------------------


def _train_draw(n_rows: int, train_size: int | None, seed: int, where) -> np.ndarray:
    if train_size is None:
        return np.arange(n_rows, dtype=np.int64)
    train_idx, _ = split_items(n_rows, seed=seed, eval_size=0, train_size=train_size, source=where)
    return train_idx


def _as_label(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def label_vocab(values: list, column: str, where, order: list | None = None) -> tuple[list, dict]:
    """Distinct labels and value -> class index: in ``order`` (task.labels) when given, else sorted
    (numbers numerically, then strings)."""
    distinct = {_as_label(v) for v in values}
    if order is not None:
        names = [_as_label(v) for v in order]
        unknown = sorted((v for v in distinct if v not in set(names)), key=str)
        if unknown:
            raise RankbenchError(
                f"column {column!r} has the label {unknown[0]!r}, which task.labels does not list "
                f"({', '.join(map(repr, names))})",
                path=where,
                hint="list every label value of the data in task.labels, in the adapter's class order",
            )
        return names, {v: i for i, v in enumerate(names)}
    if any(not isinstance(v, (int, str)) for v in distinct):
        bad = next(v for v in distinct if not isinstance(v, (int, str)))
        raise RankbenchError(
            f"column {column!r} has a label {bad!r}; expected integers or strings", path=where
        )
    names = sorted(distinct, key=lambda v: (isinstance(v, str), v))
    if len(names) < 2:
        raise RankbenchError(
            f"column {column!r} has a single label value ({names[0]!r}); need 2 or more",
            path=where,
            hint="check task.label_column",
        )
    return names, {v: i for i, v in enumerate(names)}


def _check_adapter_dir(path: Path) -> None:
    if not (path / "adapter_config.json").is_file():
        raise RankbenchError("not an adapter folder: no adapter_config.json", path=path)
    if not (path / "adapter_model.safetensors").is_file():
        pickled = (path / "adapter_model.bin").is_file()
        raise RankbenchError(
            "the adapter has only pickled weights (adapter_model.bin)"
            if pickled
            else "no adapter_model.safetensors",
            path=path,
            hint="re-save it with save_pretrained() (safetensors is the default)",
        )


def attach_lora(base, lora: LoraSpec, init_adapter: Path | None, head_modules: list[str]):
    """A PEFT classifier: a fresh LoRA as ``lora`` says (the head trained in full and saved with it),
    or a saved adapter to continue training."""
    from peft import PeftModel, get_peft_model

    if init_adapter is not None:
        _check_adapter_dir(Path(init_adapter))
        return PeftModel.from_pretrained(base, str(init_adapter), is_trainable=True)
    config = lora.to_peft_config(SeqClsProfile.peft_task_type, modules_to_save=head_modules)
    return get_peft_model(base, config)
