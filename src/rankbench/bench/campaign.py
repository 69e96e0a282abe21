"""Multi-seed campaigns: aggregate single-seed runs into bench_aggregate.json.

The aggregate is a superset of the seed format (../shared/seed/bench_aggregate.json). It reads only
the run folders (bench.json, run_config.json and the per-item predictions), so `rankbench aggregate`
over folders made anywhere, by any executor, gives the same numbers as the campaign that made them.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from pathlib import Path

from rankbench.bench.assemble import item_scores, no_best_compression
from rankbench.bench.config import BENCH_VERSION, canonical_json
from rankbench.bench.runstate import config_diff
from rankbench.errors import RankbenchError
from rankbench.io import read_json

BEST_KEYS = (
    "variant",
    "param_reduction_mean",
    "param_reduction_std",
    "delta_vs_probe_mean",
    "delta_vs_probe_std",
    "pass_rate",
    "decision_ci_low",
    "method",
)

SCHEMA_VERSION = 2  # an int like every artifact's; 2: Tango intervals, decision_ci, new validation levels
ENV_KEYS = (
    "python_version",
    "torch_version",
    "transformers_version",
    "peft_version",
    "cuda_available",
    "gpu_devices",
    "git_commit",
    "git_tag",
    "threads",
    "platform",
)


def load_run(path: Path) -> dict:
    path = Path(path)
    if not (path / "bench.json").is_file():
        raise RankbenchError(
            "no bench.json here: not a finished rankbench run",
            path=path,
            hint="run `rankbench run --output` on it first, or remove it from the list",
        )
    doc = read_json(path / "bench.json")
    if doc.get("kind") != "bench":
        raise RankbenchError("bench.json is not a single-seed rankbench bench", path=path / "bench.json")
    return {"path": path, "doc": doc, "lock": read_json(path / "run_config.json")}


def is_smoke(run: dict) -> bool:
    return (
        bool(run["doc"].get("smoke"))
        or run["doc"]["env"].get("validation_classification", {}).get("level") == "smoke"
    )


def without_seed(config: dict) -> dict:
    c = copy.deepcopy(config)
    c.get("train", {}).pop("seed", None)
    return c


def check_same_experiment(runs: list[dict]) -> None:
    """Refuse runs whose resolved configs differ in anything but train.seed, naming the keys."""
    ref = runs[0]
    for other in runs[1:]:
        keys = config_diff(without_seed(ref["lock"]["config"]), without_seed(other["lock"]["config"]))
        if keys:
            raise RankbenchError(
                f"runs differ in more than the seed: {', '.join(keys[:12])} "
                f"({ref['path']} vs {other['path']})",
                path=other["path"],
                hint="aggregate only seeds of the same config",
            )
    seeds = [r["doc"]["seed"] for r in runs]
    dupes = sorted({s for s in seeds if seeds.count(s) > 1})
    if dupes:
        raise RankbenchError(
            f"seed {dupes[0]} appears in more than one run", path=runs[0]["path"], hint="each seed once"
        )


def per_seed_records(run: dict, key: str, probe_scores) -> dict:
    v = run["doc"]["compressed"][key]
    ids, scores = item_scores(run["path"] / "variants" / key / "predictions.jsonl")
    return {
        "seed": run["doc"]["seed"],
        "rank": v["rank"],
        "accuracy": v["accuracy"],
        "delta_vs_probe": float(scores.mean() - probe_scores.mean()),
        "param_reduction": v["param_reduction"],
        "verdict": v["verdict"],
        "probe_scores": probe_scores,
        "variant_scores": scores,
        "item_ids": ids,
    }


def aggregate_runs(paths: list[Path], *, include_smoke: bool = False, policy=None) -> dict:
    from rankbench.stats import aggregate_variant, evaluate_policy, load_policy, summarize

    policy = policy or load_policy()
    runs = [load_run(p) for p in paths]
    notes: list[str] = []
    smoke = [r for r in runs if is_smoke(r)]
    if smoke and not include_smoke:
        notes.append(
            f"excluded {len(smoke)} smoke run(s): {', '.join(str(r['path']) for r in smoke)} "
            "(use --include-smoke to count them)"
        )
        runs = [r for r in runs if not is_smoke(r)]
    elif smoke:
        notes.append(f"included {len(smoke)} smoke run(s) on request: their numbers prove nothing")
    if not runs:
        raise RankbenchError(
            "no runs left to aggregate",
            path=paths[0] if paths else None,
            hint="smoke runs are excluded unless --include-smoke is given",
        )
    check_same_experiment(runs)
    runs.sort(key=lambda r: r["doc"]["seed"])
    failed_gate = [r for r in runs if not r["doc"]["probe_quality_gate"]["passed"] and not is_smoke(r)]
    if failed_gate:
        raise RankbenchError(
            f"{len(failed_gate)} run(s) failed the probe quality gate",
            path=failed_gate[0]["path"],
            hint="aggregate only runs whose probe passed",
        )
    cfg = runs[0]["lock"]["config"]
    # one tolerance throughout: the policy's when it sets one, else the bench's
    tol = policy.tolerance if policy.tolerance is not None else cfg["eval"]["tolerance"]
    conf = cfg["eval"]["confidence"]
    probe_scores = {
        r["doc"]["seed"]: item_scores(r["path"] / "probe_eval" / "predictions.jsonl")[1] for r in runs
    }
    keys = [k for k in runs[0]["doc"]["compressed"] if all(k in r["doc"]["compressed"] for r in runs)]
    compressed = {}
    for key in keys:
        recs = [per_seed_records(r, key, probe_scores[r["doc"]["seed"]]) for r in runs]
        block = aggregate_variant(recs, tolerance=tol, confidence=conf, policy=policy)
        first = runs[0]["doc"]["compressed"][key]
        block.update(
            variant=first["variant"],
            method=first["method"],
            role=first["role"],
            params=summarize([r["doc"]["compressed"][key]["params"] for r in runs]),
        )
        if "rank" not in block:
            block["rank"] = None  # per-module ranks differ between seeds; see each run's bench.json
        result = evaluate_policy(policy, block)
        block["policy_result"] = result.to_dict()
        block["recommended"] = bool(result.passed) and first["role"] == "compression"
        compressed[key] = block
    seeds = [r["doc"]["seed"] for r in runs]
    first = runs[0]["doc"]
    env = {k: first["env"].get(k) for k in ENV_KEYS}
    embedded = copy.deepcopy(first["config_metadata"]["embedded_config"])
    embedded["train"].pop("seed", None)
    embedded["train"]["seeds"] = seeds
    experiment = without_seed(cfg)
    doc = {
        "bench_version": BENCH_VERSION,
        "schema_version": SCHEMA_VERSION,
        "kind": "bench_aggregate",
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(),
        "aggregation_type": "multi_seed",
        "n_seeds": len(runs),
        "seeds": seeds,
        "model": first["model"],
        "task": first["task"],
        "env": env,
        "git_commit": first.get("git_commit"),
        "probe": probe_block(runs),
        "compressed": compressed,
        "summary": summary_block(compressed, policy, len(runs), notes, tol),
        "policy": policy.to_dict(),
        "runs": [
            {
                "seed": r["doc"]["seed"],
                "path": str(r["path"]),
                "config_hash": r["lock"]["config_hash"],
                "validation_level": r["doc"]["env"]["validation_classification"]["level"],
            }
            for r in runs
        ],
        "config_metadata": {
            "primary_metric_key": first["config_metadata"]["primary_metric_key"],
            "config_hash": hashlib.sha256(canonical_json(experiment).encode()).hexdigest(),
            "config_hash_of": "the resolved config without train.seed (canonical JSON)",
            "resolved_config": experiment,
            "embedded_config": embedded,
        },
    }
    return doc


def probe_block(runs: list[dict]) -> dict:
    from rankbench.stats import summarize

    probes = [r["doc"]["probe"] for r in runs]
    return {
        "rank": probes[0]["rank"],
        "accuracy": summarize([p["accuracy"] for p in probes]),
        "params": summarize([float(p["params"]) for p in probes]),
        "utilization_mean": summarize([p["utilization_mean"] for p in probes]),
        "energy_rank_90_p50": summarize([p["energy_rank_90_p50"] for p in probes]),
        "metric_key": probes[0].get("metric_key"),
    }


def summary_block(compressed: dict, policy, n_seeds: int, notes: list[str], tolerance: float) -> dict:
    from rankbench.stats import claim_strength, power_label
    from rankbench.stats.power import CLAIM_STRENGTH_RULE

    comp = {k: v for k, v in compressed.items() if v["role"] == "compression"}
    recommended = {k: v for k, v in comp.items() if v["recommended"]}
    best = None  # set below when some compression meets the policy
    if recommended:
        k, v = max(
            recommended.items(),
            key=lambda kv: (kv[1]["param_reduction"]["mean"], kv[1]["delta_vs_probe"]["mean"]),
        )
        best = {
            "variant": k,
            "param_reduction_mean": v["param_reduction"]["mean"],
            "param_reduction_std": v["param_reduction"]["std"],
            "delta_vs_probe_mean": v["delta_vs_probe"]["mean"],
            "delta_vs_probe_std": v["delta_vs_probe"]["std"],
            "pass_rate": v["pass_rate"],
            "decision_ci_low": v["decision_ci"].get("low"),
            "method": v["method"],
        }
    # power and claim strength describe the claim we make: the best compression's, else the weakest
    ref = (
        compressed[best["variant"]]
        if best
        else (min(comp.values(), key=lambda v: v["power"].get("power") or 0.0) if comp else None)
    )
    power = ref["power"].get("power") if ref else None
    p_policy = (ref.get("policy_pass_probability") or {}).get("probability") if ref else None
    defensible = bool(best)
    for k, v in compressed.items():
        pr, ci = v["policy_result"], v["decision_ci"]
        state = "meets" if pr["passed"] else "does not meet"
        failed = f" (failed: {', '.join(pr['failed'])})" if pr["failed"] else ""
        shown = "none" if ci["low"] is None else f"[{ci['low']:+.4f}, {ci['high']:+.4f}]"
        notes.append(
            f"{k} ({v['method']}, {v['role']}) {state} policy {policy.name} v{policy.version}{failed}; "
            f"decision Δ CI {shown}"
        )
    if best:
        notes.append(
            f"May claim: {best['variant']} is non-inferior to the probe within the tolerance "
            f"{tolerance:g}, with {best['param_reduction_mean']:.1%} fewer LoRA parameters, on this "
            f"model, task and budget, across {n_seeds} seeds."
        )
    else:
        notes.append("May not claim that any compression is as good as the probe under this policy.")
    notes.append(
        "May not claim: results on other models, tasks or training budgets; a variant that passes "
        "is not shown to be better than the probe, only not worse by more than the tolerance."
    )
    return {
        # an object either way (the seed format's type); every field null when nothing passed
        "best_compression": best or no_best_compression(BEST_KEYS, "no compression variant meets the policy"),
        "total_variants": len(compressed),
        "passing_variants": sum(v["policy_result"]["passed"] for v in compressed.values()),
        "defensible_claims": defensible,
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
        "notes": notes,
    }
