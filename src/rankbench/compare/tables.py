"""Read per-item scores from rankbench's own ``predictions.jsonl`` and from generic JSONL / CSV tables.

- rankbench: one row per eval item with ``item_id`` and ``score`` (1/0 correctness, or a graded score),
  as every bench stage writes it (``probe_eval/``, ``variants/<name>/``).
- generic: any JSONL or CSV whose columns are named with ``--id COL --score COL``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

from rankbench.compare.records import ItemScores, make_item_scores
from rankbench.errors import RankbenchError

RANKBENCH_FORMAT = "rankbench predictions"
JSONL_FORMAT = "generic JSONL"
CSV_FORMAT = "generic CSV"
COLUMNS_HINT = "name the columns with --id COL --score COL"
JSONL_HINT = "JSONL holds one JSON object per line; was the file cut short or is it another format?"


def read_json_lines(path: Path) -> list[dict]:
    """Every non-blank line of a JSONL file as a dict, or a RankbenchError naming the bad line."""
    rows = []
    try:
        with path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RankbenchError(
                        f"line {i} is not valid JSON ({exc.msg})", path=path, hint=JSONL_HINT
                    ) from None
                if not isinstance(row, dict):
                    raise RankbenchError(f"line {i} is not a JSON object", path=path, hint=JSONL_HINT)
                rows.append(row)
    except UnicodeDecodeError:
        raise RankbenchError("not a text file (invalid UTF-8)", path=path, hint=JSONL_HINT) from None
    if not rows:
        raise RankbenchError("the file holds no rows", path=path, hint="is this the right file?")
    return rows


def read_csv_rows(path: Path) -> list[dict]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RankbenchError(f"cannot read as CSV ({exc})", path=path) from None
    if not rows:
        raise RankbenchError("the CSV has a header but no rows, or nothing at all", path=path)
    return rows


def _pick(rows: list[dict], path: Path, id_col: str, score_col: str, fmt: str) -> ItemScores:
    for col, flag in ((id_col, "--id"), (score_col, "--score")):
        missing = next((i for i, r in enumerate(rows, 1) if col not in r), None)
        if missing is not None:
            columns = ", ".join(rows[missing - 1].keys())
            raise RankbenchError(
                f"row {missing} has no column {col!r} (columns: {columns})",
                path=path,
                hint=f"{flag} must name a column present in every row",
            )
    pairs = [(r[id_col], r[score_col]) for r in rows]
    return make_item_scores(path, fmt, pairs, metric=score_col)


def _task_rows(rows: list[dict], path: Path, task: str | None) -> list[dict]:
    """The rows of one task, where a bench evaluated several (each row then names its ``task``)."""
    tasks = list(dict.fromkeys(str(r["task"]) for r in rows if "task" in r))
    if task is None and len(tasks) > 1:
        raise RankbenchError(
            f"these predictions hold {len(tasks)} tasks: {', '.join(tasks)}",
            path=path,
            hint="choose one with --task NAME",
        )
    if task is None or not tasks:
        return rows
    if task not in tasks:
        raise RankbenchError(
            f"no predictions of task {task!r} here (tasks: {', '.join(tasks)})",
            path=path,
            hint="check --task",
        )
    return [r for r in rows if str(r.get("task")) == task]


def load_predictions(path: Path, rows: list[dict] | None = None, task: str | None = None) -> ItemScores:
    """A rankbench stage's predictions.jsonl: ``item_id`` and ``score`` per row (and ``prompt`` where kept)."""
    rows = _task_rows(read_json_lines(path) if rows is None else rows, path, task)
    scores = _pick(rows, path, "item_id", "score", RANKBENCH_FORMAT)
    texts = [r.get("prompt") for r in rows]
    if all(isinstance(t, str) for t in texts):
        scores = dataclasses.replace(scores, texts=tuple(texts))
    if task is not None or "task" in rows[0]:
        scores = dataclasses.replace(scores, task=str(rows[0].get("task", task)))
    for key in ("metric", "filter"):  # the lm_eval evaluator's rows name lm-eval's metric and filter
        values = {r.get(key) for r in rows}
        if len(values) == 1 and isinstance(rows[0].get(key), str):
            scores = dataclasses.replace(scores, **{key: rows[0][key]})
    return scores


def load_table(path: Path, id_col: str, score_col: str) -> ItemScores:
    """A generic JSONL or CSV file, with the id and score columns named by the user."""
    if path.suffix.lower() == ".csv":
        return _pick(read_csv_rows(path), path, id_col, score_col, CSV_FORMAT)
    return _pick(read_json_lines(path), path, id_col, score_col, JSONL_FORMAT)
