"""Figures of an audit: spectra, retained energy against rank, and the rank map.

Inputs are the audit.json dict and a dict of plan dicts (plans.json's ``plans``, or the plans that
``rankbench audit --html`` builds with the suggest library). Singular values are only rescaled for
display (σᵢ/σ₁, cumulative σ²); every rank, cut and discarded energy comes from the plans as written.
"""

from __future__ import annotations

import math
import re

import numpy as np

from rankbench.report.audit_table import layer_of
from rankbench.report.svg import COLORS, INK, MUTED, SERIES, Figure, plotting, to_svg

RULE_MARKERS = ("o", "s", "^", "D", "v")
SPECTRUM_FLOOR = 1e-4  # σᵢ/σ₁ below this holds < 1e-8 of a direction's energy: the axis stops there


def module_type(name: str) -> str:
    """The path after the block index (``self_attn.q_proj``), or the last two segments without one."""
    m = re.search(r"(?:^|\.)\d+\.(.+)$", name)
    return m.group(1) if m else ".".join(name.split(".")[-2:])


def _groups(modules: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for mod in modules:
        groups.setdefault(module_type(mod["name"]), []).append(mod)
    return groups


def rule_cuts(plans: dict) -> dict[str, dict[str, int]]:
    """{rule spec: {module: k}} for every rule a plan used (the plans' own ``rule_ranks``)."""
    cuts: dict[str, dict[str, int]] = {}
    for plan in plans.values():
        if plan.get("rule") and plan.get("rule_ranks"):
            cuts.setdefault(plan["rule"], plan["rule_ranks"])
    return cuts


def _highlights(mods: list[dict], order: dict[str, int]) -> tuple[dict, dict]:
    """The median and the p90 module of a group, ordered by the first rule's cut (else E90), then name."""
    ranked = sorted(mods, key=lambda m: (order.get(m["name"], m["energy_rank"]["0.9"]), m["name"]))
    n = len(ranked)
    return ranked[(n - 1) // 2], ranked[min(n - 1, math.ceil(0.9 * n) - 1)]


def _ratios(mod: dict) -> np.ndarray:
    s = np.asarray(mod["singular_values"], dtype=np.float64)  # (r,)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = s / s[0]
    ratio[~(ratio > 0)] = np.nan  # zeros cannot sit on a log axis; the line stops there
    return ratio


def _spectra_panel(ax, gname: str, gmods: list[dict], cuts: dict, lowest: float) -> tuple[list, list]:
    """One module type: every module's σᵢ/σ₁ in grey, its median and p90 module in colour with each
    rule's cut marked; returns the data-table rows and the alt-text phrases it drew."""
    from matplotlib.collections import LineCollection
    from matplotlib.ticker import MaxNLocator, NullLocator

    rows, alt = [], []
    lines = [np.column_stack([np.arange(1, len(m["singular_values"]) + 1), _ratios(m)]) for m in gmods]
    ax.add_collection(LineCollection(lines, colors=MUTED, linewidths=0.6, alpha=0.6))
    med, p90 = _highlights(gmods, next(iter(cuts.values()), {}))
    for mod, color, tag in ((med, COLORS[0], "median"), (p90, COLORS[1], "p90")):
        ratio = _ratios(mod)
        ax.plot(np.arange(1, len(ratio) + 1), ratio, color=color, lw=1.6, label=f"{tag} module")
        for (rule, ks), marker in zip(cuts.items(), RULE_MARKERS, strict=False):
            k = ks.get(mod["name"])
            if k:
                ax.plot([k], [ratio[k - 1]], marker=marker, ms=6, mfc="white", mec=INK, ls="none")
                rows.append((gname, tag, mod["name"], rule, k, float(ratio[k - 1])))
        alt.append(f"{gname}: {tag} module {mod['name']}")
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())  # minor log ticks cost a second on 224 modules
    ax.set_ylim(lowest, 1.6)
    ax.set_xlim(0.5, max(len(m["singular_values"]) for m in gmods) + 0.5)
    ax.set_title(f"{gname} ({len(gmods)})", fontsize=9)
    ax.set_xlabel("i (singular value index)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    return rows, alt


def _spectra_legend(plt, fig, cuts: dict) -> None:
    handles = [plt.Line2D([], [], color=MUTED, lw=0.8, label="every module")]
    handles += [plt.Line2D([], [], color=COLORS[0], lw=1.6, label="median module")]
    handles += [plt.Line2D([], [], color=COLORS[1], lw=1.6, label="p90 module")]
    handles += [
        plt.Line2D([], [], marker=mk, mfc="white", mec=INK, ls="none", label=f"cut of {rule}")
        for rule, mk in zip(cuts, RULE_MARKERS, strict=False)
    ]
    fig.legend(
        handles=handles, loc="lower center", ncol=len(handles), frameon=False, bbox_to_anchor=(0.5, 1.0)
    )


SPECTRA_CAPTION = (
    "Each grey line is one module's singular values divided by its largest, on a log scale; a line "
    "that falls fast means the module uses few directions. In each panel the module at the median and "
    "at the 90th percentile of the rule's cut are drawn in colour, with the rank each rule keeps "
    "marked on them (open markers). The axis stops at 10⁻⁴ (a direction that small holds under 10⁻⁸ of "
    "σ₁²); modules whose ΔW is zero are left out."
)


def spectra_figure(audit: dict, plans: dict) -> Figure:
    plt = plotting()
    mods = [m for m in audit["modules"] if m["singular_values"] and m["singular_values"][0] > 0]
    groups = _groups(mods)
    cuts = rule_cuts(plans)
    ncol = min(4, len(groups))
    nrow = math.ceil(len(groups) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.9 * ncol, 2.4 * nrow), sharey=True, squeeze=False)
    rows, alt = [], []
    lowest = max(SPECTRUM_FLOOR, 0.7 * min(float(np.nanmin(_ratios(m))) for m in mods))
    for ax, (gname, gmods) in zip(axes.flat, groups.items(), strict=False):
        panel_rows, panel_alt = _spectra_panel(ax, gname, gmods, cuts, lowest)
        rows += panel_rows
        alt += panel_alt
    for ax in axes.flat[len(groups) :]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(r"$\sigma_i\,/\,\sigma_1$")
    _spectra_legend(plt, fig, cuts)
    fig.subplots_adjust(top=0.95, hspace=0.6, wspace=0.1)  # fixed margins: tight_layout costs ~1 s here
    title = "Spectra: σᵢ/σ₁ of every module, by module type"
    text = f"{len(mods)} modules in {len(groups)} types. " + "; ".join(alt) + "."
    svg = to_svg(fig, "fig-spectra", title, text)
    cols = ("module type", "highlight", "module", "rule", "cut k", "σ_k/σ₁")
    return Figure("fig-spectra", title, SPECTRA_CAPTION, text, svg, cols, tuple(rows))


def _retained_curve(mods: list[dict], r_max: int) -> np.ndarray:
    """Fraction of Σ σ² kept when every module keeps min(k, r) directions, for k = 1..r_max."""
    kept = np.zeros(r_max)
    total = 0.0
    for mod in mods:
        e = np.asarray(mod["singular_values"], dtype=np.float64) ** 2  # (r,)
        c = np.cumsum(e)
        kept += np.concatenate([c, np.full(max(0, r_max - len(c)), c[-1] if len(c) else 0.0)])[:r_max]
        total += float(c[-1]) if len(c) else 0.0
    return kept / total if total > 0 else kept


def _plan_points(plans: dict) -> list[tuple]:
    rows = []
    for name, plan in plans.items():
        ranks = list(plan.get("ranks", {}).values())
        if not ranks or plan.get("discarded_energy_fraction") is None:
            continue
        mean_rank = plan["uniform_rank"] if plan.get("uniform_rank") else float(np.mean(ranks))
        rows.append(
            (
                name,
                mean_rank,
                1.0 - plan["discarded_energy_fraction"],
                plan["lora_params"],
                plan["param_reduction"],
            )
        )
    return rows


def energy_figure(audit: dict, plans: dict) -> Figure:
    plt = plotting()
    mods = [m for m in audit["modules"] if m["singular_values"]]
    r_max = max(len(m["singular_values"]) for m in mods)
    ks = np.arange(1, r_max + 1)
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for (gname, gmods), color in zip(_groups(mods).items(), SERIES * 4, strict=False):
        ax.plot(ks, _retained_curve(gmods, r_max), color=color, lw=0.8, alpha=0.7, label=gname)
    ax.plot(ks, _retained_curve(mods, r_max), color=INK, lw=2.2, label="whole adapter, same k everywhere")
    rows = _plan_points(plans)
    for (name, k, kept, _params, red), marker in zip(
        rows, ("o", "s", "D", "^", "v", "P", "X", "*"), strict=False
    ):
        ax.plot(
            [k],
            [kept],
            marker=marker,
            ms=8,
            mfc="white",
            mec=INK,
            mew=1.5,
            ls="none",
            label=f"plan {name}: mean k {k:.3g}, {kept:.1%} kept, −{red:.0%} params",
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks([2**i for i in range(int(math.log2(r_max)) + 1)] + ([r_max] if r_max & (r_max - 1) else []))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("rank k kept in every module (log scale)")
    ax.set_ylabel("energy kept (cumulative σ²)")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    title = "Retained energy against rank"
    plan_txt = "; ".join(f"{n}: mean rank {k:g} keeps {kept:.4f} of the energy" for n, k, kept, _, _ in rows)
    text = f"Energy kept at ranks 1 to {r_max} for {len(mods)} modules. Plans: {plan_txt or 'none'}."
    caption = (
        "The share of ‖ΔW‖² (sum of σ², not of σ) that survives when every module keeps its k largest "
        "directions: the thick line for the whole adapter, thin lines per module type. Open markers are "
        "the plans, at their mean rank and the energy they keep as written in the plan; a plan above "
        "the thick line spends its ranks where the energy is."
    )
    cols = ("plan", "mean rank", "energy kept", "LoRA params", "param reduction")
    svg = to_svg(fig, "fig-energy", title, text)
    return Figure("fig-energy", title, caption, text, svg, cols, tuple(rows))


def _grid(values: dict[str, float]) -> tuple[list[str], list[str], np.ndarray]:
    """{module: value} → (layers, types, (layers × types) array with NaN where no module)."""
    layers = sorted(
        {layer_of(n) for n in values}, key=lambda x: (not x.isdigit(), int(x) if x.isdigit() else 0)
    )
    types = list(dict.fromkeys(module_type(n) for n in values))
    grid = np.full((len(layers), len(types)), np.nan)
    for name, v in values.items():
        grid[layers.index(layer_of(name)), types.index(module_type(name))] = v
    return layers, types, grid


def _heatmap(ax, grid, layers, types, *, cmap, norm, fmt, title):
    """A layers × types grid of cells, each with its value written in it (readable without colour)."""
    ax.imshow(grid, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    ax.grid(False)
    small = 7 if len(layers) > 16 else 8
    for (i, j), v in np.ndenumerate(grid):
        if not np.isnan(v):
            dark = float(norm(v)) > 0.6
            ax.text(j, i, fmt(v), ha="center", va="center", fontsize=small, color="white" if dark else INK)
    ax.set_xticks(range(len(types)), types, rotation=30, ha="right")
    ax.set_yticks(range(len(layers)), layers)
    ax.tick_params(axis="y", labelsize=small)
    ax.set_title(title, fontsize=9)


def per_layer_plan(plans: dict) -> tuple[str, dict] | None:
    if "per_layer" in plans:
        return "per_layer", plans["per_layer"]
    for name, plan in plans.items():
        if len(set(plan.get("ranks", {}).values())) > 1:
            return name, plan
    return None


def rank_map_figure(audit: dict, plans: dict) -> Figure | None:
    found = per_layer_plan(plans)
    if found is None:
        return None
    plt = plotting()
    name, plan = found
    ranks = {k: float(v) for k, v in plan["ranks"].items()}
    util = {m["name"]: m["utilization"] for m in audit["modules"] if m["name"] in ranks}
    layers, types, rgrid = _grid(ranks)
    _, _, ugrid = _grid({**{n: math.nan for n in ranks}, **util})
    from matplotlib.colors import LogNorm, Normalize

    height = max(2.8, 0.24 * len(layers) + 1.4)
    fig, (ax_r, ax_u) = plt.subplots(1, 2, figsize=(max(7.5, 1.3 * len(types) + 2), height), sharey=True)
    r_max = max(plan.get("source_ranks", {}).values() or ranks.values())
    _heatmap(
        ax_r,
        rgrid,
        layers,
        types,
        cmap="Blues",
        norm=LogNorm(vmin=1, vmax=max(2, r_max)),
        fmt=lambda v: f"{v:.0f}",
        title=f"rank in plan {name} (of r = {r_max:g})",
    )
    _heatmap(
        ax_u,
        ugrid,
        layers,
        types,
        cmap="Oranges",
        norm=Normalize(vmin=0, vmax=1),
        fmt=lambda v: f"{v:.0%}",
        title="utilization (effective rank / r)",
    )
    ax_r.set_ylabel("layer")
    fig.subplots_adjust(wspace=0.06)
    title = f"Rank map: plan {name} by layer and module type, with utilization"
    rows = tuple((n, layer_of(n), module_type(n), int(k), util.get(n)) for n, k in plan["ranks"].items())
    text = (
        f"{len(rows)} modules in {len(layers)} layers and {len(types)} module types; plan {name} gives ranks "
        f"from {min(ranks.values()):g} to {max(ranks.values()):g}."
    )
    caption = (
        "Left: the rank each module keeps in the plan (rows are layers, columns module types; '-' holds "
        "modules outside the numbered blocks). Right: the module's utilization in the audit. Dark cells "
        "on the left and right together mean a module that uses its rank."
    )
    svg = to_svg(fig, "fig-rankmap", title, text)
    return Figure(
        "fig-rankmap", title, caption, text, svg, ("module", "layer", "type", "rank", "utilization"), rows
    )
