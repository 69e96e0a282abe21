"""The ``lm_eval`` evaluator: lm-evaluation-harness scores every adapter, on one base loaded once.

lm-eval does the scoring (its prompts, its filters, its metrics); rankbench builds the model object it
is handed (``HFLM(pretrained=<PeftModel>)``) and swaps each variant's adapter in place
(:mod:`~rankbench.bench.evaluators.adapter_swap`), so start-up, imports and the base model's load are
paid once per bench, not once per variant. The tasks are loaded once too and re-evaluated with the
seeds ``lm_eval.simple_evaluate`` uses, re-seeded before every adapter, so every adapter sees the same
prompts and few-shot examples.

Each evaluation's per-document samples go through the one reader of lm-eval's sample format
(:func:`rankbench.compare.lm_eval.samples_scores`, which ``rankbench compare`` uses on ``--log_samples``
files), and become ``predictions.jsonl`` rows: ``item_id`` (lm-eval's ``doc_id``, prefixed with
``<task>:`` when the bench has several tasks), ``score``, ``task``, ``doc_id``, ``metric``, ``filter``,
``doc_hash``, ``prompt``, ``target`` and, for generation tasks, the filtered ``response``. A task whose
documents change between two evaluations (its ``doc_hash`` list differs) stops the bench (exit 2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankbench.bench.evaluators import lm_eval_tasks as lt
from rankbench.errors import RankbenchError

if TYPE_CHECKING:
    from rankbench.bench.config import EvalConfig
    from rankbench.bench.profiles.base import EvalResult, ProgressFn

DEFAULT_BATCH_SIZE = 8


@dataclass(frozen=True)
class LmEvalSettings:
    """The ``eval`` keys the lm_eval evaluator reads (see ``rankbench init-config``)."""

    tasks: tuple[str, ...]
    metric: str | None = None
    filter: str | None = None
    num_fewshot: int | None = None
    limit: int | None = None
    batch_size: int | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    backend: str = "hf"

    @classmethod
    def from_config(cls, e: EvalConfig) -> LmEvalSettings:
        return cls(
            tuple(e.tasks),
            e.metric,
            e.filter,
            e.num_fewshot,
            e.limit,
            e.batch_size,
            dict(e.model_args),
            e.backend,
        )


def check_backend(backend: str) -> None:
    """vllm needs vllm installed and a CUDA GPU; anything else exits 2 before a model loads."""
    import importlib.util

    if backend != "vllm":
        return
    if importlib.util.find_spec("vllm") is None:
        raise RankbenchError(
            "eval.backend vllm: vllm is not installed",
            hint="pip install vllm on a machine with a CUDA GPU, or set eval.backend: hf",
        )
    import torch

    if not torch.cuda.is_available():
        raise RankbenchError(
            "eval.backend vllm needs a CUDA GPU and this machine has none",
            hint="set eval.backend: hf (transformers runs on the CPU)",
        )


def _model_kwargs(model_args: dict[str, Any]) -> dict[str, Any]:
    import torch

    kwargs = dict(model_args)
    dtype = kwargs.get("dtype", "float32")
    if isinstance(dtype, str) and dtype != "auto":
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise RankbenchError(
                f"eval.model_args.dtype {dtype!r} is not a torch dtype",
                hint="use float32, bfloat16 or float16",
            )
        dtype = getattr(torch, dtype)
    kwargs["dtype"] = dtype
    return kwargs


class LmEvalEvaluator:
    """Scores adapter folders with lm-eval tasks; the base model loads at the first :meth:`evaluate`."""

    name = "lm_eval"

    def __init__(self, settings: LmEvalSettings, *, base: str | Path, device: str = "cpu"):
        self.settings, self.base, self.device = settings, str(base), device
        self._lm_eval = lt.require_lm_eval()
        check_backend(settings.backend)
        _quiet_lm_eval()
        manager, names = lt.resolve_tasks(list(settings.tasks))
        self._loaded = lt.load_tasks(manager, names)
        self._tasks = self._loaded["tasks"]
        self._set_fewshot()
        self.choices = lt.choose(self._tasks, settings.metric, settings.filter)
        self._configs = {name: lt.config_record(task) for name, task in self._tasks.items()}
        self._documents: dict[str, tuple[str, ...]] = {}
        self._host = None
        self._lm = None

    def _set_fewshot(self) -> None:
        """num_fewshot as ``simple_evaluate`` sets it: the setting, except where a task pins 0; else 0."""
        n = self.settings.num_fewshot
        for task in self._tasks.values():
            own = task.get_config("num_fewshot")
            if n is not None and own != 0:
                task.set_config(key="num_fewshot", value=n)
            elif own is None:
                task.set_config(key="num_fewshot", value=0)

    @property
    def primary(self) -> lt.TaskChoice:
        return self.choices[0]

    @property
    def metric_key(self) -> str:
        p = self.primary
        return f"{p.name}/{p.metric}" + ("" if p.filter == "none" else f"/{p.filter}")

    def _model(self, adapter_dir: Path) -> str:
        """Load the base and the first adapter once; after that, swap the adapter in place."""
        if self._host is not None:
            return self._host.load(adapter_dir)
        if self.settings.backend == "vllm":
            from rankbench.bench.evaluators.lm_eval_vllm import VllmHost

            self._host = VllmHost(self.base, adapter_dir, self.settings, self.device)
            self._lm = self._host.lm
            return "loaded"
        from lm_eval.models.huggingface import HFLM
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from rankbench.bench.evaluators.adapter_swap import AdapterHost

        base = AutoModelForCausalLM.from_pretrained(self.base, **_model_kwargs(self.settings.model_args))
        self._host = AdapterHost(base.to(self.device), adapter_dir)
        tokenizer = AutoTokenizer.from_pretrained(self.base)
        bs = self.settings.batch_size or DEFAULT_BATCH_SIZE
        self._lm = HFLM(pretrained=self._host.model, tokenizer=tokenizer, batch_size=bs, device=self.device)
        return "loaded"

    def _run(self) -> dict[str, list[dict]]:
        """One lm-eval evaluation of the current adapter, seeded as ``simple_evaluate`` seeds it."""
        import random

        import numpy as np
        import torch
        from lm_eval.defaults import DEFAULT_OTHER_SEED, DEFAULT_RANDOM_SEED
        from lm_eval.evaluator import evaluate

        random.seed(DEFAULT_RANDOM_SEED)
        np.random.seed(DEFAULT_OTHER_SEED)
        torch.manual_seed(DEFAULT_OTHER_SEED)
        for task in self._tasks.values():
            task.set_fewshot_seed(seed=DEFAULT_OTHER_SEED)
        res = evaluate(
            lm=self._lm,
            task_dict=self._loaded,
            limit=self.settings.limit,
            bootstrap_iters=0,
            log_samples=True,
        )
        return res["samples"]

    def evaluate(self, adapter_dir: Path, *, progress: ProgressFn | None = None) -> EvalResult:
        from rankbench.bench.profiles.base import EvalResult

        start = time.perf_counter()
        swap = self._model(Path(adapter_dir))
        loaded = time.perf_counter()
        samples = self._run()
        records = []
        for choice in self.choices:
            records += self._task_records(choice, samples[choice.name], prefix=len(self.choices) > 1)
        primary = [r["score"] for r in records if r["task"] == self.primary.name]
        forward = {
            "harness": self.name,
            "backend": self.settings.backend,
            "adapter": swap,
            "load_seconds": round(loaded - start, 3),
            "requests_seconds": round(time.perf_counter() - loaded, 3),
        }
        return EvalResult(
            self.metric_key, sum(primary) / len(primary), records, time.perf_counter() - start, forward
        )

    def _task_records(self, choice: lt.TaskChoice, rows: list[dict], *, prefix: bool) -> list[dict]:
        from rankbench.compare.lm_eval import prompt_of, samples_scores
        from rankbench.compare.records import Selection

        where = f"lm-eval task {choice.name}"
        scores = samples_scores(
            rows, choice.name, Selection(choice.name, choice.metric, choice.filter), where
        )
        self._check_documents(choice.name, scores.doc_hashes or ())
        rows = [r for r in rows if str(r["filter"]) == choice.filter]
        out = []
        for row, item, score in zip(rows, scores.ids, scores.scores, strict=True):
            rec = {
                "item_id": f"{choice.name}:{item}" if prefix else item,
                "score": float(score),
                "task": choice.name,
                "doc_id": row["doc_id"],
                "metric": choice.metric,
                "filter": choice.filter,
                "doc_hash": row.get("doc_hash"),
                "prompt": prompt_of(row),
                "target": str(row.get("target")),
            }
            response = (row.get("filtered_resps") or [None])[0]
            if isinstance(response, str):
                rec["response"] = response
            out.append(rec)
        return out

    def _check_documents(self, task: str, hashes: tuple[str, ...]) -> None:
        seen = self._documents.setdefault(task, hashes)
        if seen != hashes:
            first = next(
                (i for i, (a, b) in enumerate(zip(seen, hashes, strict=False)) if a != b),
                min(len(seen), len(hashes)),
            )
            raise RankbenchError(
                f"lm-eval task {task!r}: its documents changed between two evaluations ({len(seen)} then "
                f"{len(hashes)} documents; the first difference is at document {first})",
                hint="the task's data or its processing changed during the bench; every adapter must be "
                "scored on the same documents: fix the data and rerun the bench",
            )

    def expect_documents(self, recorded: dict[str, dict]) -> None:
        """Exit 2 unless each task's documents match ``recorded`` (a rerun's provenance), once they are known."""
        for task, digest in recorded.items():
            if task in self._documents and lt.documents_digest(self._documents[task]) != digest:
                raise RankbenchError(
                    f"lm-eval task {task!r}: its documents differ from the ones this bench evaluated before "
                    "(doc_hash)",
                    hint="the task's data changed since the run started; use a new output folder",
                )

    def provenance(self) -> dict:
        tasks = {}
        for choice in self.choices:
            rec = dict(
                self._configs[choice.name],
                metric=choice.metric,
                filter=choice.filter,
                output_type=choice.output_type,
            )
            if choice.name in self._documents:
                rec["documents"] = lt.documents_digest(self._documents[choice.name])
            tasks[choice.name] = rec
        return {
            "harness": self.name,
            "lm_eval_version": self._lm_eval.__version__,
            "backend": self.settings.backend,
            "primary": self.metric_key,
            "limit": self.settings.limit,
            "num_fewshot": self.settings.num_fewshot,
            "tasks": tasks,
        }


def _quiet_lm_eval() -> None:
    """lm-eval and datasets log every step at INFO; a bench shows its own progress."""
    import logging

    for name in ("lm-eval", "lm_eval", "datasets"):
        logging.getLogger(name).setLevel(logging.WARNING)
