"""bench.json: assembled from the stage records of a run folder, never from memory.

The document is a superset of the seed format (../shared/seed/bench.json): every key there keeps its
meaning and type. Ours adds, per variant, the method, the plan and per-module ranks, the paired
confidence interval and the verdict rule; per-stage timings; thread settings; the config hash; and a
validation classification with its reason.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from rankbench.bench.config import BENCH_VERSION
from rankbench.bench.variants import VariantJob, variant_jobs
from rankbench.io import read_json, read_jsonl

SCHEMA_VERSION = 2  # an int like every artifact's; 2: Tango intervals, decision_ci, new validation levels
COMPAT_TRAIN_KEYS = ("save_steps", "eval_steps", "logging_steps")


def item_scores(path: Path) -> tuple[list[str], np.ndarray]:
    rows = read_jsonl(path)
    return [r["item_id"] for r in rows], np.array([float(r["score"]) for r in rows])


def assemble_bench(b, *, gate: dict) -> dict:
    from rankbench.provenance import environment

    run, cfg = b.run, b.cfg
    probe_rec = run.record("probe")
    probe_eval = run.record("probe_eval")
    lock = run.locked_config()
    env = environment()
    data_prov = dict(b.data.provenance)
    model_prov = b.profile.model_provenance(cfg)
    env["model_info"] = {
        "model_id": model_prov.get("model_id"),
        "revision": model_prov.get("revision"),
        "last_modified": model_prov.get("last_modified"),
        "source": model_prov.get("kind"),
    }
    env["dataset_info"] = {
        "dataset_id": data_prov.get("dataset_id"),
        "revision": data_prov.get("revision"),
        "last_modified": data_prov.get("last_modified"),
        # the seed format names the held-out split "test": here it is the items every variant is scored on
        "split_sizes": {
            **data_prov.get("split_sizes", {}),
            "test": data_prov.get("split_sizes", {}).get("eval", len(b.data.eval_ids)),
        },
        "requested_split": data_prov.get("requested_split", cfg.task.split),
        **{
            k: v
            for k, v in data_prov.items()
            if k not in ("dataset_id", "revision", "last_modified", "split_sizes", "requested_split")
        },
    }
    user = probe_rec.get("adapter")  # the user's own adapter, benched instead of a trained probe
    timings = {
        "probe_import" if user else "probe_train": probe_rec["seconds"],
        "probe_eval": probe_eval["seconds"],
    }
    probe_ids, probe_scores = item_scores(run.stage_dir("probe_eval") / "predictions.jsonl")

    probe = {
        "rank": cfg.lora.probe_r,
        "params": None,
        "accuracy": probe_eval["value"],
        "metric_key": probe_eval["metric_key"],
        "n_eval_items": probe_eval["n_items"],
        "eval_forward": probe_eval.get("forward"),
        "utilization_mean": None,
        "energy_rank_90_p50": None,
        "energy_rank_90_p90": None,
        "suggested_r_global_median": None,
        "suggested_r_global_90": None,
        "train": probe_rec["train"],
        "source": "user_adapter" if user else "trained",
        "adapter": user,
    }
    compressed: dict = {}
    if run.is_done("audit"):
        summary = run.record("audit")["summary"]
        timings["audit"] = run.record("audit")["seconds"]
        probe.update(
            params=summary.get("total_lora_params"),
            utilization_mean=summary.get("utilization_mean"),
            energy_rank_90_p50=summary.get("energy_rank_90_p50"),
            energy_rank_90_p90=summary.get("energy_rank_90_p90"),
            non_lora_params=summary.get("non_lora_params"),
        )
    if run.is_done("plans"):
        timings["plans"] = run.record("plans")["seconds"]
        plans = read_json(run.stage_dir("plans") / "plans.json")["plans"]
        probe["suggested_r_global_median"] = plans["uniform_median"].get("uniform_rank")
        probe["suggested_r_global_90"] = plans["uniform_p90"].get("uniform_rank")
        probe["rule"] = cfg.compression.rule
        for job in variant_jobs(cfg.compression):
            if run.is_done(job.stage):
                compressed[job.key] = variant_entry(b, job, plans, probe_ids, probe_scores, probe)
                timings[job.key] = run.record(job.stage)["seconds"]
    timings["total"] = round(sum(v for v in timings.values()), 3)
    env["validation_classification"] = classify(b, gate, compressed)

    resolved = lock["config"]
    doc = {
        "bench_version": BENCH_VERSION,
        "schema_version": SCHEMA_VERSION,
        "kind": "bench",
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(),
        "git_commit": env.get("git_commit"),
        "env": env,
        "model": cfg.model.name,
        "task": cfg.task.dataset + (f"/{cfg.task.subset}" if cfg.task.subset else ""),
        "seed": b.seed,
        "smoke": b.smoke,
        "probe_quality_gate": {k: gate[k] for k in ("metric_key", "metric_value", "min_value", "passed")}
        | {"status": gate["status"], "min_value_source": gate["min_value_source"]},
        "probe": probe,
        "compressed": compressed,
        "summary": summarize(gate, probe, compressed, cfg),
        "config_metadata": {
            "primary_metric_key": probe_eval["metric_key"],
            "config_hash": lock["config_hash"],
            "config_hash_of": "resolved_config (sha256 of its canonical JSON: sorted keys, no spaces)",
            "resolved_config": resolved,
            "embedded_config": embedded_config(resolved, b, probe_rec),
        },
        "protocol_invariants": invariants(gate, compressed, probe_ids, b),
        "timings": timings,
    }
    return doc


def variant_entry(b, job: VariantJob, plans: dict, probe_ids, probe_scores, probe: dict) -> dict:
    from rankbench.stats import noninferiority, paired_delta

    rec = b.run.record(job.stage)
    plan = plans[rec["build"]["plan"]]
    ids, scores = item_scores(b.run.stage_dir(job.stage) / "predictions.jsonl")
    if ids != probe_ids:
        raise RuntimeError(f"{job.key}: eval items differ from the probe's")
    pd = paired_delta(probe_scores, scores, confidence=b.cfg.eval.confidence)
    verdict = noninferiority(pd, b.cfg.eval.tolerance)
    pdd, vd = pd.to_dict(), verdict.to_dict()
    source_params = plan.get("source_lora_params") or probe.get("params")
    value = rec["eval"]["value"]
    return {
        "rank": plan.get("uniform_rank"),
        "params": plan.get("lora_params"),
        "accuracy": value,
        "delta_vs_probe": float(value - probe["accuracy"]),
        "param_reduction": plan.get("param_reduction"),
        "verdict": vd["verdict"],
        "variant": job.variant,
        "method": job.method,
        "role": rec["role"],
        "metric_key": rec["eval"]["metric_key"],
        "source_params": source_params,
        "plan": {
            k: plan.get(k)
            for k in ("name", "rule", "alpha_policy", "uniform_rank", "discarded_energy_fraction")
        },
        "ranks": plan.get("ranks"),
        "rank_mean": float(np.mean(list(plan["ranks"].values()))) if plan.get("ranks") else None,
        "ci": {
            "low": pdd.get("ci_low"),
            "high": pdd.get("ci_high"),
            "confidence": b.cfg.eval.confidence,
            "method": pdd.get("method"),
            "se": pdd.get("se"),
            "n": pdd.get("n"),
            "variant_only_correct": pdd.get("variant_only_correct"),
            "probe_only_correct": pdd.get("probe_only_correct"),
        },
        "paired": pdd,
        "verdict_rule": vd.get("rule"),
        "point_rule_verdict": vd.get("point_rule_verdict"),
        "mde": vd.get("mde"),
        "mde_rule": vd.get("mde_rule"),
        "accuracy_retention": float(value / probe["accuracy"]) if probe["accuracy"] else None,
        "build": {k: v for k, v in rec["build"].items() if k != "compression"},
        "eval_seconds": rec["eval"]["eval_seconds"],
        "eval_forward": rec["eval"].get("forward"),
    }


def classify(b, gate: dict, compressed: dict) -> dict:
    """The validation level of one run, with the reason; ``confidence`` is the claim strength
    (:data:`rankbench.stats.power.CLAIM_STRENGTH_RULE`: one seed is at most medium).

    - smoke: a --smoke run (tiny budgets): checks the plumbing, proves nothing.
    - gate_failed: the probe failed its quality gate, so no variant verdict means anything.
    - underpowered: some compression variant's smallest resolvable margin (80% power at Δ = 0)
      exceeds the tolerance: more eval items are needed to resolve it.
    - resolves_tolerance: the gate passed and every compression variant's resolvable margin is within
      the tolerance, so each PASS or FAIL is informative for this seed. Training noise is not
      addressed: a campaign over seeds is the next step.
    """
    tol = b.cfg.eval.tolerance
    if b.smoke:
        return {
            "level": "smoke",
            "confidence": "low",
            "rationale": "smoke run: reduced steps and items check the pipeline, not the claim",
        }
    if not gate["passed"]:
        return {"level": "gate_failed", "confidence": "low", "rationale": "probe quality gate failed"}
    # controls are there to show the test can tell variants apart: their resolution is not the claim's
    mdes = [v["mde"] for v in compressed.values() if v.get("mde") is not None and v["role"] == "compression"]
    if not mdes:
        return {
            "level": "underpowered",
            "confidence": "low",
            "rationale": "no compression variant was evaluated",
        }
    worst = max(mdes)
    if worst <= tol:
        return {
            "level": "resolves_tolerance",
            "confidence": "medium",
            "rationale": f"single seed; every compression variant's smallest resolvable margin ({worst:.4f}) "
            f"is within the tolerance {tol}; repeat over seeds for a claim about training noise",
        }
    return {
        "level": "underpowered",
        "confidence": "low",
        "rationale": f"single seed; the smallest resolvable margin ({worst:.4f}) exceeds the tolerance "
        f"{tol}: more eval items are needed to resolve it",
    }


def summarize(gate: dict, probe: dict, compressed: dict, cfg) -> dict:
    comp = {k: v for k, v in compressed.items() if v["role"] == "compression"}
    passing = {k: v for k, v in comp.items() if v["verdict"] == "PASS"}
    best = None
    if passing:
        k, v = max(passing.items(), key=lambda kv: (kv[1]["param_reduction"] or 0, kv[1]["delta_vs_probe"]))
        best = {
            "variant": k,
            "param_reduction": v["param_reduction"],
            "accuracy_retention": v["accuracy_retention"],
            "delta_vs_probe": v["delta_vs_probe"],
            "ci_low": v["ci"]["low"],
            "method": v["method"],
        }
    metric = gate["metric_key"]
    notes = [
        f"Probe quality gate {'passed' if gate['passed'] else 'FAILED'} "
        f"({metric} {gate['metric_value']:.3f} {'≥' if gate['passed'] else '<'} {gate['min_value']})"
    ]
    for k, v in compressed.items():
        ci = v["ci"]
        notes.append(
            f"{k} ({v['method']}, {v['role']}): Δ = {v['delta_vs_probe']:+.4f}, "
            f"{int(cfg.eval.confidence * 100)}% CI [{ci['low']:+.4f}, {ci['high']:+.4f}] → {v['verdict']}"
        )
    retrain = {k: v for k, v in compressed.items() if v["method"] == "retrain"}
    compress_or_retrain = []
    for v in retrain.values():
        trunc = compressed.get(v["variant"])
        if trunc is not None:
            compress_or_retrain.append(
                {
                    "variant": v["variant"],
                    "truncate_accuracy": trunc["accuracy"],
                    "retrain_accuracy": v["accuracy"],
                    "truncate_minus_retrain": trunc["accuracy"] - v["accuracy"],
                }
            )
            notes.append(
                f"{v['variant']} at equal budget: truncate {trunc['accuracy']:.4f} vs retrain "
                f"{v['accuracy']:.4f}"
            )
    if best:
        notes.append(
            f"Best passing compression: {best['variant']} "
            f"({best['param_reduction']:.1%} fewer LoRA parameters)"
        )
    elif comp:
        notes.append("No compression variant passed the non-inferiority test")
    return {
        "recommendations_validated": bool(passing),
        # an object either way (the seed format's type); every field null when nothing passed
        "best_compression": best
        or no_best_compression(
            ("variant", "param_reduction", "accuracy_retention", "delta_vs_probe", "ci_low", "method"),
            "no compression variant passed the non-inferiority test",
        ),
        "total_variants": len(compressed),
        "passing_variants": sum(v["verdict"] == "PASS" for v in compressed.values()),
        "compress_or_retrain": compress_or_retrain,
        "tolerance": cfg.eval.tolerance,
        "notes": notes,
    }


def no_best_compression(keys, reason: str) -> dict:
    """``summary.best_compression`` when nothing passed: the same keys, all null, and why."""
    return {k: None for k in keys} | {"reason": reason}


def embedded_config(resolved: dict, b, probe_rec: dict) -> dict:
    """The resolved config plus the seed format's descriptive keys, derived (never user-set)."""
    import copy

    emb = copy.deepcopy(resolved)
    emb["model"]["type"] = "causal_lm" if b.cfg.task.profile.startswith("causal_lm") else "seq_cls"
    emb["task"]["eval_max_samples"] = b.cfg.task.eval_size
    emb["task"]["probe_gate"]["metric"] = emb["task"]["probe_gate"]["metric"] or probe_rec.get("metric_key")
    if probe_rec.get("train"):
        emb["lora"]["target_modules"] = probe_rec["train"]["lora"]["target_modules"]
    n_train = b.data.provenance.get("split_sizes", {}).get("train")
    emb["train"]["train_samples"] = n_train
    steps, bs = b.cfg.train.steps, b.cfg.train.batch_size
    emb["train"]["num_epochs"] = round(steps * bs / n_train, 4) if n_train else None
    for k in COMPAT_TRAIN_KEYS:
        emb["train"][k] = None  # the bench saves once at the end and logs every few steps
    return emb


