"""bench_aggregate.md, rendered from bench_aggregate.json alone."""

from __future__ import annotations


def _ms(block: dict | None, fmt: str = ".4f") -> str:
    if not block or block.get("mean") is None:
        return "n/a"
    std = block.get("std")
    return f"{block['mean']:{fmt}} ± {std:{fmt}}" if std is not None else f"{block['mean']:{fmt}}"


def render_aggregate(doc: dict) -> str:
    s = doc["summary"]
    pol = doc["policy"]
    probe = doc["probe"]
    metric = doc["config_metadata"]["primary_metric_key"]
    lines = [
        f"# rankbench campaign: {doc['n_seeds']} seeds",
        "",
        f"- **Model:** {doc['model']}",
        f"- **Task:** {doc['task']}",
        f"- **Seeds:** {', '.join(map(str, doc['seeds']))}",
        f"- **Policy:** {pol['name']} v{pol['version']} ({pol['source']})",
        f"- **Statistical power:** {s['statistical_power']} "
        f"({'n/a' if s['power'] is None else format(s['power'], '.3f')}); "
        f"**confidence:** {s['confidence_level']}; **defensible claims:** {'yes' if s['defensible_claims'] else 'no'}",
        f"- **Smallest detectable Δ (80% power):** "
        f"{'n/a' if s['smallest_detectable_delta'] is None else format(s['smallest_detectable_delta'], '.4f')}",
        "",
        f"Probe {metric}: {_ms(probe['accuracy'])} (r={probe['rank']}).",
        "",
        "## Variants",
        "",
        f"| Variant | Method | Role | Reduction | {metric} | Δ (mean ± std) | worst-seed Δ | Δ CI (t) | "
        "Δ CI (pooled) | Pass rate | Policy |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, v in doc["compressed"].items():
        t, p = v["delta_ci_t"], v["delta_ci_pooled"]
        t_txt = "n/a" if t.get("ci_low") is None else f"[{t['ci_low']:+.4f}, {t['ci_high']:+.4f}]"
        lines.append(
            f"| {key} | {v['method']} | {v['role']} | {_ms(v['param_reduction'], '.1%')} | "
            f"{_ms(v['accuracy'])} | {_ms(v['delta_vs_probe'], '+.4f')} | {v['worst_seed_delta']:+.4f} | {t_txt} | "
            f"[{p['ci_low']:+.4f}, {p['ci_high']:+.4f}] | {v['pass_rate']:.2f} | "
            f"**{'PASS' if v['policy_result']['passed'] else 'FAIL'}** |"
        )
    best = s.get("best_compression")
    lines += ["", "## Verdict", ""]
    if best and best.get("variant"):
        lines.append(
            f"**Recommended:** {best['variant']} ({best['method']}): "
            f"{best['param_reduction_mean']:.1%} fewer LoRA parameters, "
            f"mean Δ {best['delta_vs_probe_mean']:+.4f}, pass rate {best['pass_rate']:.2f}."
        )
    else:
        lines.append("**No compression meets the policy.**")
    lines += ["", "### What may and may not be claimed", ""] + [f"- {n}" for n in s["notes"]]
    lines += ["", "### Policy clauses", ""]
    clauses = pol.get("clauses", {})
    lines += [f"- `{k}`: {v}" for k, v in clauses.items()]
    lines += [
        "",
        f"Power rule: {s.get('power_rule')}",
        "",
        f"Confidence rule: {s.get('confidence_rule')}",
        "",
    ]
    return "\n".join(lines)
