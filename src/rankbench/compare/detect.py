"""Which loader reads an input: detected from the path and the first row, named in every output.

| input | read as |
|---|---|
| ``--id COL --score COL`` given | generic JSONL / CSV, every input (the named columns win) |
| ``samples_<task>_<date>.jsonl``, or a JSONL whose rows have doc_id/filter/metrics | lm-eval samples |
| a folder holding ``samples_*.jsonl`` (at any depth) | lm-eval output folder, one task |
| ``predictions.jsonl``, or a JSONL whose rows have item_id/score | rankbench predictions |
| a folder with ``predictions.jsonl`` (a bench stage) | that stage's predictions |
| a bench run folder (``probe_eval/predictions.jsonl``) | its probe's predictions |
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rankbench.compare import lm_eval, tables
from rankbench.compare.records import ItemScores, Selection
from rankbench.errors import RankbenchError
from rankbench.run_layout import PREDICTIONS, PROBE_EVAL, predictions_path

KNOWN = (
    "an lm-eval output folder or samples_<task>_<date>.jsonl (lm_eval --log_samples), a rankbench run "
    "folder or predictions.jsonl, or a JSONL/CSV with --id COL --score COL"
)


def load_input(path: Path, sel: Selection) -> ItemScores:
    """Detect the format of ``path`` and read its per-item scores under the user's selection."""
    return dataclasses.replace(_load(Path(path), sel), input=str(path))


def _load(path: Path, sel: Selection) -> ItemScores:
    if not path.exists():
        raise RankbenchError("no such file or folder", path=path, hint=f"give {KNOWN}")
    if (sel.id_column is None) != (sel.score_column is None):
        raise RankbenchError("--id and --score go together", hint="give both: --id COL --score COL")
    if sel.id_column is not None:
        if path.is_dir():
            raise RankbenchError("--id/--score read a JSONL or CSV file, not a folder", path=path)
        return tables.load_table(path, sel.id_column, sel.score_column)
    if path.is_dir():
        return _load_folder(path, sel)
    return _load_file(path, sel)


def _load_folder(path: Path, sel: Selection) -> ItemScores:
    for stage in (path / PREDICTIONS, predictions_path(path, PROBE_EVAL)):
        if stage.is_file():
            return tables.load_predictions(stage, task=sel.task)
    if any(lm_eval.is_samples_name(p) for p in path.rglob("samples_*.jsonl")):
        return lm_eval.load_samples(lm_eval.find_samples(path, sel.task), sel)
    raise RankbenchError(
        "found no per-item scores in this folder (no samples_<task>_<date>.jsonl, no predictions.jsonl)",
        path=path,
        hint=f"give {KNOWN}; lm-eval writes per-item samples only with --log_samples",
    )


def _load_file(path: Path, sel: Selection) -> ItemScores:
    if lm_eval.is_samples_name(path):
        return lm_eval.load_samples(path, sel)
    suffix = path.suffix.lower()
    if path.name.startswith("results_") and suffix == ".json":
        raise RankbenchError(
            "this is lm-eval's aggregate results file; it holds no per-item scores",
            path=path,
            hint="run lm_eval with --log_samples and give the samples_<task>_<date>.jsonl beside it",
        )
    if suffix == ".csv":
        columns = ", ".join(tables.read_csv_rows(path)[0].keys())
        raise RankbenchError(
            f"a CSV needs its id and score columns named (columns: {columns})",
            path=path,
            hint=tables.COLUMNS_HINT,
        )
    if suffix not in (".jsonl", ".json", ".ndjson"):
        raise RankbenchError(
            f"unknown input format ({suffix or 'no suffix'})", path=path, hint=f"give {KNOWN}"
        )
    rows = tables.read_json_lines(path)
    if lm_eval.looks_like_samples(rows[0]):
        return lm_eval.load_samples(path, sel)
    if "item_id" in rows[0] and "score" in rows[0]:
        return tables.load_predictions(path, rows, task=sel.task)
    raise RankbenchError(
        f"unknown JSONL format (first row's keys: {', '.join(list(rows[0])[:12])})",
        path=path,
        hint=f"give {KNOWN}",
    )
