"""bench_aggregate.md, rendered from bench_aggregate.json alone."""

from __future__ import annotations

from rankbench import keys
from rankbench.report.bench_md import finding_lines
from rankbench.report.fields import aggregate_rows, verdict_readings
from rankbench.report.ladder import ladder_lines


def _ms(block: dict | None, fmt: str = ".4f") -> str:
    if not block or block.get("mean") is None:
        return "n/a"
    std = block.get("std")
    return f"{block['mean']:{fmt}} ± {std:{fmt}}" if std is not None else f"{block['mean']:{fmt}}"


def _ci(low, high) -> str:
    return "n/a" if low is None else f"[{low:+.4f}, {high:+.4f}]"


def _fmt(x, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def _counts(v: dict) -> str:
    d = v.get("discordant") or {}
    b, c = d.get("variant_only_total"), d.get("probe_only_total")
    return "n/a" if b is None else f"{b} / {c}"


def render_aggregate(doc: dict) -> str:
    metric = doc["config_metadata"]["primary_metric_key"]
    lines = [
        *_header_lines(doc, metric),
        *ladder_lines(doc),
        *_variant_lines(doc["compressed"], metric),
        *_reading_lines(doc),
        *_verdict_lines(doc["summary"]),
        *_policy_lines(doc["policy"], doc["summary"]),
    ]
    return "\n".join(lines)


def _header_lines(doc: dict, metric: str) -> list[str]:
    s, pol, probe = doc["summary"], doc["policy"], doc["probe"]
    return [
        f"# rankbench campaign: {doc['n_seeds']} seeds",
        "",
        f"- **Model:** {doc['model']}",
        f"- **Task:** {doc['task']}",
        f"- **Seeds:** {', '.join(map(str, doc['seeds']))}",
        f"- **Policy:** {pol['name']} v{pol['version']} ({pol['source']}); tolerance {s.get('tolerance')}",
        f"- **Statistical power:** {s['statistical_power']} ({_fmt(s['power'], '.3f')}); "
        f"**P(policy passes | Δ = 0):** {_fmt(s.get('policy_pass_probability'), '.3f')}; "
        f"**claim strength:** {s['confidence_level']}; "
        f"**defensible claims:** {'yes' if s['defensible_claims'] else 'no'}",
        f"- **Smallest margin resolvable (80% power at Δ = 0):** {_fmt(s['smallest_detectable_delta'], '.4f')}",
        "",
        f"Probe {metric}: {_ms(probe['accuracy'])} (r={probe['rank']}).",
        "",
    ]


def _variant_lines(compressed: dict, metric: str) -> list[str]:
    lines = [
        "## Variants",
        "",
        "*Decision CI*: the interval the verdict and the policy use (per-seed Δ, S − 1 df; see its "
        "method below). *Only variant / only probe*: discordant items summed over seeds. *Pooled "
        "bootstrap*: descriptive only.",
        "",
        f"| Variant | Method | Role | Reduction | {metric} | Δ (mean ± std) | Decision CI | df | "
        "Only variant / only probe | Pooled bootstrap | Seeds passing | Policy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, v in compressed.items():
        # artifacts written before the decision interval existed have none: shown as n/a
        d, p = v.get(keys.DECISION_CI) or {"low": None, "high": None}, v["delta_ci_pooled"]
        n_pass = v["verdict_distribution"]["PASS"]
        lines.append(
            f"| {key} | {v['method']} | {v['role']} | {_ms(v[keys.PARAM_REDUCTION], '.1%')} | "
            f"{_ms(v['accuracy'])} | {_ms(v[keys.DELTA], '+.4f')} | {_ci(d['low'], d['high'])} | "
            f"{_fmt(d.get('df'), '.3g')} | {_counts(v)} | {_ci(p['ci_low'], p['ci_high'])} | "
            f"{n_pass}/{v['n_seeds']} | **{'PASS' if v[keys.POLICY_RESULT]['passed'] else 'FAIL'}** |"
        )
    methods = sorted({v[keys.DECISION_CI]["method"] for v in compressed.values() if keys.DECISION_CI in v})
    return lines + [""] + [f"Decision interval: {m}." for m in methods]


def _reading_lines(doc: dict) -> list[str]:
    """How to read the verdicts that look wrong at a glance (see fields.verdict_readings)."""
    readings = verdict_readings(aggregate_rows(doc), doc["summary"].get("tolerance"))
    return ["", "**Reading these verdicts:**", "", *(f"- {t}" for t in readings)] if readings else []


def _verdict_lines(s: dict) -> list[str]:
    best = s.get(keys.BEST_COMPRESSION)
    lines = ["", "## Verdict", ""]
    if best and best.get("variant"):
        lines.append(
            f"**Recommended:** {best['variant']} ({best['method']}): "
            f"{best[f'{keys.PARAM_REDUCTION}_mean']:.1%} fewer LoRA parameters, "
            f"mean Δ {best[f'{keys.DELTA}_mean']:+.4f}, pass rate {best[keys.PASS_RATE]:.2f}."
        )
    else:
        lines.append("**No compression meets the policy.**")
    claims = ["", "### What may and may not be claimed", ""] + [f"- {n}" for n in s["notes"]]
    return lines + finding_lines(s) + claims


def _policy_lines(pol: dict, s: dict) -> list[str]:
    clauses = pol.get("clauses", {})
    return [
        "",
        "### Policy clauses",
        "",
        *(f"- `{k}`: {v}" for k, v in clauses.items() if v is not None),
        "",
        f"Power rule: {s.get('power_rule')}",
        "",
        f"Claim strength rule: {s.get('confidence_rule')}",
        "",
    ]