def invariants(gate: dict, compressed: dict, probe_ids: list[str], b) -> dict:
    import hashlib

    comp = [v for v in compressed.values() if v["role"] == "compression"]
    n_jobs = len(variant_jobs(b.cfg.compression))
    done = len(compressed) == n_jobs
    return {
        "probe_quality_gate": {"status": gate["status"], "message": gate["message"]},
        "compression_validation": {
            "status": "COMPLETED"
            if done and gate["passed"] or done and b.smoke
            else ("SKIPPED" if not gate["passed"] and not b.smoke else "INCOMPLETE"),
            "variants_tested": len(compressed),
            "variants_passed": sum(v["verdict"] == "PASS" for v in compressed.values()),
            "compressions_tested": len(comp),
            "compressions_passed": sum(v["verdict"] == "PASS" for v in comp),
        },
        "same_eval_items": {
            "n_items": len(probe_ids),
            "item_ids_sha256": hashlib.sha256("\n".join(probe_ids).encode()).hexdigest(),
            "checked": True,
        },
        # a user adapter was trained on items the bench cannot see: disjointness is unknown
        "train_eval_disjoint": None if b.cfg.probe.adapter else b.data.provenance.get("train_eval_disjoint"),
    }


def write_bench(root: Path, doc: dict) -> None:
    from rankbench.io import atomic_write_json, atomic_write_text
    from rankbench.report.bench_md import render_bench
    from rankbench.report.html import bench_html_beside, write_html_if_possible

    atomic_write_json(root / "bench.json", doc)
    atomic_write_text(root / "bench.md", render_bench(doc))
    write_html_if_possible(root / "bench.html", lambda: bench_html_beside(root, doc))
