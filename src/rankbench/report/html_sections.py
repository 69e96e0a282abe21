"""The text sections of bench.html and bench_aggregate.html, in the order bench.md gives them: the
validation level, the findings, a visible results table with the readings of surprising verdicts, and
(collapsed) timings, environment and configuration. Numbers are rounded as in the Markdown."""

from __future__ import annotations

import json
from html import escape

from rankbench.keys import DECISION_CI, DELTA, FINDINGS, PARAM_REDUCTION, POLICY_RESULT, VERDICT
from rankbench.report.fields import aggregate_rows, bench_rows, decision_interval, tolerance, verdict_readings

SECTION_CSS = """
p.level{padding:.5em .8em;border-left:5px solid #999;background:#f4f4f4;margin:.6em 0 1em}
p.level.weak{border-color:#D55E00;background:#fbefe6}p.level.strong{border-color:#009E73;background:#eaf6f1}
section{margin:1.2em 0}ul.findings li{margin:.35em 0}.kind{font-variant:small-caps;color:#555}
table.results{font-size:.82em}table.results td,table.results th{padding:1px 5px}table.results th{vertical-align:bottom}
table.results td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.results tr.control td{color:#555}table.results tr.probe td{background:#f6f6f6}
table.results td{white-space:nowrap}
table.results tr td.PASS{font-weight:bold;color:#0072B2}table.results tr td.FAIL{font-weight:bold;color:#D55E00}
"""


def pct(x) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def num(x, fmt: str = ".4f") -> str:
    return "n/a" if x is None else format(x, fmt)


def interval(low, high) -> str:
    return "n/a" if low is None else f"[{low:+.4f}, {high:+.4f}]"


def _td(text: str, *, numeric: bool = False, cls: str = "") -> str:
    classes = " ".join(c for c in ("num" if numeric else "", cls) if c)
    return f'<td class="{classes}">{escape(text)}</td>' if classes else f"<td>{escape(text)}</td>"


