"""Figures of a bench and of a campaign: Δ with intervals (forest plot), and training curves.

They draw :class:`~rankbench.report.fields.Row` values exactly as the artifact wrote them; the data
table of each figure lists the same numbers, so a reader (or a test) can check what was drawn.
"""

from __future__ import annotations

from rankbench.report.fields import Row, loss_steps
from rankbench.report.svg import COLORS, INK, MUTED, Figure, plotting, to_svg

PASS_STYLE = {"marker": "o", "mfc": COLORS[0], "mec": COLORS[0]}  # filled circle
FAIL_STYLE = {"marker": "s", "mfc": "white", "mec": COLORS[1]}  # open square
CONTROL_COLOR = "#666666"


def marker_style(row: Row) -> dict:
    style = dict(PASS_STYLE if row.passed else FAIL_STYLE)
    if row.role == "control":
        style["mec"] = CONTROL_COLOR
        style["mfc"] = CONTROL_COLOR if row.passed else "white"
    return style


def _row_label(r: Row, campaign: bool) -> str:
    if not campaign:
        return r.label
    n = len(r.seed_deltas)
    passed = f"{r.n_pass}/{n}" if r.n_pass is not None else f"{r.pass_rate:.0%}"
    return f"{r.label}\nseeds passing {passed} · policy {r.verdict}"


def _draw_rows(ax, rows: list[Row], tol: float | None, campaign: bool) -> None:
    for i, r in enumerate(rows):
        y = -i
        color = CONTROL_COLOR if r.role == "control" else INK
        if r.low is not None and r.high is not None:
            ax.plot(
                [r.low, r.high],
                [y, y],
                color=color,
                lw=5 if campaign else 1.8,
                alpha=0.3 if campaign else 1.0,
                solid_capstyle="butt",
            )
            if not campaign:
                ax.plot([r.low, r.high], [y, y], ls="none", marker="|", ms=9, color=color)
        for j, d in enumerate(r.seed_deltas):
            ax.plot([d], [y + 0.2 * ((j % 3) - 1)], marker="o", ms=3.5, color=color, ls="none")
        ax.plot([r.delta], [y], ls="none", ms=8, mew=1.5, **marker_style(r))
        ax.annotate(
            r.verdict,
            (1.0, y),
            xycoords=("axes fraction", "data"),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            fontweight="bold",
        )
    if tol is not None:
        ax.axvline(-tol, color=COLORS[1], ls="--", lw=1.2)
    ax.axvline(0, color=MUTED, lw=0.8)
    ax.set_yticks([-i for i in range(len(rows))], [_row_label(r, campaign) for r in rows])
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.grid(axis="y", visible=False)


def _panels(plt, rows: list[Row], campaign: bool):
    """One panel for the compressions and one for the controls (each only when it has rows)."""
    comps = [r for r in rows if r.role != "control"]
    ctrls = [r for r in rows if r.role == "control"]
    panels = [(p, name) for p, name in ((comps, "compressions"), (ctrls, "controls")) if p]
    per_row = 0.5 if campaign else 0.36
    fig, axes = plt.subplots(
        len(panels),
        1,
        squeeze=False,
        gridspec_kw={"height_ratios": [len(p) for p, _ in panels]},
        figsize=(8.0, per_row * len(rows) + 0.9 * len(panels) + 0.6),
    )
    return fig, axes, panels, comps + ctrls


def _forest_legend(plt, fig, tol: float | None, campaign: bool) -> None:
    handles = [
        plt.Line2D([], [], ls="none", ms=7, label="PASS (filled circle)", **PASS_STYLE),
        plt.Line2D([], [], ls="none", ms=7, label="FAIL (open square)", **FAIL_STYLE),
    ]
    if campaign:
        handles.append(plt.Line2D([], [], ls="none", marker="o", ms=3.5, color=INK, label="one seed's Δ"))
    if tol is not None:
        handles.append(plt.Line2D([], [], color=COLORS[1], ls="--", label=f"margin −tolerance = −{tol:g}"))
    fig.legend(
        handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles), frameon=False
    )


def _forest_alt(placed: list[Row], level: str, campaign: bool) -> str:
    return "; ".join(
        f"{r.label} ({r.role}): "
        + (f"{_row_label(r, True).split(chr(10))[1].replace(' · ', ', ')}, " if campaign else "")
        + f"Δ {r.delta:+.4f}, {level} interval "
        + ("n/a" if r.low is None else f"[{r.low:+.4f}, {r.high:+.4f}]")
        + (f", seeds {', '.join(f'{d:+.4f}' for d in r.seed_deltas)}" if r.seed_deltas else "")
        + f", {r.verdict}"
        for r in placed
    )


