"""Prompt/answer items for generative tasks, with their provenance.

``task.dataset`` is one of:

- a folder with one JSONL (or CSV/JSON) file per split, e.g. a local GSM8K copy with ``train.jsonl``
  and ``test.jsonl`` ("question"/"answer" fields; the gold answer is the number after ``####``);
- one JSONL/CSV file with a prompt and an answer field (``task.prompt_field`` / ``task.answer_field``);
- a hub dataset id (``gsm8k`` with ``task.subset: main``), read with the ``datasets`` library, online.

Reading is :func:`rankbench.bench.sources.load_rows`, the code path classification uses too, so ids
and revisions mean the same thing in both: ``item_id`` is ``<split>/<row>`` for a folder (``test/17``
is the 18th row of test.jsonl; the same row number as the hub split) and the revision is
``sha256:<hex>`` of the files read, or the hub commit.

Train items come from ``task.split``. Eval items come from ``task.eval_split`` when it is set (a
separate split, e.g. ``test``), else they are carved from ``task.split``; ``task.eval_size`` and
``task.train_size`` pick deterministic subsets from the seed (:mod:`rankbench.bench.data`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from rankbench.bench.data import sample_items, split_items
from rankbench.bench.profiles.answers import gold_answer
from rankbench.bench.sources import load_rows
from rankbench.errors import RankbenchError


@dataclass(frozen=True)
class PromptItem:
    item_id: str  # stable across variants and seeds: "<split>/<row>" (folder, hub) or "<row>" (one file)
    prompt: str  # the raw prompt field; the profile applies task.prompt_template
    answer: str  # the raw answer field: the training target (GSM8K: reasoning, then "#### <number>")
    gold: str  # the normalised gold answer scored against (answers.gold_answer)


@dataclass(frozen=True)
class PromptSplits:
    train: list[PromptItem]
    eval: list[PromptItem]  # in dataset order
    provenance: dict


def load_prompt_splits(task_cfg, *, seed: int) -> PromptSplits:
    """Train and eval items of ``task_cfg`` for ``seed`` (see the module doc)."""
    columns = (task_cfg.prompt_field, task_cfg.answer_field)
    source = task_cfg.dataset
    rows, prov = load_rows(task_cfg, columns=columns, split=task_cfg.split)
    if task_cfg.eval_split is None:
        train_idx, eval_idx = split_items(
            len(rows), seed=seed, eval_size=task_cfg.eval_size, train_size=task_cfg.train_size, source=source
        )
        train_rows, eval_rows = [rows[i] for i in train_idx], [rows[i] for i in eval_idx]
        provs = {task_cfg.split: prov}
    else:
        if Path(source).expanduser().is_file():
            raise RankbenchError(
                f"task.eval_split is {task_cfg.eval_split!r} but task.dataset is a single file",
                path=source,
                hint="put one file per split in a folder (train.jsonl, test.jsonl), or set task.eval_split: null",
            )
        if task_cfg.eval_split == task_cfg.split:
            raise RankbenchError(
                f"task.eval_split equals task.split ({task_cfg.split!r}): eval items would be trained on",
                hint="set task.eval_split: null to carve eval items out of task.split",
            )
        held, held_prov = load_rows(task_cfg, columns=columns, split=task_cfg.eval_split)
        train_rows = [rows[i] for i in sample_items(len(rows), task_cfg.train_size, seed=seed, source=source)]
        eval_rows = [
            held[i] for i in sample_items(len(held), task_cfg.eval_size, seed=seed + 1, source=source)
        ]
        provs = {task_cfg.split: prov, task_cfg.eval_split: held_prov}
    train = [_item(r, columns) for r in train_rows]
    evals = [_item(r, columns) for r in eval_rows]
    return PromptSplits(train, evals, _provenance(task_cfg, provs, len(train), len(evals)))


def _item(row: dict, columns: tuple[str, str]) -> PromptItem:
    prompt, answer = str(row[columns[0]]), str(row[columns[1]])
    return PromptItem(item_id=str(row["item_id"]), prompt=prompt, answer=answer, gold=gold_answer(answer))


def _provenance(task_cfg, provs: dict[str, dict], n_train: int, n_eval: int) -> dict:
    revisions = {split: p.get("revision") for split, p in provs.items()}
    unique = sorted({str(r) for r in revisions.values()})
    if len(unique) == 1:
        revision = unique[0]
    else:  # two local files: one revision over both (each is also recorded)
        revision = "sha256:" + hashlib.sha256("\n".join(unique).encode()).hexdigest()
    first = next(iter(provs.values()))
    # a folder's loads name each split's file; the dataset is what the user named
    dataset_id = first.get("dataset_id") if first.get("kind") == "builtin" else task_cfg.dataset
    return {
        "dataset_id": dataset_id,
        "kind": first.get("kind"),
        "subset": task_cfg.subset,
        "revision": revision,
        "revisions": revisions,
        "split_sizes": {"train": n_train, "eval": n_eval},
        "source_split_sizes": {split: p.get("n_rows") for split, p in provs.items()},
        "requested_split": task_cfg.split,
        "eval_split": task_cfg.eval_split,
        "prompt_field": task_cfg.prompt_field,
        "answer_field": task_cfg.answer_field,
    }
