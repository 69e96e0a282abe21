"""The paired verdict of one variant against the probe, from the run folder.

One home: the ladder reads it while the bench runs (to know whether to evaluate the next rung), and
bench.json reads it when it is built, so the two can never disagree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rankbench.io import read_jsonl
from rankbench.run_layout import PREDICTIONS, PROBE_EVAL, predictions_path


def item_scores(path: Path) -> tuple[list[str], np.ndarray]:
    rows = read_jsonl(path)
    return [r["item_id"] for r in rows], np.array([float(r["score"]) for r in rows])


def judge_scores(probe_scores, scores, *, tolerance: float, confidence: float):
    """(PairedDelta, Verdict) of ``scores`` against the probe's on the same items, in the same order."""
    from rankbench.stats import noninferiority, paired_delta

    pd = paired_delta(probe_scores, scores, confidence=confidence, tolerance=tolerance)
    return pd, noninferiority(pd, tolerance)


def judge_stage(run, cfg, stage: str):
    """(PairedDelta, Verdict) of the variant whose stage folder is ``stage``."""
    probe_ids, probe_scores = item_scores(predictions_path(run.root, PROBE_EVAL))
    ids, scores = item_scores(run.stage_dir(stage) / PREDICTIONS)
    if ids != probe_ids:
        raise RuntimeError(f"{stage}: eval items differ from the probe's")
    return judge_scores(probe_scores, scores, tolerance=cfg.eval.tolerance, confidence=cfg.eval.confidence)
