"""bench.html, bench_aggregate.html and the audit page: one offline file each, figures inline as SVG.

Rendered from the JSON alone: bench.json (plus the run's audit/audit.json and plans/plans.json when
they sit beside it), bench_aggregate.json, or an audit with its plans. No statistic is recomputed; no
script, font or address outside the file is referenced. Each figure has a title, a caption saying how
to read it, a text alternative, and a table of the numbers it was drawn from.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from rankbench.keys import BEST_COMPRESSION
from rankbench.report import audit_figures as af
from rankbench.report import bench_figures as bf
from rankbench.report import html_sections as hs
from rankbench.report.fields import aggregate_rows, bench_rows, compare_rows, rounded, tolerance
from rankbench.report.ladder import ladder_figure, ladder_html
from rankbench.report.size_figure import size_figure
from rankbench.report.svg import Figure, report_style
from rankbench.run_layout import AGGREGATE_JSON, BENCH_JSON, audit_path, plans_path
from rankbench.version import __version__

CSS = (
    """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:1100px;margin:1.5em auto;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin:0 0 .3em}
ul.meta{padding-left:1.1em;margin:.3em 0 1em}ul.meta li{margin:.1em 0}
figure{margin:1.6em 0;padding-top:.8em;border-top:1px solid #ddd;break-inside:avoid}
figure svg{max-width:100%;height:auto;display:block}
figcaption{font-size:.92em;color:#333;margin-top:.4em}
details{font-size:.85em;margin-top:.4em}
table{border-collapse:collapse;margin-top:.4em}td,th{border:1px solid #ccc;padding:1px 6px;text-align:left}
footer{font-size:.8em;color:#666;border-top:1px solid #ddd;margin-top:2em;padding-top:.5em}
@media print{body{max-width:none;margin:0}details{display:none}figure{page-break-inside:avoid}}
"""
    + hs.SECTION_CSS
)


def cell(x) -> str:
    """A table cell: floats rounded as the Markdown rounds them (:func:`~rankbench.report.fields.rounded`)."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int | float):
        return escape(rounded(float(x)) if isinstance(x, float) else f"{x:,}")
    return escape(str(x))


def figure_html(f: Figure) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in f.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(x)}</td>" for x in row) + "</tr>" for row in f.rows)
    table = (
        f'<details><summary>Numbers behind this figure</summary><table class="data" data-figure="{f.key}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></details>"
        if f.columns
        else ""
    )
    return (
        f'<figure id="{f.key}"><h2>{escape(f.title)}</h2>{f.svg}'
        f"<figcaption>{escape(f.caption)}</figcaption>{table}</figure>"
    )


def page(
    title: str,
    meta: list[tuple[str, str]],
    figures: list[Figure],
    source: str,
    notes=(),
    *,
    lead: str = "",
    top: str = "",
    bottom: str = "",
    extra: str = "",
) -> str:
    """The page: title, ``lead`` (the validation level), the facts, ``top`` (findings, results), the
    figures, the notes, then ``bottom`` (the collapsed timings, environment and configuration)."""
    items = "".join(f"<li><b>{escape(k)}:</b> {escape(str(v))}</li>" for k, v in meta)
    note_html = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>{escape(title)}</h1>{lead}<ul class="meta">{items}</ul>{top}'
        + "".join(figure_html(f) for f in figures if f is not None)
        + extra
        + (f"<h2>Notes</h2><ul>{note_html}</ul>" if note_html else "")
        + bottom
        + f"<footer>Rendered by rankbench {escape(__version__)} from {escape(source)} alone: every "
        "number is the artifact's own, nothing is recomputed. One file, no external resources.</footer>"
        "</body></html>\n"
    )


def audit_figures(audit: dict | None, plans: dict) -> list[Figure]:
    if not audit or not audit.get("modules"):
        return []
    return [af.spectra_figure(audit, plans), af.energy_figure(audit, plans), af.rank_map_figure(audit, plans)]


def _render_bench_html(doc: dict, audit: dict | None = None, plans: dict | None = None) -> str:
    rows, tol = bench_rows(doc), tolerance(doc)
    probe, best = doc.get("probe") or {}, (doc.get("summary") or {}).get(BEST_COMPRESSION) or {}
    figs = audit_figures(audit, plans or {})
    if rows:
        figs += [bf.forest_figure(rows, tol), size_figure(rows, probe.get("params") or 0, tol)]
    figs.insert(0, ladder_figure(doc))
    figs.append(bf.training_figure(doc))
    gate = doc.get("probe_quality_gate") or {}
    meta = [
        ("Model", doc.get("model")),
        ("Task", f"{doc.get('task')} (seed {doc.get('seed')})"),
        (
            "Probe",
            f"r={probe.get('rank')}, {gate.get('metric_key')} {hs.num(probe.get('accuracy'))}, "
            f"gate {gate.get('status')}",
        ),
        ("Tolerance", tol),
        (
            "Best passing compression",
            f"{best['variant']} ({best.get('method')})" if best.get("variant") else "none",
        ),
        ("Date", (doc.get("timestamp") or "")[:19].replace("T", " ") + " UTC"),
    ]
    if audit is None:
        meta.append(("Audit figures", "left out: no audit/audit.json beside bench.json"))
    summary, vc = doc.get("summary") or {}, (doc.get("env") or {}).get("validation_classification") or {}
    return page(
        "rankbench bench",
        meta,
        figs,
        BENCH_JSON,
        summary.get("notes") or [],
        lead=hs.level_html(vc.get("level"), vc.get("confidence"), vc.get("rationale")),
        top=ladder_html(doc)
        + hs.findings_html(summary)
        + hs.bench_results_html(doc)
        + _variant_flips_html(doc),
        bottom=hs.timings_html(doc.get("timings") or {}) + hs.environment_html(doc) + hs.config_html(doc),
    )


def _variant_flips_html(doc: dict) -> str:
    """With an lm_eval harness, each variant's flips against the probe, collapsed (empty otherwise)."""
    comp = doc.get("compressed") or {}
    found = [{"label": key, "flips": v["flips"]} for key, v in comp.items() if "flips" in v]
    return flips_html({"comparisons": found}) if found else ""


def _render_aggregate_html(doc: dict) -> str:
    rows, tol = aggregate_rows(doc), tolerance(doc)
    s, pol, probe = doc.get("summary") or {}, doc.get("policy") or {}, doc.get("probe") or {}
    best = s.get(BEST_COMPRESSION) or {}
    figs = []
    if rows:
        probe_params = (probe.get("params") or {}).get("mean") or 0
        figs = [
            bf.forest_figure(rows, tol, campaign=True),
            size_figure(rows, probe_params, tol, campaign=True),
        ]
    meta = [
        ("Model", doc.get("model")),
        ("Task", doc.get("task")),
        ("Seeds", ", ".join(map(str, doc.get("seeds") or []))),
        ("Policy", f"{pol.get('name')} v{pol.get('version')}"),
        ("Power", f"{s.get('statistical_power')}; confidence {s.get('confidence_level')}"),
        ("Recommended", f"{best['variant']} ({best.get('method')})" if best.get("variant") else "none"),
    ]
    return page(
        f"rankbench campaign: {doc.get('n_seeds')} seeds",
        meta,
        figs,
        AGGREGATE_JSON,
        s.get("notes") or [],
        lead=hs.level_html(
            f"{doc.get('n_seeds')} seeds, statistical power {s.get('statistical_power')}",
            s.get("confidence_level"),
            f"P(policy passes | Δ = 0) {hs.num(s.get('policy_pass_probability'), '.3f')}; smallest margin "
            f"resolvable with 80% power {hs.num(s.get('smallest_detectable_delta'))} against the "
            f"tolerance {tol}",
        ),
        top=ladder_html(doc) + hs.findings_html(s) + hs.aggregate_results_html(doc),
        bottom=hs.environment_html(doc) + hs.config_html(doc),
    )


def _render_audit_html(audit: dict, plans: dict, rule: str | None = None) -> str:
    a, s = audit.get("adapter") or {}, audit.get("summary") or {}
    meta = [
        ("Adapter", a.get("source")),
        ("Modules", f"{s.get('n_modules')} (r: {', '.join(map(str, s.get('r_values') or []))})"),
        ("LoRA parameters", f"{s.get('total_lora_params'):,}" if s.get("total_lora_params") else "n/a"),
        (
            "Mean utilization",
            f"{s['utilization_mean']:.1%}" if s.get("utilization_mean") is not None else "n/a",
        ),
        ("Plans", f"{', '.join(plans)} (rule {rule})" if plans else "none"),
        ("Flags", ", ".join(audit.get("flags") or []) or "none"),
    ]
    return page("rankbench audit", meta, audit_figures(audit, plans), "the audit and its plans")


def bench_html_beside(root: Path, doc: dict) -> str:
    """bench.html for the run folder ``root``, with its audit and plans when they are there."""
    from rankbench.io import read_json

    audit_file, plans_file = audit_path(root), plans_path(root)
    audit = read_json(audit_file) if audit_file.is_file() else None
    plans = read_json(plans_file).get("plans", {}) if plans_file.is_file() else {}
    return render_bench_html(doc, audit, plans)


def write_html_if_possible(path: Path, render) -> bool:
    """Write ``render()`` to ``path`` (atomically) next to the Markdown a run or campaign writes.

    Without matplotlib the run still succeeds: a warning says how to get the page (``rankbench report
    --html`` renders it later from the JSON). Returns whether the page was written.
    """
    from rankbench.errors import warn
    from rankbench.io import atomic_write_text
    from rankbench.report.svg import INSTALL_HINT, matplotlib_available

    if not matplotlib_available():
        warn(f"{path.name} not written: matplotlib is not installed ({INSTALL_HINT})")
        return False
    atomic_write_text(path, render())
    return True


def render_bench_html(doc: dict, audit: dict | None = None, plans: dict | None = None) -> str:
    """bench.html from bench.json, with the run's audit and plans when given."""
    with report_style():
        return _render_bench_html(doc, audit, plans)


def render_aggregate_html(doc: dict) -> str:
    """bench_aggregate.html from bench_aggregate.json."""
    with report_style():
        return _render_aggregate_html(doc)


def render_compare_html(doc: dict) -> str:
    """The page of a `rankbench compare` document: Δ of every candidate with its interval."""
    with report_style():
        rows, base = compare_rows(doc), doc.get("baseline") or {}
        meta = [
            ("Baseline", f"{base.get('input')} ({base.get('format')}, {base.get('n_items')} items)"),
            (
                "Metric",
                " / ".join(str(x) for x in (base.get("task"), base.get("metric"), base.get("filter")) if x),
            ),
            ("Tolerance", str(doc.get("tolerance"))),
        ]
        meta += [(str(c.get("label")), str((c.get("candidate") or {}).get("input"))) for c in _labelled(doc)]
        axis = "Δ = candidate − baseline"
        figs = [bf.forest_figure(rows, doc.get("tolerance"), axis=axis)] if rows else []
        notes = doc.get("notes") or []
        return page("rankbench compare", meta, figs, "the compare JSON", notes, extra=flips_html(doc))


def _labelled(doc: dict) -> list[dict]:
    return [c for c in doc.get("comparisons", []) if c.get("label")]


def flips_html(doc: dict) -> str:
    """Each candidate's flip list, collapsed: the items it lost against the baseline, and gained."""
    blocks = []
    for c in doc.get("comparisons", []):
        flips = c.get("flips") or {}
        lost, gained = flips.get("lost", []), flips.get("gained", [])
        if not lost and not gained:
            continue
        rows = "".join(
            f"<tr><td>{escape(kind)}</td><td><code>{escape(str(f['id']))}</code></td><td>{cell(f['baseline'])}"
            f"</td><td>{cell(f['candidate'])}</td><td>{escape(f.get('text') or '')}</td></tr>"
            for kind, items in (("lost", lost), ("gained", gained))
            for f in items
        )
        name = escape(str(c.get("label") or (c.get("candidate") or {}).get("input")))
        blocks.append(
            f"<details><summary>flips of {name}: {len(lost)} lost (baseline better), {len(gained)} gained"
            '</summary><table class="data"><thead><tr><th>kind</th><th>item</th><th>baseline</th>'
            f"<th>candidate</th><th>text</th></tr></thead><tbody>{rows}</tbody></table></details>"
        )
    return ("<h2>Flips</h2>" + "".join(blocks)) if blocks else ""


def render_audit_html(audit: dict, plans: dict, rule: str | None = None) -> str:
    """The audit page: the audit, with the plans drawn on it."""
    with report_style():
        return _render_audit_html(audit, plans, rule)
