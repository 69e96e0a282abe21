"""One variant's entry of bench.json (``compressed[key]``), from its stage record and predictions."""

from __future__ import annotations

import numpy as np

from rankbench.bench import verdicts
from rankbench.bench.config import BenchConfig
from rankbench.bench.runstate import RunDir
from rankbench.bench.variants import VariantJob
from rankbench.bench.verdicts import item_scores
from rankbench.io import read_jsonl
from rankbench.keys import ACCURACY_RETENTION, DELTA, PARAM_REDUCTION, VERDICT
from rankbench.run_layout import PREDICTIONS

PLAN_KEYS = ("name", "rule", "alpha_policy", "uniform_rank", "discarded_energy_fraction")


def variant_entry(
    run: RunDir, cfg: BenchConfig, job: VariantJob, plans: dict, probe_ids, probe_scores, probe: dict
) -> dict:
    rec = run.record(job.stage)
    plan = plans[rec["build"]["plan"]]
    ids, scores = item_scores(run.stage_dir(job.stage) / PREDICTIONS)
    if ids != probe_ids:
        raise RuntimeError(f"{job.key}: eval items differ from the probe's")
    pd, verdict = verdicts.judge_scores(
        probe_scores, scores, tolerance=cfg.eval.tolerance, confidence=cfg.eval.confidence
    )
    pdd, vd = pd.to_dict(), verdict.to_dict()
    value = rec["eval"]["value"]
    return {
        "rank": plan.get("uniform_rank"),
        "params": plan.get("lora_params"),
        "accuracy": value,
        DELTA: float(value - probe["accuracy"]),
        PARAM_REDUCTION: plan.get("param_reduction"),
        VERDICT: vd["verdict"],
        "variant": job.variant,
        "method": job.method,
        "role": rec["role"],
        "metric_key": rec["eval"]["metric_key"],
        "source_params": plan.get("source_lora_params") or probe.get("params"),
        "plan": {k: plan.get(k) for k in PLAN_KEYS},
        "ranks": plan.get("ranks"),
        "rank_mean": float(np.mean(list(plan["ranks"].values()))) if plan.get("ranks") else None,
        "ci": ci_block(pdd, cfg.eval.confidence),
        "paired": pdd,
        "verdict_rule": vd.get("rule"),
        "point_rule_verdict": vd.get("point_rule_verdict"),
        "mde": vd.get("mde"),
        "mde_rule": vd.get("mde_rule"),
        ACCURACY_RETENTION: float(value / probe["accuracy"]) if probe["accuracy"] else None,
        "build": {k: v for k, v in rec["build"].items() if k != "compression"},
        "eval_seconds": rec["eval"]["eval_seconds"],
        "eval_forward": rec["eval"].get("forward"),
        **harness_blocks(run, cfg, job, ids, probe_scores, scores),
    }


def harness_blocks(run: RunDir, cfg: BenchConfig, job: VariantJob, ids, probe_scores, scores) -> dict:
    """With an lm_eval harness: ``tasks`` (every task's result and paired interval against the probe)
    and ``flips`` (the items the variant lost and gained, with their prompts); the profile harness
    adds nothing, so its bench.json stays as it was."""
    if cfg.eval.harness == "profile":
        return {}
    from rankbench.compare.flips import flip_list
    from rankbench.compare.join import JoinedItems
    from rankbench.run_layout import PROBE_EVAL
    from rankbench.stats import paired_delta

    probe_rows = read_jsonl(run.stage_dir(PROBE_EVAL) / PREDICTIONS)
    variant_rows = read_jsonl(run.stage_dir(job.stage) / PREDICTIONS)
    tasks = {}
    for task, result in run.record(job.stage)["eval"].get("tasks", {}).items():
        keep = [i for i, r in enumerate(variant_rows) if r.get("task") == task]
        pd = paired_delta(
            probe_scores[keep], scores[keep], confidence=cfg.eval.confidence, tolerance=cfg.eval.tolerance
        )
        tasks[task] = dict(result, ci=ci_block(pd.to_dict(), cfg.eval.confidence))
    joined = JoinedItems(tuple(ids), probe_scores, scores, 0, 0)
    texts = {r["item_id"]: r["prompt"] for r in probe_rows if r.get("prompt") is not None}
    return {"tasks": tasks, "flips": flip_list(joined, texts)}


def ci_block(paired: dict, confidence: float) -> dict:
    """The seed format's ``ci`` object from the paired comparison."""
    return {
        "low": paired.get("ci_low"),
        "high": paired.get("ci_high"),
        "confidence": confidence,
        "method": paired.get("method"),
        "se": paired.get("se"),
        "n": paired.get("n"),
        "variant_only_correct": paired.get("variant_only_correct"),
        "probe_only_correct": paired.get("probe_only_correct"),
    }
