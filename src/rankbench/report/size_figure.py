"""Quality against size: Δ with its interval against LoRA parameters, the probe at Δ = 0, the frontier.

Points and intervals are the artifact's own (:class:`~rankbench.report.fields.Row`); the frontier only
selects among them. Labels stand in a column beside the plot, joined to their points by thin lines.
"""

from __future__ import annotations

from rankbench.report.bench_figures import CONTROL_COLOR, FAIL_STYLE, PASS_STYLE, marker_style
from rankbench.report.fields import Row
from rankbench.report.svg import COLORS, INK, MUTED, Figure, plotting, to_svg


def frontier(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """(params, Δ, name) points no other point beats with fewer-or-equal params and a higher Δ."""
    best, kept = None, []
    for p in sorted(points, key=lambda p: (p[0], -p[1])):
        if best is None or p[1] > best:
            kept.append(p)
            best = p[1]
    return kept


def _label_slots(ys: list[float], lo: float, hi: float, gap: float) -> list[float]:
    """Label heights in [lo, hi], in the order of ``ys``, at least ``gap`` apart (a column of labels)."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    slots = [0.0] * len(ys)
    prev = lo - gap
    for i in order:
        slots[i] = max(ys[i], prev + gap)
        prev = slots[i]
    shift = max(0.0, prev - hi)  # pushed past the top: move the column down as a whole
    return [min(max(y - shift, lo), hi) for y in slots]


def _y_window(rows: list[Row], tol: float | None) -> tuple[float, float]:
    """The Δ range that holds every compression's interval, 0 and −tolerance; controls may fall off it."""
    comps = [r for r in rows if r.role != "control"] or rows
    vals = (
        [0.0]
        + ([-tol] if tol else [])
        + [x for r in comps for x in (r.low, r.high, r.delta) if x is not None]
    )
    pad = 0.12 * (max(vals) - min(vals) or 1e-3)
    return min(vals) - pad, max(vals) + pad


def _dodge(rows: list[Row]) -> list[float]:
    """x positions: variants of the same size are drawn side by side (±2.5% each), not on top of each other."""
    same: dict[float, list[int]] = {}
    for i, r in enumerate(rows):
        same.setdefault(r.params, []).append(i)
    xs = [float(r.params) for r in rows]
    for idx in same.values():
        for j, i in enumerate(idx):
            xs[i] *= 1 + 0.025 * (j - (len(idx) - 1) / 2)
    return xs


def _draw_point(ax, r: Row, x: float, y: float, slot: float) -> None:
    """One variant: its interval (when on scale), its marker, and its label in the column at ``slot``."""
    color = CONTROL_COLOR if r.role == "control" else INK
    if r.low is not None and y == r.delta:
        ax.errorbar(
            [x],
            [r.delta],
            yerr=[[r.delta - r.low], [r.high - r.delta]],
            fmt="none",
            ecolor=color,
            elinewidth=1.2,
            capsize=3,
        )
    off = "" if y == r.delta else f" (Δ {r.delta:+.3f}, off scale)".replace("-", "−")
    ax.plot([x], [y], ls="none", ms=8, mew=1.5, **marker_style(r))
    ax.annotate(
        r.label + off,
        (x, y),
        xytext=(1.02, slot),
        textcoords=("axes fraction", "data"),
        va="center",
        fontsize=7.5,
        color=color,
        annotation_clip=False,
        arrowprops={"arrowstyle": "-", "color": MUTED, "lw": 0.6, "shrinkA": 0, "shrinkB": 5},
    )


def _draw_probe(ax, probe_params: float) -> None:
    ax.plot([probe_params], [0.0], marker="*", ms=13, color=INK, ls="none")
    ax.annotate(
        "probe",
        (probe_params, 0.0),
        xytext=(-8, 0),
        textcoords="offset points",
        ha="right",
        va="center",
        fontsize=8,
        fontweight="bold",
    )


def _draw_frontier(ax, rows: list[Row], probe_params: float) -> list[tuple[float, float, str]]:
    """The frontier of the passing compressions and the probe, drawn as green steps; returns its points."""
    passing = [(r.params, r.delta, r.key) for r in rows if r.passed and r.role != "control"]
    front = frontier(passing + [(probe_params, 0.0, "probe")])
    if len(front) > 1:
        ax.step(
            [p[0] for p in front],
            [p[1] for p in front],
            where="post",
            color=COLORS[2],
            lw=1.5,
            label="frontier of passing variants",
        )
    return front


def _finish_axes(plt, ax, tol: float | None, campaign: bool) -> None:
    """The −tolerance and zero lines, log x axis, axis labels and the legend above the plot."""
    if tol is not None:
        ax.axhline(-tol, color=COLORS[1], ls="--", lw=1.2, label=f"−tolerance = −{tol:g}")
    ax.axhline(0, color=MUTED, lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("LoRA parameters" + (" (mean over seeds)" if campaign else "") + ", log scale")
    ax.set_ylabel("Δ = variant − probe")
    handles, _ = ax.get_legend_handles_labels()
    handles += [
        plt.Line2D([], [], ls="none", ms=7, label="PASS", **PASS_STYLE),
        plt.Line2D([], [], ls="none", ms=7, label="FAIL", **FAIL_STYLE),
        plt.Line2D([], [], ls="none", marker="*", ms=10, color=INK, label="probe (Δ = 0)"),
    ]
    ax.legend(
        handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles), frameon=False
    )
    ax.margins(x=0.06)


SIZE_CAPTION = (
    "Δ and its interval against the number of LoRA parameters (log scale); the probe is the star at "
    "Δ = 0; variants of the same size are drawn side by side. The green steps join the passing variants that no smaller passing variant beats: the "
    "choices worth shipping. Filled circles pass, open squares fail, grey marks are controls; a point "
    "outside the range of the compressions is drawn on the edge and its Δ written in its label."
)
SIZE_COLUMNS = ("variant", "LoRA params", "delta", "ci_low", "ci_high", "verdict", "on frontier")


def _alt_text(rows: list[Row], probe_params: float, front: list[tuple[float, float, str]]) -> str:
    return (
        f"Probe at {probe_params:,.0f} LoRA parameters, Δ 0. "
        + "; ".join(f"{r.label}: {r.params:,.0f} parameters, Δ {r.delta:+.4f}, {r.verdict}" for r in rows)
        + ". Frontier: "
        + (", ".join(p[2] for p in front) or "none")
        + "."
    )


def _table(rows: list[Row], probe_params: float, front: list[tuple[float, float, str]]) -> tuple[tuple, ...]:
    on_front = {p[2] for p in front}
    return ((("probe", probe_params, 0.0, None, None, "reference", "probe" in on_front)),) + tuple(
        (r.key, r.params, r.delta, r.low, r.high, r.verdict, r.key in on_front) for r in rows
    )


def size_figure(rows: list[Row], probe_params: float, tol: float | None, *, campaign: bool = False) -> Figure:
    plt = plotting()
    rows = [r for r in rows if r.params]
    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    fig.subplots_adjust(right=0.68)  # room for the column of labels
    y_lo, y_hi = _y_window(rows, tol)
    shown = [min(max(r.delta, y_lo), y_hi) for r in rows]  # off-scale points sit on the edge, marked
    slots = _label_slots(shown, y_lo, y_hi, 0.075 * (y_hi - y_lo))
    for r, x, y, slot in zip(rows, _dodge(rows), shown, slots, strict=True):
        _draw_point(ax, r, x, y, slot)
    ax.set_ylim(y_lo, y_hi)
    _draw_probe(ax, probe_params)
    front = _draw_frontier(ax, rows, probe_params)
    _finish_axes(plt, ax, tol, campaign)
    title, text = "Quality against size", _alt_text(rows, probe_params, front)
    svg = to_svg(fig, "fig-size", title, text)
    return Figure("fig-size", title, SIZE_CAPTION, text, svg, SIZE_COLUMNS, _table(rows, probe_params, front))
