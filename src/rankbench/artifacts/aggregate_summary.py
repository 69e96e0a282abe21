"""The ``summary`` of bench_aggregate.json: the best compression the policy recommends, the power and
strength of the claim, and the notes that say what may and may not be claimed."""

from __future__ import annotations

from rankbench.artifacts.bench_summary import no_best_compression
from rankbench.artifacts.findings import aggregate_findings
from rankbench.keys import (
    AGGREGATE_BEST_KEYS,
    BEST_COMPRESSION,
    DECISION_CI,
    DELTA,
    FINDINGS,
    PARAM_REDUCTION,
    PASS_RATE,
    POLICY_RESULT,
)


def summary_block(
    compressed: dict, policy, n_seeds: int, notes: list[str], tolerance: float, probe: dict | None = None
) -> dict:
    """The summary; ``probe`` is the aggregate's probe block (its mean accuracy words the findings)."""
    from rankbench.stats import claim_strength, power_label
    from rankbench.stats.power import CLAIM_STRENGTH_RULE

    best = best_recommended(compressed)
    ref = claim_reference(compressed, best)
    power = ref["power"].get("power") if ref else None
    p_policy = (ref.get("policy_pass_probability") or {}).get("probability") if ref else None
    notes.extend(policy_notes(compressed, policy))
    notes.extend(claim_notes(best, tolerance, n_seeds))
    return {
        # an object either way (the seed format's type); every field null when nothing passed
        BEST_COMPRESSION: best
        or no_best_compression(AGGREGATE_BEST_KEYS, "no compression variant meets the policy"),
        "total_variants": len(compressed),
        "passing_variants": sum(v[POLICY_RESULT]["passed"] for v in compressed.values()),
        "defensible_claims": bool(best),
        "tolerance": tolerance,
        "statistical_power": power_label(power),
        "power": power,
        "policy_pass_probability": p_policy,
        "confidence_level": claim_strength(n_seeds, p_policy),
        "power_rule": ref["power"].get("rule") if ref else None,
        "confidence_rule": CLAIM_STRENGTH_RULE,
        "smallest_detectable_delta": ref["power"].get("mde") if ref else None,
        "smallest_detectable_delta_rule": "smallest margin resolvable with 80% power when Δ = 0, "
        "from the decision interval's se and df",
        "policy": f"{policy.name} v{policy.version}",
        # what a surprising verdict means, in words (rankbench.artifacts.findings)
        FINDINGS: aggregate_findings(
            compressed,
            probe or {},
            tolerance=tolerance,
            confidence=next((v["confidence"] for v in compressed.values() if "confidence" in v), 0.95),
            n_seeds=n_seeds,
        ),
        "notes": notes,
    }


def best_recommended(compressed: dict) -> dict | None:
    """The recommended compression that saves the most parameters (ties: the larger mean Δ)."""
    recommended = {k: v for k, v in compressed.items() if v["role"] == "compression" and v["recommended"]}
    if not recommended:
        return None
    k, v = max(recommended.items(), key=lambda kv: (kv[1][PARAM_REDUCTION]["mean"], kv[1][DELTA]["mean"]))
    values = {
        "variant": k,
        f"{PARAM_REDUCTION}_mean": v[PARAM_REDUCTION]["mean"],
        f"{PARAM_REDUCTION}_std": v[PARAM_REDUCTION]["std"],
        f"{DELTA}_mean": v[DELTA]["mean"],
        f"{DELTA}_std": v[DELTA]["std"],
        PASS_RATE: v[PASS_RATE],
        f"{DECISION_CI}_low": v[DECISION_CI].get("low"),
        "method": v["method"],
    }
    return {key: values[key] for key in AGGREGATE_BEST_KEYS}


def claim_reference(compressed: dict, best: dict | None) -> dict | None:
    """Power and claim strength describe the claim we make: the best compression's, else the weakest."""
    if best:
        return compressed[best["variant"]]
    comp = [v for v in compressed.values() if v["role"] == "compression"]
    return min(comp, key=lambda v: v["power"].get("power") or 0.0) if comp else None


def policy_notes(compressed: dict, policy) -> list[str]:
    notes = []
    for k, v in compressed.items():
        pr, ci = v[POLICY_RESULT], v[DECISION_CI]
        state = "meets" if pr["passed"] else "does not meet"
        failed = f" (failed: {', '.join(pr['failed'])})" if pr["failed"] else ""
        shown = "none" if ci["low"] is None else f"[{ci['low']:+.4f}, {ci['high']:+.4f}]"
        notes.append(
            f"{k} ({v['method']}, {v['role']}) {state} policy {policy.name} v{policy.version}{failed}; "
            f"decision Δ CI {shown}"
        )
    return notes


def claim_notes(best: dict | None, tolerance: float, n_seeds: int) -> list[str]:
    if best:
        first = (
            f"May claim: {best['variant']} is non-inferior to the probe within the tolerance "
            f"{tolerance:g}, with {best[f'{PARAM_REDUCTION}_mean']:.1%} fewer LoRA parameters, on this "
            f"model, task and budget, across {n_seeds} seeds."
        )
    else:
        first = "May not claim that any compression is as good as the probe under this policy."
    return [
        first,
        "May not claim: results on other models, tasks or training budgets; a variant that passes "
        "is not shown to be better than the probe, only not worse by more than the tolerance.",
    ]
