"""Quality against size: Δ with its interval against LoRA parameters, the probe at Δ = 0, the frontier.

Points and intervals are the artifact's own (:class:`~rankbench.report.fields.Row`); the frontier only
selects among them. Each point carries a number, and a key beside the plot names the variants: there
are no leader lines, so none can cross or pass over another point. The frontier is drawn as a step and
its legend entry says what a step means.
"""

from __future__ import annotations

import math

from rankbench.report.bench_figures import CONTROL_COLOR, FAIL_STYLE, PASS_STYLE, marker_style
from rankbench.report.fields import Row
from rankbench.report.svg import COLORS, INK, MUTED, Figure, plotting, to_svg

FRONTIER_LABEL = "frontier (step): best Δ of a passing variant this size or smaller"


def frontier(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """(params, Δ, name) points no other point beats with fewer-or-equal params and a higher Δ."""
    best, kept = None, []
    for p in sorted(points, key=lambda p: (p[0], -p[1])):
        if best is None or p[1] > best:
            kept.append(p)
            best = p[1]
    return kept


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


def _step(logs: list[float]) -> float:
    """The spacing of side-by-side points in log10 units: a fixed share of the axis."""
    return 0.03 * max(max(logs) - min(logs), 0.3) if logs else 0.0


def clusters(rows: list[Row]) -> list[list[int]]:
    """Row indexes of variants of about the same size (within one spacing of the next), smallest first;
    ties keep the rows' order."""
    logs = [math.log10(r.params) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: (logs[i], i))
    groups: list[list[int]] = []
    for i in order:
        if groups and logs[i] - logs[groups[-1][-1]] < _step(logs):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def dodge(rows: list[Row]) -> list[float]:
    """x positions: variants of about the same size side by side, one spacing apart (so their numbers
    fit between them), the group centred on its mean size."""
    logs = [math.log10(r.params) for r in rows]
    xs = [float(r.params) for r in rows]
    for group in clusters(rows):
        centre = sum(logs[i] for i in group) / len(group)
        for j, i in enumerate(group):
            xs[i] = 10 ** (centre + _step(logs) * (j - (len(group) - 1) / 2))
    return xs


def number_sides(rows: list[Row]) -> list[int]:
    """The side of its marker each number goes: the first of a side-by-side group to the left (−1),
    the others to the right (+1), so the numbers of two neighbours never meet between them."""
    sides = [1] * len(rows)
    for group in clusters(rows):
        if len(group) > 1:
            sides[group[0]] = -1
    return sides


def _draw_point(ax, r: Row, number: int, x: float, y: float, side: int) -> None:
    """One variant: its interval (when on scale), its marker and its number beside it."""
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
    ax.plot([x], [y], ls="none", ms=8, mew=1.5, **marker_style(r))
    ax.annotate(
        str(number),
        (x, y),
        xytext=(6 * side, 4),
        textcoords="offset points",
        ha="left" if side > 0 else "right",
        va="bottom",
        fontsize=8,
        fontweight="bold",
        color=color,
        bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.85},
    )


def key_lines(rows: list[Row], shown: list[float]) -> list[str]:
    """The key beside the plot: number, variant, and Δ for a point drawn on the edge (off scale)."""
    return [
        f"{i + 1}  {r.label}" + ("" if y == r.delta else f" (Δ {r.delta:+.3f}, off scale)".replace("-", "−"))
        for i, (r, y) in enumerate(zip(rows, shown, strict=True))
    ]


def _draw_key(ax, rows: list[Row], shown: list[float]) -> None:
    for i, (r, line) in enumerate(zip(rows, key_lines(rows, shown), strict=True)):
        ax.annotate(
            line,
            (1.03, 1.0 - (i + 0.5) / max(len(rows), 7)),
            xycoords="axes fraction",
            va="center",
            fontsize=7.5,
            color=CONTROL_COLOR if r.role == "control" else INK,
            annotation_clip=False,
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
    """The frontier of the passing compressions and the probe, drawn as a dotted green step (its value
    at a size is the best Δ reachable at that size or smaller); returns its points."""
    passing = [(r.params, r.delta, r.key) for r in rows if r.passed and r.role != "control"]
    front = frontier(passing + [(probe_params, 0.0, "probe")])
    if len(front) > 1:
        ax.step(
            [p[0] for p in front],
            [p[1] for p in front],
            where="post",
            color=COLORS[2],
            ls=(0, (4, 2)),
            lw=1.4,
            zorder=1,
            label=FRONTIER_LABEL,
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
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, frameon=False)
    ax.margins(x=0.08)


SIZE_CAPTION = (
    "Δ and its interval against the number of LoRA parameters (log scale); the probe is the star at "
    "Δ = 0. Each point carries a number, named in the key on the right; variants of about the same size "
    "are drawn side by side. The dashed green step is the frontier: at each size, the best Δ that a passing "
    "variant of that size or smaller reaches. A flat stretch means that nothing larger does better until "
    "the next step; it is not a measured variant. Filled circles pass, open squares fail, grey marks "
    "are controls; a point outside the range of the compressions is drawn on the edge and its Δ "
    "written in the key."
)
SIZE_COLUMNS = ("#", "variant", "LoRA params", "delta", "ci_low", "ci_high", "verdict", "on frontier")


def _alt_text(rows: list[Row], probe_params: float, front: list[tuple[float, float, str]]) -> str:
    return (
        f"Probe at {probe_params:,.0f} LoRA parameters, Δ 0. "
        + "; ".join(
            f"{i + 1}. {r.label}: {r.params:,.0f} parameters, Δ {r.delta:+.4f}, {r.verdict}"
            for i, r in enumerate(rows)
        )
        + ". Frontier: "
        + (", ".join(p[2] for p in front) or "none")
        + "."
    )


def _table(rows: list[Row], probe_params: float, front: list[tuple[float, float, str]]) -> tuple[tuple, ...]:
    on_front = {p[2] for p in front}
    return ((("", "probe", probe_params, 0.0, None, None, "reference", "probe" in on_front)),) + tuple(
        (i + 1, r.key, r.params, r.delta, r.low, r.high, r.verdict, r.key in on_front)
        for i, r in enumerate(rows)
    )


def size_figure(rows: list[Row], probe_params: float, tol: float | None, *, campaign: bool = False) -> Figure:
    plt = plotting()
    rows = [r for r in rows if r.params]
    fig, ax = plt.subplots(figsize=(9.0, 4.4))
    fig.subplots_adjust(right=0.66)  # room for the key
    y_lo, y_hi = _y_window(rows, tol)
    shown = [min(max(r.delta, y_lo), y_hi) for r in rows]  # off-scale points sit on the edge, marked
    for i, (r, x, y, side) in enumerate(zip(rows, dodge(rows), shown, number_sides(rows), strict=True)):
        _draw_point(ax, r, i + 1, x, y, side)
    ax.set_ylim(y_lo, y_hi)
    _draw_probe(ax, probe_params)
    front = _draw_frontier(ax, rows, probe_params)
    _draw_key(ax, rows, shown)
    _finish_axes(plt, ax, tol, campaign)
    title, text = "Quality against size", _alt_text(rows, probe_params, front)
    svg = to_svg(fig, "fig-size", title, text)
    return Figure("fig-size", title, SIZE_CAPTION, text, svg, SIZE_COLUMNS, _table(rows, probe_params, front))
