"""Read lm-evaluation-harness ``--log_samples`` output: ``samples_<task>_<date>.jsonl``, or a folder of them.

Each line of a samples file is one document under one filter: ``doc_id``, ``doc_hash`` (sha256 of the
document), ``filter`` (``none`` for multiple-choice tasks; one entry per filter for generation tasks,
e.g. GSM8K's ``strict-match`` and ``flexible-extract``), ``metrics`` (the names of the per-item metrics
on the line) and one key per metric (``acc``, ``acc_norm``, ``exact_match``, ...). A metric is offered
when its per-item values are numbers or booleans; aggregate-only ones (BLEU's pairs, perplexities'
tuples) are not. Every doc must appear once per filter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from rankbench.compare.records import ItemScores, Selection, first_repeat, make_item_scores
from rankbench.compare.tables import read_json_lines
from rankbench.errors import RankbenchError

FORMAT = "lm-eval samples"
SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d.\-]+)\.jsonl$")
REQUIRED = ("doc_id", "filter", "metrics")


def is_samples_name(path: Path) -> bool:
    return SAMPLES_NAME.match(path.name) is not None


def looks_like_samples(row: dict) -> bool:
    return all(k in row for k in REQUIRED)


def task_of(path: Path) -> str:
    m = SAMPLES_NAME.match(path.name)
    return m.group("task") if m else path.stem


def find_samples(folder: Path, task: str | None) -> Path:
    """The one samples file of ``task`` under an lm-eval output folder (searched recursively)."""
    files = sorted(p for p in folder.rglob("samples_*.jsonl") if is_samples_name(p))
    by_task: dict[str, list[Path]] = {}
    for p in files:
        by_task.setdefault(task_of(p), []).append(p)
    if task is None and len(by_task) > 1:
        raise RankbenchError(
            f"this lm-eval output holds {len(by_task)} tasks: {', '.join(sorted(by_task))}",
            path=folder,
            hint="choose one with --task NAME",
        )
    if task is not None and task not in by_task:
        raise RankbenchError(
            f"no samples file for task {task!r} (tasks here: {', '.join(sorted(by_task)) or 'none'})",
            path=folder,
            hint="check --task, or give the samples_<task>_<date>.jsonl file itself",
        )
    (chosen,) = by_task.values() if task is None else (by_task[task],)
    if len(chosen) > 1:
        raise RankbenchError(
            f"{len(chosen)} samples files for the same task: {', '.join(p.name for p in chosen)}",
            path=folder,
            hint="several runs share this folder; give the samples file you mean",
        )
    return chosen[0]


def _rows(path: Path) -> list[dict]:
    rows = read_json_lines(path)
    for i, row in enumerate(rows, 1):
        if not looks_like_samples(row):
            raise RankbenchError(
                f"row {i} is not an lm-eval sample (needs {', '.join(REQUIRED)})",
                path=path,
                hint="give the samples_<task>_<date>.jsonl that lm_eval --log_samples wrote",
            )
    return rows


def _numeric_metrics(rows: Iterable[dict]) -> list[str]:
    names: dict[str, bool] = {}
    for row in rows:
        for m in row["metrics"]:
            ok = isinstance(row.get(m), (bool, int, float))
            names[m] = names.get(m, True) and ok
    return [m for m, ok in names.items() if ok]


def _choose(kind: str, offered: list[str], asked: str | None, path, flag: str) -> str:
    if asked is not None:
        if asked not in offered:
            raise RankbenchError(
                f"no {kind} {asked!r} here; this file offers: {', '.join(offered)}",
                path=path,
                hint=f"choose one of them with {flag}",
            )
        return asked
    if len(offered) > 1:
        raise RankbenchError(
            f"this file offers {len(offered)} {kind}s: {', '.join(offered)}",
            path=path,
            hint=f"choose one with {flag} (the same choice applies to every input)",
        )
    return offered[0]


def load_samples(path: Path, sel: Selection) -> ItemScores:
    """One task/filter/metric of an lm-eval samples file as per-item scores keyed by doc_id."""
    task = task_of(path)
    if sel.task is not None and sel.task != task:
        raise RankbenchError(
            f"this is task {task!r}, not {sel.task!r}",
            path=path,
            hint="give the samples file of the task named by --task, or drop --task",
        )
    return samples_scores(_rows(path), task, sel, path)


def prompt_of(row: dict) -> str | None:
    """The prompt of a sample (the context of its first request), as a file or lm-eval's memory holds it.

    A samples file stores ``arguments`` as ``{"gen_args_0": {"arg_0": prompt, ...}, ...}``; the samples
    that ``lm_eval.evaluate`` returns hold the request tuples themselves, ``[(prompt, ...), ...]``.
    """
    args = row.get("arguments")
    first = None
    if isinstance(args, dict) and args:
        first = next(iter(args.values()))
        first = first.get("arg_0") if isinstance(first, dict) else None
    elif isinstance(args, (list, tuple)) and args and isinstance(args[0], (list, tuple)) and args[0]:
        first = args[0][0]
    return first if isinstance(first, str) else None


def samples_scores(rows: list[dict], task: str, sel: Selection, where) -> ItemScores:
    """The per-item scores of one task's samples (file rows, or lm-eval's in-memory samples).

    The one reader of lm-eval's per-sample format: ``compare`` uses it on ``--log_samples`` files and
    the lm-eval evaluator on what ``lm_eval.evaluate`` returns. ``where`` names the source in errors.
    """
    filters = list(dict.fromkeys(str(r["filter"]) for r in rows))
    filt = _choose("filter", filters, sel.filter, where, "--filter")
    rows = [r for r in rows if str(r["filter"]) == filt]
    metrics = _numeric_metrics(rows)
    if not metrics:
        raise RankbenchError(
            f"no per-item numeric metric under filter {filt!r}",
            path=where,
            hint="this task's metrics exist only as aggregates; compare needs a score per document",
        )
    metric = _choose("metric", metrics, sel.metric, where, "--metric")
    doc = first_repeat(str(r["doc_id"]) for r in rows)
    if doc is not None:
        raise RankbenchError(
            f"doc_id {doc} appears more than once under filter {filt!r}",
            path=where,
            hint="each document must appear once per filter; were two runs concatenated?",
        )
    hashes = [str(r["doc_hash"]) for r in rows] if all("doc_hash" in r for r in rows) else None
    prompts = [prompt_of(r) for r in rows]
    texts = prompts if all(p is not None for p in prompts) else None
    pairs = [(r["doc_id"], r.get(metric)) for r in rows]
    return make_item_scores(
        where, FORMAT, pairs, metric=metric, task=task, filter=filt, doc_hashes=hashes, texts=texts
    )
