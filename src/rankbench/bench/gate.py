"""The probe quality gate: a probe that has not learnt the task makes every verdict meaningless.

A function of the config and the ``probe_eval`` stage record (and its predictions), so the bench and
the rebuild of bench.json (:mod:`rankbench.artifacts.bench`) compute the same gate.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rankbench.bench.config import BenchConfig
from rankbench.bench.runstate import RunDir
from rankbench.io import read_jsonl
from rankbench.run_layout import PREDICTIONS, PROBE_EVAL

GATE_GAP_SHARE = 0.2  # the default gate: this share of the way from the majority class to perfect


def default_gate(predictions: Path) -> tuple[float, str]:
    """The gate when the config sets none: majority share m of the eval labels → m + 0.2·(1 − m).

    A probe that cannot beat always answering the most common class by that much has not learnt the
    task. Items without a ``label`` (exact match, where no chance baseline exists) give 0.0.
    """
    labels = [rec.get("label") for rec in read_jsonl(predictions)]
    if not labels or any(label is None for label in labels):
        return 0.0, "default: no class labels, so no chance baseline; set task.probe_gate.min_value"
    majority = Counter(labels).most_common(1)[0][1] / len(labels)
    value = round(majority + GATE_GAP_SHARE * (1.0 - majority), 4)
    return value, (
        f"default: majority-class share {majority:.4f} + {GATE_GAP_SHARE:g} x (1 - {majority:.4f})"
    )


def gate_verdict(cfg: BenchConfig, run: RunDir, probe_eval: dict, *, smoke: bool) -> dict:
    """The probe quality gate from the probe_eval record (and its predictions) and the config."""
    gate_cfg = cfg.task.probe_gate
    metric = gate_cfg.metric or probe_eval["metric_key"]
    if not metric.startswith("eval_"):
        metric = "eval_" + metric
    value = probe_eval["value"]
    if gate_cfg.min_value is None:
        minimum, source = default_gate(run.stage_dir(PROBE_EVAL) / PREDICTIONS)
    else:
        minimum, source = float(gate_cfg.min_value), "config: task.probe_gate.min_value"
    passed = value >= minimum
    status = "PASSED" if passed else ("UNDERTRAINED" if smoke else "FAILED")
    return {
        "metric_key": metric,
        "metric_value": value,
        "min_value": minimum,
        "min_value_source": source,
        "passed": bool(passed),
        "status": status,
        "message": f"Probe {metric} {value:.4f} {'meets' if passed else 'is below'} the minimum "
        f"{minimum}" + ("" if passed or not smoke else " (smoke run: recorded, run goes on)"),
    }
