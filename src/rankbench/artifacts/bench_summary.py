"""The judging sections of bench.json: ``summary``, the validation classification and the
protocol invariants, from the gate and the variant entries."""

from __future__ import annotations

import hashlib

from rankbench.artifacts.findings import bench_findings
from rankbench.bench.config import BenchConfig
from rankbench.bench.variants import variant_jobs
from rankbench.keys import (
    ACCURACY_RETENTION,
    BENCH_BEST_KEYS,
    BEST_COMPRESSION,
    DELTA,
    FINDINGS,
    PARAM_REDUCTION,
    VERDICT,
)


def summarize(gate: dict, probe: dict, compressed: dict, cfg: BenchConfig) -> dict:
    comp = {k: v for k, v in compressed.items() if v["role"] == "compression"}
    passing = {k: v for k, v in comp.items() if v[VERDICT] == "PASS"}
    best = best_passing(passing)
    notes = [gate_note(gate), *(variant_note(k, v, cfg.eval.confidence) for k, v in compressed.items())]
    pairs = compress_or_retrain(compressed)
    notes += [
        f"{p['variant']} at equal budget: truncate {p['truncate_accuracy']:.4f} vs retrain "
        f"{p['retrain_accuracy']:.4f}"
        for p in pairs
    ]
    if best:
        notes.append(
            f"Best passing compression: {best['variant']} ({best[PARAM_REDUCTION]:.1%} fewer LoRA parameters)"
        )
    elif comp:
        notes.append("No compression variant passed the non-inferiority test")
    return {
        "recommendations_validated": bool(passing),
        # an object either way (the seed format's type); every field null when nothing passed
        BEST_COMPRESSION: best
        or no_best_compression(BENCH_BEST_KEYS, "no compression variant passed the non-inferiority test"),
        "total_variants": len(compressed),
        "passing_variants": sum(v[VERDICT] == "PASS" for v in compressed.values()),
        "compress_or_retrain": pairs,
        "tolerance": cfg.eval.tolerance,
        # what a surprising verdict means, in words (rankbench.artifacts.findings)
        FINDINGS: bench_findings(
            compressed,
            probe,
            tolerance=cfg.eval.tolerance,
            confidence=cfg.eval.confidence,
            gate_passed=gate["passed"],
        ),
        "notes": notes,
    }


def best_passing(passing: dict) -> dict | None:
    """The passing compression that saves the most parameters (ties: the larger Δ)."""
    if not passing:
        return None
    k, v = max(passing.items(), key=lambda kv: (kv[1][PARAM_REDUCTION] or 0, kv[1][DELTA]))
    values = {
        "variant": k,
        PARAM_REDUCTION: v[PARAM_REDUCTION],
        ACCURACY_RETENTION: v[ACCURACY_RETENTION],
        DELTA: v[DELTA],
        "ci_low": v["ci"]["low"],
        "method": v["method"],
    }
    return {key: values[key] for key in BENCH_BEST_KEYS}


def gate_note(gate: dict) -> str:
    return (
        f"Probe quality gate {'passed' if gate['passed'] else 'FAILED'} "
        f"({gate['metric_key']} {gate['metric_value']:.3f} {'≥' if gate['passed'] else '<'} {gate['min_value']})"
    )


def variant_note(key: str, v: dict, confidence: float) -> str:
    ci = v["ci"]
    return (
        f"{key} ({v['method']}, {v['role']}): Δ = {v[DELTA]:+.4f}, "
        f"{int(confidence * 100)}% CI [{ci['low']:+.4f}, {ci['high']:+.4f}] → {v[VERDICT]}"
    )


def compress_or_retrain(compressed: dict) -> list[dict]:
    """Each retrained variant beside the truncation of the same plan, at equal budget."""
    pairs = []
    for v in compressed.values():
        trunc = compressed.get(v["variant"]) if v["method"] == "retrain" else None
        if trunc is not None:
            pairs.append(
                {
                    "variant": v["variant"],
                    "truncate_accuracy": trunc["accuracy"],
                    "retrain_accuracy": v["accuracy"],
                    "truncate_minus_retrain": trunc["accuracy"] - v["accuracy"],
                }
            )
    return pairs


def no_best_compression(keys, reason: str) -> dict:
    """``summary.best_compression`` when nothing passed: the same keys, all null, and why."""
    return {k: None for k in keys} | {"reason": reason}


def classify(gate: dict, compressed: dict, cfg: BenchConfig, *, smoke: bool) -> dict:
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
    tol = cfg.eval.tolerance
    if smoke:
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


def invariants(
    gate: dict, compressed: dict, probe_ids: list[str], cfg: BenchConfig, data_prov: dict, *, smoke: bool
) -> dict:
    comp = [v for v in compressed.values() if v["role"] == "compression"]
    done = len(compressed) == len(variant_jobs(cfg.compression))
    return {
        "probe_quality_gate": {"status": gate["status"], "message": gate["message"]},
        "compression_validation": {
            "status": "COMPLETED"
            if done and gate["passed"] or done and smoke
            else ("SKIPPED" if not gate["passed"] and not smoke else "INCOMPLETE"),
            "variants_tested": len(compressed),
            "variants_passed": sum(v[VERDICT] == "PASS" for v in compressed.values()),
            "compressions_tested": len(comp),
            "compressions_passed": sum(v[VERDICT] == "PASS" for v in comp),
        },
        "same_eval_items": {
            "n_items": len(probe_ids),
            "item_ids_sha256": hashlib.sha256("\n".join(probe_ids).encode()).hexdigest(),
            "checked": True,
        },
        # a user adapter was trained on items the bench cannot see: disjointness is unknown
        "train_eval_disjoint": None if cfg.probe.adapter else data_prov.get("train_eval_disjoint"),
    }
