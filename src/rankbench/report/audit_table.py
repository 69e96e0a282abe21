"""Plain-text rendering of an audit (from its JSON dict only; nothing is recomputed but grouping).

ASCII only, no colour, so it reads the same in any terminal, log file or pipe.
"""

from __future__ import annotations

import re

FLAG_TEXT = {
    "dora": "DoRA adapter: the spectrum is of scale*B@A only; the magnitude vector rescales columns on top",
    "untrained": "every dW is zero (lora_B = 0, or lora_embedding_A = 0): untrained, fresh default init",
    "partly_untrained": "some modules have dW = 0 (a factor is all zeros): never trained",
    "gram_method": "computed with --method gram: singular values below ~1e-8*sigma1 are unreliable",
    "rank_mismatch": "adapter_config.json's r disagrees with the tensors for some modules; tensor shapes used",
    "non_lora_tensors": "the file also holds non-LoRA tensors (modules_to_save, heads): listed, not audited",
    "multiple_adapters": "the file holds several adapters; module names repeat across them",
    "alpha_default": "some modules have no alpha tensor: alpha = r (scale 1), the trainers' convention",
    "unknown_keys": "some keys belong to no known LoRA family: listed as other tensors, not audited",
    "dense_method": "some LyCORIS modules were audited densely (no structured method): see each module's route",
}
_COLUMNS = ("module", "r", "shape", "scale", "sigma1", "stable", "eff", "E90", "E95", "E99", "util")


def _num(x: float) -> str:
    return f"{x:.3g}" if x and (abs(x) >= 1e4 or abs(x) < 1e-2) else f"{x:.3f}".rstrip("0").rstrip(".") or "0"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _module_row(mod: dict, multi: bool) -> tuple[str, ...]:
    e = mod["energy_rank"]
    name = f"{mod['adapter_name']}:{mod['name']}" if multi else mod["name"]
    return (
        name,
        str(mod["r"]),
        "x".join(map(str, mod["shape"])),
        _num(mod["scale"]),
        _num(mod["spectral_norm"]),
        f"{mod['stable_rank']:.2f}",
        f"{mod['effective_rank']:.2f}",
        str(e["0.9"]),
        str(e["0.95"]),
        str(e["0.99"]),
        f"{mod['utilization']:.2f}",
    )


def layer_of(name: str) -> str:
    """The first numeric path segment (the block index), or "-" when there is none."""
    m = re.search(r"(?:^|\.)(\d+)(?:\.|$)", name)
    return m.group(1) if m else "-"


def _layer_rows(modules: list[dict]) -> list[tuple[str, ...]]:
    groups: dict[str, list[dict]] = {}
    for mod in modules:
        groups.setdefault(layer_of(mod["name"]), []).append(mod)
    rows = [("layer", "modules", "r", "mean E90", "mean E99", "mean util", "min util")]
    for layer in sorted(groups, key=lambda x: (not x.isdigit(), int(x) if x.isdigit() else 0, x)):
        mods = groups[layer]
        n = len(mods)
        rows.append(
            (
                layer,
                str(n),
                "/".join(str(r) for r in sorted({mod["r"] for mod in mods})),
                f"{sum(mod['energy_rank']['0.9'] for mod in mods) / n:.1f}",
                f"{sum(mod['energy_rank']['0.99'] for mod in mods) / n:.1f}",
                f"{sum(mod['utilization'] for mod in mods) / n:.2f}",
                f"{min(mod['utilization'] for mod in mods):.2f}",
            )
        )
    return rows


def render_audit(doc: dict, *, top_wasteful: int = 5, layers: bool = False, modules: bool = True) -> str:
    """The audit as text: a module (or layer) table, the summary, the most wasteful modules, the flags."""
    a, s, mods = doc["adapter"], doc["summary"], doc["modules"]
    out = [
        f"adapter   {a['source']}   format {a.get('format', 'peft')}",
        f"weights   {a['weights_file']}  sha256 {a['sha256'][:16]}...",
    ]
    out.append(
        f"base      {a['base_model'] or '(not recorded)'}   peft {a['peft_type']}   rslora {a['use_rslora']}"
        f"   dora {a['use_dora']}   method {doc['method']}"
    )
    out.append("")
    if layers:
        out += _table(_layer_rows(mods)) + [""]
    elif modules:
        multi = len(a["adapter_names"]) > 1
        out += _table([_COLUMNS] + [_module_row(mod, multi) for mod in mods]) + [""]
    out.append(
        "E90/E95/E99: energy rank, the fewest directions holding 90/95/99% of ||dW||_F^2 (sum of sigma^2)"
    )
    out.append(
        "eff: effective rank exp(entropy of sigma/sum sigma); util: eff / r; stable: sum sigma^2 / sigma1^2"
    )
    out.append("")
    out.append(f"modules                 {s['n_modules']}   (r: {', '.join(map(str, s['r_values']))})")
    out.append(f"LoRA params             {s['total_lora_params']:,}")
    if s["other_params"]:
        out.append(
            f"other params            {s['other_params']:,} in {len(a['other_tensors'])} tensors (not audited)"
        )
    out.append(f"params at 99% energy    {s['params_at_energy_rank_99']:,}")
    out.append(f"mean utilization        {s['utilization_mean']:.3f}   (min {s['utilization_min']:.3f})")
    out.append(f"90% energy rank         p50 {s['energy_rank_90_p50']:g}   p90 {s['energy_rank_90_p90']:g}")
    wasteful = s["most_wasteful"][:top_wasteful]
    if wasteful:
        out.append("")
        out.append(f"most wasteful (lowest utilization), top {len(wasteful)}:")
        for w in wasteful:
            out.append(
                f"  {w['name']}  r={w['r']}  util={w['utilization']:.2f}  99% energy in {w['energy_rank_99']}"
            )
    out.append("")
    if doc["flags"]:
        out.append("flags:")
        out += [f"  {flag}: {FLAG_TEXT.get(flag, '')}" for flag in doc["flags"]]
    else:
        out.append("flags: none")
    return "\n".join(out)
