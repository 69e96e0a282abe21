"""The ladder in the reports: the claim first, a table of the rungs, and a figure (rungs from largest to
smallest, Δ with its interval against the −tolerance line). Rendered from the ``ladder`` block and the
rungs' entries in ``compressed`` alone."""

from __future__ import annotations

from html import escape

from rankbench.keys import DELTA
from rankbench.report.svg import COLORS, MUTED, Figure, plotting, to_svg

COLUMNS = ("rung", "LoRA params", "Δ", "95% interval", "verdict", "status")


def _interval(iv: dict | None) -> str:
    if not iv or iv.get("low") is None:
        return "—"
    return f"[{iv['low']:+.4f}, {iv['high']:+.4f}]"


def rung_rows(doc: dict, ladder: dict) -> list[tuple[str, str, str, str, str, str]]:
    compressed = doc.get("compressed") or {}
    rows = []
    for r in ladder["rungs"]:
        entry = compressed.get(r["variant"]) if r["evaluated"] else None
        d = entry.get(DELTA) if entry else None
        d = d.get("mean") if isinstance(d, dict) else d  # a campaign's Δ is a summary over seeds
        delta = f"{d:+.4f}" if d is not None else "—"
        params = f"{r['parameters']:,}" if r.get("parameters") is not None else "—"
        rows.append(
            (r["plan"], params, delta, _interval(r.get("interval")), r.get("verdict") or "—", r["status"])
        )
    return rows


def ladder_lines(doc: dict) -> list[str]:
    """Markdown: the claim, then the rungs (nothing when the bench has no ladder)."""
    ladder = doc.get("ladder")
    if not ladder:
        return []
    saved = ladder.get("evaluations_saved", 0)
    lines = [
        "## Smallest safe rank",
        "",
        f"**{ladder['claim']}**",
        "",
        f"Rungs in their fixed order ({ladder['procedure']}); {ladder['evaluated']} evaluated, {saved} "
        "evaluation(s) saved by stopping at the first failure.",
    ]
    if ladder.get("removed_by_cap"):
        lines.append(
            f"Removed by the serving cap max_rank={ladder['max_rank']}: {', '.join(ladder['removed_by_cap'])}."
        )
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rung_rows(doc, ladder)]
    return [*lines, ""]


def ladder_html(doc: dict) -> str:
    """HTML: the claim as the page's first statement, then the rung table."""
    ladder = doc.get("ladder")
    if not ladder:
        return ""
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rung_rows(doc, ladder)
    )
    cap = (
        f"<p>Removed by the serving cap max_rank={ladder['max_rank']}: "
        f"{escape(', '.join(ladder['removed_by_cap']))}.</p>"
        if ladder.get("removed_by_cap")
        else ""
    )
    return (
        f'<section id="ladder"><h2>Smallest safe rank</h2><p class="claim"><b>{escape(ladder["claim"])}</b></p>'
        f'{cap}<table class="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>'
    )


def ladder_figure(doc: dict) -> Figure | None:
    """Δ of each rung with its interval, largest rung on the left; rungs not evaluated are marked."""
    ladder = doc.get("ladder")
    if not ladder or not ladder["rungs"]:
        return None
    plt = plotting()
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    tol = ladder["tolerance"]
    ax.axhline(-tol, color=COLORS[1], ls="--", lw=1, label=f"−tolerance ({-tol:g})")
    ax.axhline(0.0, color=MUTED, lw=0.8)
    rows = rung_rows(doc, ladder)
    for x, (rung, row) in enumerate(zip(ladder["rungs"], rows, strict=True)):
        iv = rung.get("interval") or {}
        if not rung["evaluated"] or iv.get("low") is None:
            ax.plot([x], [0.0], marker="x", color=MUTED, ls="none")
            ax.annotate("not evaluated", (x, 0.0), textcoords="offset points", xytext=(0, 8), ha="center",
                        fontsize=7, color=MUTED)  # fmt: skip
            continue
        mid = float(row[2]) if row[2] != "—" else (iv["low"] + iv["high"]) / 2
        color = COLORS[0] if rung["verdict"] == "PASS" else COLORS[1]
        marker = "o" if rung["in_claim"] else "s"
        ax.errorbar(
            [x], [mid], yerr=[[mid - iv["low"]], [iv["high"] - mid]], fmt=marker, color=color, capsize=3
        )
    ax.set_xticks(range(len(rows)), [r["plan"] for r in ladder["rungs"]])
    ax.set_xlabel("rungs, largest first (fixed order)")
    ax.set_ylabel("Δ = rung − probe")
    ax.legend(loc="lower left", frameon=False)
    fig.tight_layout()
    text = f"Ladder of {len(rows)} rungs; " + "; ".join(f"{r[0]}: {r[4]} ({r[5]})" for r in rows)
    title = "The ladder: each rung's Δ and interval against −tolerance"
    caption = (
        "Blue: PASS, orange: FAIL; squares were evaluated after the first failure (outside the claim); "
        "grey crosses were not evaluated. A rung passes when its interval's lower end is above the dashed line."
    )
    return Figure(
        "fig-ladder", title, caption, text, to_svg(fig, "fig-ladder", title, text), COLUMNS, tuple(rows)
    )