def table(columns: list[str], rows: list[list[str]], *, numeric: set[int], row_classes=None, cls="results"):
    """A visible table; ``numeric`` are the column indexes aligned right; the last column may carry
    the verdict as its class."""
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        tr_cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = "".join(
            _td(v, numeric=j in numeric, cls=v if j == len(row) - 1 and v in ("PASS", "FAIL") else "")
            for j, v in enumerate(row)
        )
        body.append(f"<tr{tr_cls}>{cells}</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def level_html(level: str, strength: str, rationale: str | None) -> str:
    """The validation level and claim strength, first thing under the title."""
    weak = strength == "low" or level in ("underpowered", "smoke", "gate_failed")
    cls = "weak" if weak else ("strong" if strength == "high" else "")
    why = f": {escape(rationale)}" if rationale else ""
    return (
        f'<p class="level {cls}" id="validation-level"><b>Validation level: {escape(str(level))}</b> '
        f"(claim strength {escape(str(strength))}){why}</p>"
    )


def findings_html(summary: dict) -> str:
    found = summary.get(FINDINGS) or []
    if not found:
        return ""
    items = "".join(
        f'<li><span class="kind">{escape(f["kind"].replace("_", " "))}</span> '
        f"(<b>{escape(str(f['variant']))}</b>): {escape(f['text'])}</li>"
        for f in found
    )
    return f'<section id="findings"><h2>Findings</h2><ul class="findings">{items}</ul></section>'


def readings_html(readings: list[str]) -> str:
    if not readings:
        return ""
    items = "".join(f"<li>{escape(t)}</li>" for t in readings)
    return f"<p><b>Reading these verdicts:</b></p><ul>{items}</ul>"


def _rank_text(v: dict) -> str:
    if v.get("rank") is not None:
        return str(v["rank"])
    return "n/a" if v.get("rank_mean") is None else f"{v['rank_mean']:.1f} (mean)"


def _method_role(v: dict) -> str:
    """The method, and the role where it is not a compression (controls are also greyed out)."""
    role = v.get("role", "compression")
    return v.get("method", "?") + ("" if role == "compression" else f" · {role}")


def _counts(ci: dict) -> str:
    b, c = ci.get("variant_only_correct"), ci.get("probe_only_correct")
    return "n/a" if b is None or c is None else f"{b} / {c}"


def bench_results_html(doc: dict) -> str:
    """Probe and variants: rank(s), parameters, reduction, the metric, Δ with its interval, the verdict."""
    comp, probe = doc.get("compressed") or {}, doc.get("probe") or {}
    metric = (doc.get("probe_quality_gate") or {}).get("metric_key") or "metric"
    conf = next((v["ci"].get("confidence") for v in comp.values() if v.get("ci")), None)
    level = f"{conf:.0%} CI" if conf else "CI"
    columns = ["Variant", "Method", "Rank", "LoRA params", "Reduction", metric, "Δ", level,
               "Only variant / only probe", "Resolvable", "Verdict"]  # fmt: skip
    source = "user adapter" if probe.get("source") == "user_adapter" else "trained"
    rows = [["probe", f"{source} · reference", str(probe.get("rank")), num(probe.get("params"), ","), "",
             num(probe.get("accuracy")), "", "", "", "", ""]]  # fmt: skip
    classes = ["probe"]
    for key, v in comp.items():
        ci = (v.get("paired") or {}) | {k: x for k, x in (v.get("ci") or {}).items() if x is not None}
        rows.append(
            [key, _method_role(v), _rank_text(v), num(v.get("params"), ","),
             pct(v.get(PARAM_REDUCTION)), num(v.get("accuracy")), num(v.get(DELTA), "+.4f"),
             interval(ci.get("low", ci.get("ci_low")), ci.get("high", ci.get("ci_high"))), _counts(ci),
             num(v.get("mde")), v.get(VERDICT, "?")]
        )  # fmt: skip
        classes.append(v.get("role", ""))
    tol = tolerance(doc)
    lead = (
        f"<p>Δ = variant − probe on the same items; PASS when the lower end of the {escape(level)} is above "
        f"−{tol:g} (non-inferiority). <i>Only variant / only probe</i>: items one of the two got right and "
        "the other wrong, the only items that move Δ. <i>Resolvable</i>: the smallest margin this run "
        "resolves with 80% power when Δ = 0.</p>"
        if tol is not None
        else ""
    )
    readings = readings_html(verdict_readings(bench_rows(doc), tol))
    body = table(columns, rows, numeric={2, 3, 4, 5, 6, 7, 8, 9}, row_classes=classes)
    return f'<section id="results"><h2>Results</h2>{lead}{body}{readings}</section>'


def _ms(block: dict | None, fmt: str = ".4f") -> str:
    if not block or block.get("mean") is None:
        return "n/a"
    std = block.get("std")
    return f"{block['mean']:{fmt}} ± {std:{fmt}}" if std is not None else f"{block['mean']:{fmt}}"


def aggregate_results_html(doc: dict) -> str:
    """Per variant over seeds: reduction, the metric and Δ (mean ± std), the decision interval, seeds
    passing and the policy's verdict."""
    metric = (doc.get("config_metadata") or {}).get("primary_metric_key") or "metric"
    columns = ["Variant", "Method", "Reduction", metric, "Δ (mean ± std)", "Decision CI", "Seeds passing",
               "Policy"]  # fmt: skip
    rows, classes = [], []
    for key, v in (doc.get("compressed") or {}).items():
        d = decision_interval(v)  # older aggregates decided on the pooled interval: marked so
        shown = interval(d["low"], d["high"]) + (
            "" if v.get(DECISION_CI) or d["low"] is None else " (pooled)"
        )
        dist = v.get("verdict_distribution") or {}
        rows.append(
            [key, _method_role(v), _ms(v.get(PARAM_REDUCTION), ".1%"),
             _ms(v.get("accuracy")), _ms(v.get(DELTA), "+.4f"), shown,
             f"{dist.get('PASS', 'n/a')}/{v.get('n_seeds', 'n/a')}",
             "PASS" if (v.get(POLICY_RESULT) or {}).get("passed") else "FAIL"]
        )  # fmt: skip
        classes.append(v.get("role", ""))
    readings = readings_html(verdict_readings(aggregate_rows(doc), tolerance(doc)))
    body = table(columns, rows, numeric={2, 3, 4, 5, 6}, row_classes=classes)
    return f'<section id="results"><h2>Results</h2>{body}{readings}</section>'


def _collapsed(key: str, title: str, inner: str) -> str:
    return f'<details id="{key}"><summary><b>{escape(title)}</b></summary>{inner}</details>'


def timings_html(timings: dict) -> str:
    if not timings:
        return ""
    rows = [[k, f"{v:.1f}"] for k, v in timings.items()]
    return _collapsed("timings", "Timings (s)", table(["Stage", "Seconds"], rows, numeric={1}))


def environment_html(doc: dict) -> str:
    env = doc.get("env") or {}
    gpu = env.get("gpu_devices") or []
    facts = [
        ("Python", env.get("python_version")),
        ("torch", env.get("torch_version")),
        ("transformers", env.get("transformers_version")),
        ("peft", env.get("peft_version")),
        ("Device", gpu[0].get("name") if gpu else "CPU"),
        ("Threads", json.dumps(env.get("threads") or {}, sort_keys=True)),
        ("Model revision", (env.get("model_info") or {}).get("revision")),
        ("Dataset revision", (env.get("dataset_info") or {}).get("revision")),
        ("Git", env.get("git_tag") or env.get("git_commit")),
        ("Config hash", (doc.get("config_metadata") or {}).get("config_hash")),
    ]
    items = "".join(f"<li><b>{escape(k)}:</b> {escape(str(v))}</li>" for k, v in facts)
    return _collapsed("environment", "Environment", f'<ul class="meta">{items}</ul>')


def config_html(doc: dict) -> str:
    resolved = (doc.get("config_metadata") or {}).get("resolved_config")
    if resolved is None:
        return ""
    text = escape(json.dumps(resolved, indent=2))
    return _collapsed("configuration", "Resolved configuration", f"<pre>{text}</pre>")