def _forest_caption(level: str, campaign: bool) -> str:
    return (
        f"Each row is a variant: the marker is Δ, the bar its {level} interval "
        + (
            "across seeds (the interval the policy decided on), the small dots the Δ of each seed. "
            if campaign
            else "of the paired difference on the same items. "
        )
        + "A variant passes when the whole interval lies right of the dashed −tolerance line; PASS is a "
        "filled circle, FAIL an open square, and the verdict is written at the right. Controls are in "
        "their own panel (with their own scale), in grey."
    )


FOREST_COLUMNS = (
    "variant",
    "label",
    "role",
    "delta",
    "ci_low",
    "ci_high",
    "confidence",
    "interval method",
    "verdict",
    "seed deltas",
    "n",
    "only variant right",
    "only probe right",
)


def _forest_row(r: Row) -> tuple:
    """The data-table row of one variant, in the order of FOREST_COLUMNS."""
    return (
        r.key,
        r.label,
        r.role,
        r.delta,
        r.low,
        r.high,
        r.confidence,
        r.method,
        r.verdict,
        " ".join(f"{d:+.4f}" for d in r.seed_deltas),
        r.n,
        r.variant_only,
        r.probe_only,
    )


def forest_figure(
    rows: list[Row], tol: float | None, *, campaign: bool = False, axis: str = "Δ = variant − probe"
) -> Figure:
    plt = plotting()
    fig, axes, panels, placed = _panels(plt, rows, campaign)
    for ax, (part, name) in zip(axes[:, 0], panels, strict=False):
        _draw_rows(ax, part, tol, campaign)
        ax.set_title(name, loc="left", fontsize=9, color=CONTROL_COLOR if name == "controls" else INK)
    axes[-1, 0].set_xlabel(f"{axis} (metric units)")
    _forest_legend(plt, fig, tol, campaign)
    fig.tight_layout()
    conf = next((r.confidence for r in rows if r.confidence), None)
    level = f"{conf:.0%}" if conf else "the"
    key = "fig-campaign" if campaign else "fig-forest"
    title = "Campaign: per-seed Δ over the decision interval" if campaign else "Δ with intervals"
    text = _forest_alt(placed, level, campaign)
    caption = _forest_caption(level, campaign)
    data = tuple(_forest_row(r) for r in placed)
    return Figure(key, title, caption, text, to_svg(fig, key, title, text), FOREST_COLUMNS, data)


def training_figure(doc: dict) -> Figure | None:
    """Loss against step for the probe and every variant that was trained (retrain, truncate+finetune)."""
    curves = [("probe", (doc.get("probe") or {}).get("train") or {})]
    for key, v in doc.get("compressed", {}).items():
        curves.append((key, ((v.get("build") or {}).get("train")) or {}))
    curves = [(name, t) for name, t in curves if t.get("losses")]
    if not curves:
        return None
    plt = plotting()
    fig, ax = plt.subplots(figsize=(8.0, 3.6))
    styles = ("-", "--", "-.", ":")
    rows = []
    for i, (name, train) in enumerate(curves):
        steps = loss_steps(train)
        r = (train.get("lora") or {}).get("r")
        ax.plot(
            steps,
            train["losses"],
            color=COLORS[i % len(COLORS)],
            ls=styles[i % len(styles)],
            lw=1.3,
            label=f"{name} (r={r})" if r else name,
        )
        rows.append(
            (name, r, train.get("steps"), len(train["losses"]), train["losses"][0], train["losses"][-1])
        )
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (window mean)")
    ax.legend(frameon=False)
    title = "Training curves"
    text = "; ".join(f"{n}: {s} steps, loss {a:.3f} → {b:.3f}" for n, _, s, _, a, b in rows) + "."
    caption = (
        "The training loss of the probe and of every variant trained at its own ranks, each point the "
        "mean over a window of steps. A retrained variant that ends well above the probe did not learn "
        "as much in the same number of steps."
    )
    cols = ("adapter", "r", "steps", "points", "first loss", "last loss")
    return Figure(
        "fig-training", title, caption, text, to_svg(fig, "fig-training", title, text), cols, tuple(rows)
    )
