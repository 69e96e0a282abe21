"""bench.md: a one-minute read, rendered from bench.json alone (nothing is recomputed here)."""

from __future__ import annotations

import json

from rankbench.keys import BEST_COMPRESSION, DELTA, FINDINGS, PARAM_REDUCTION, VERDICT
from rankbench.report.fields import bench_rows, verdict_readings
from rankbench.report.ladder import ladder_lines


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _num(x, fmt: str = ".4f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _counts(ci: dict) -> str:
    b, c = ci.get("variant_only_correct"), ci.get("probe_only_correct")
    return "n/a" if b is None or c is None else f"{b} / {c}"


def render_bench(doc: dict) -> str:
    metric = doc["probe_quality_gate"]["metric_key"]
    lines = [
        *_header_lines(doc),
        *ladder_lines(doc),
        *_gate_lines(doc["probe_quality_gate"]),
        *_probe_lines(doc["probe"], metric),
        *_variant_lines(doc["compressed"], doc["summary"].get("tolerance"), metric),
        *_harness_lines(doc["compressed"]),
        *_reading_lines(doc),
        *_summary_lines(doc["summary"]),
        *_timing_lines(doc.get("timings", {})),
        *_environment_lines(doc),
    ]
    return "\n".join(lines)


def _header_lines(doc: dict) -> list[str]:
    env = doc["env"]
    vc = env.get("validation_classification", {})
    git = env.get("git_tag") or (env.get("git_commit") or "unknown")[:8]
    return [
        f"# rankbench bench v{doc['bench_version']}",
        "",
        f"- **Model:** {doc['model']}",
        f"- **Task:** {doc['task']} (seed {doc.get('seed')})",
        f"- **Date:** {doc['timestamp'][:19].replace('T', ' ')} UTC",
        f"- **Git:** {git}",
        f"- **Validation level:** {vc.get('level')} (claim strength {vc.get('confidence')}): {vc.get('rationale')}",
        "",
    ]


def _gate_lines(gate: dict) -> list[str]:
    return [
        "## Probe quality gate",
        "",
        "| Metric | Value | Threshold | Status |",
        "|---|---|---|---|",
        f"| {gate['metric_key']} | {gate['metric_value']:.4f} | ≥ {gate['min_value']} | {gate['status']} |",
        "",
    ]


def _probe_lines(probe: dict, metric: str) -> list[str]:
    return [
        "## Probe",
        "",
        *_user_adapter_lines(probe.get("adapter")),
        f"- **Rank:** {probe['rank']}; **LoRA parameters:** {_num(probe['params'], ',')}",
        f"- **{metric}:** {probe['accuracy']:.4f} on {probe.get('n_eval_items')} held-out items",
        f"- **Utilization (mean):** {_pct(probe['utilization_mean'])}",
        f"- **90% energy rank:** p50 {_num(probe['energy_rank_90_p50'], '.1f')}, "
        f"p90 {_num(probe['energy_rank_90_p90'], '.1f')} (energy = cumulative σ²)",
        f"- **Suggested uniform ranks:** median {probe['suggested_r_global_median']}, "
        f"p90 {probe['suggested_r_global_90']} (rule {probe.get('rule', 'n/a')})",
        *_training_lines(probe.get("train")),
        "",
    ]


def _training_lines(train: dict | None) -> list[str]:
    """Steps, device and compute dtype of the probe's training (records older than them say less)."""
    if not train or "compute_dtype" not in train:
        return []
    return [f"- **Training:** {train['steps']} steps on {train['device']} in {train['compute_dtype']}"]


def _variant_lines(comp: dict, tol, metric: str) -> list[str]:
    if not comp:
        return []
    conf = int(round(comp[next(iter(comp))]["ci"]["confidence"] * 100))
    lines = [
        "## Variants",
        "",
        f"Δ = variant − probe on the same items; PASS when the lower end of the {conf}% paired "
        f"interval is above −{tol}. *Only variant / only probe*: items that one of the two got "
        "right and the other wrong, the only items that move Δ. *Resolvable*: the smallest margin "
        "this run resolves with 80% power when Δ = 0.",
        "",
        f"| Variant | Method | Role | Rank | LoRA params | Reduction | {metric} | Δ | {conf}% CI | "
        "Only variant / only probe | Resolvable | Verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, v in comp.items():
        rank = v["rank"] if v["rank"] is not None else f"{v['rank_mean']:.1f} (mean)"
        ci = v["ci"]
        lines.append(
            f"| {key} | {v['method']} | {v['role']} | {rank} | {_num(v['params'], ',')} | "
            f"{_pct(v[PARAM_REDUCTION])} | {v['accuracy']:.4f} | {v[DELTA]:+.4f} | "
            f"[{_num(ci['low'], '+.4f')}, {_num(ci['high'], '+.4f')}] | {_counts(ci)} | "
            f"{_num(v['mde'])} | **{v[VERDICT]}** |"
        )
    methods = sorted({v["ci"].get("method") for v in comp.values() if v["ci"].get("method")})
    return lines + [""] + [f"Interval: {m}." for m in methods] + [""]


def _harness_lines(comp: dict) -> list[str]:
    """With an lm_eval harness: each variant's per-task results and its flips, collapsed."""
    from rankbench.report.compare_md import flips_md

    found = {k: v for k, v in comp.items() if "flips" in v}
    if not found:
        return []  # the profile harness: bench.md as it was
    lines = ["## Tasks and flips", "", "| Variant | Task | Metric | Value | CI | Only variant / only probe |"]
    lines.append("|---|---|---|---|---|---|")
    for key, v in found.items():
        for task, t in (v.get("tasks") or {}).items():
            ci = t["ci"]
            lines.append(
                f"| {key} | {task} | {t['metric']} | {t['value']:.4f} | "
                f"[{_num(ci['low'], '+.4f')}, {_num(ci['high'], '+.4f')}] | {_counts(ci)} |"
            )
    flips = flips_md([{"label": key, "flips": v["flips"]} for key, v in found.items()])
    return lines + flips + [""]


def _summary_lines(summary: dict) -> list[str]:
    best = summary.get(BEST_COMPRESSION)
    lines = ["## Summary", ""]
    if best and best.get("variant"):
        lines.append(
            f"- **Best passing compression:** {best['variant']} ({best['method']}): "
            f"{_pct(best[PARAM_REDUCTION])} fewer LoRA parameters, Δ = {best[DELTA]:+.4f}"
        )
    else:
        lines.append("- **No compression passed** the non-inferiority test.")
    for row in summary.get("compress_or_retrain", []):
        lines.append(
            f"- **Compress or retrain ({row['variant']}):** truncate {row['truncate_accuracy']:.4f} vs "
            f"retrain {row['retrain_accuracy']:.4f} at the same ranks"
        )
    return (
        lines + finding_lines(summary) + ["", "### Notes", ""] + [f"- {n}" for n in summary.get("notes", [])]
    )


def finding_lines(summary: dict) -> list[str]:
    """The findings (what a surprising verdict means), above the notes; none in older documents."""
    found = summary.get(FINDINGS) or []
    if not found:
        return []
    return ["", "### Findings", ""] + [
        f"- **{f['kind'].replace('_', ' ')}** ({f['variant']}): {f['text']}" for f in found
    ]


def _reading_lines(doc: dict) -> list[str]:
    """How to read the verdicts that look wrong at a glance (see fields.verdict_readings)."""
    readings = verdict_readings(bench_rows(doc), doc["summary"].get("tolerance"))
    return ["**Reading these verdicts:**", "", *(f"- {t}" for t in readings), ""] if readings else []


def _timing_lines(timings: dict) -> list[str]:
    if not timings:
        return []
    return ["", "## Timings (s)", "", "| Stage | Seconds |", "|---|---|"] + [
        f"| {k} | {v:.1f} |" for k, v in timings.items()
    ]


def _environment_lines(doc: dict) -> list[str]:
    env = doc["env"]
    gpu = env.get("gpu_devices") or []
    return [
        "",
        "## Environment",
        "",
        f"- **Python:** {env.get('python_version')}; **torch:** {env.get('torch_version')}; "
        f"**transformers:** {env.get('transformers_version')}; **peft:** {env.get('peft_version')}",
        f"- **Device:** {gpu[0]['name'] if gpu else 'CPU'}; **threads:** "
        f"{json.dumps(env.get('threads', {}), sort_keys=True)}",
        f"- **Model revision:** {env.get('model_info', {}).get('revision')}",
        f"- **Dataset revision:** {env.get('dataset_info', {}).get('revision')}",
        f"- **Config hash:** `{doc['config_metadata']['config_hash']}`",
        "",
        "<details><summary>Resolved configuration</summary>",
        "",
        "```json",
        json.dumps(doc["config_metadata"].get("resolved_config", {}), indent=2),
        "```",
        "",
        "</details>",
        "",
    ]


def _user_adapter_lines(adapter: dict | None) -> list[str]:
    """The user's own adapter, benched instead of a trained probe: where it came from."""
    if not adapter:
        return []
    labels = adapter.get("label_order")
    return [
        f"- **Adapter:** `{adapter['path']}` (sha256 `{adapter['sha256']}`), the user's own, not trained here",
        f"- **Base model:** {adapter['base_model']} (from {adapter['base_model_source']})",
        *(
            [f"- **Label order:** {', '.join(map(str, labels))} (from {adapter.get('label_order_source')})"]
            if labels
            else []
        ),
    ]
