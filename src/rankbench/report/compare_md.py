"""Render a ``rankbench compare`` document as a plain-text table or as Markdown (from the JSON alone)."""

from __future__ import annotations

from rankbench.report.audit_table import _table

COLUMNS = (
    "candidate",
    "n",
    "base_mean",
    "cand_mean",
    "delta",
    "CI",
    "cand_only",
    "base_only",
    "verdict",
    "margin",
)


def _num(x, fmt: str = ".4f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _count(x) -> str:
    return "-" if x is None else str(x)


def _verdict(c: dict) -> str:
    holm = c.get("holm")
    return c["verdict"] if holm is None else f"{c['verdict']} (holm {holm['verdict']})"


def _row(c: dict) -> tuple[str, ...]:
    ci = c["ci"]
    return (
        c["candidate"]["input"],
        str(c["n"]),
        _num(c["baseline_mean"]),
        _num(c["candidate_mean"]),
        _num(c["delta"], "+.4f"),
        f"[{_num(ci['low'], '+.4f')}, {_num(ci['high'], '+.4f')}]",
        _count(c["candidate_only"]),
        _count(c["baseline_only"]),
        _verdict(c),
        _num(c["mde"]),
    )


def _describe(d: dict) -> str:
    bits = [d["format"]]
    bits += [f"{k} {d[k]}" for k in ("task", "metric", "filter") if d.get(k) is not None]
    return ", ".join(bits)


def _header(doc: dict) -> list[str]:
    b, cs = doc["baseline"], doc["comparisons"]
    level = f"{doc['confidence'] * 100:g}%"
    lines = [f"baseline: {b['input']} ({_describe(b)}; {b['n_items']} items)"]
    lines += [f"candidate: {c['candidate']['input']} ({_describe(c['candidate'])})" for c in cs]
    for c in cs:
        d = c["dropped"]
        if d["baseline"] or d["candidate"]:
            lines.append(
                f"--intersect: {c['candidate']['input']}: dropped {d['baseline']} items only in the baseline "
                f"and {d['candidate']} only in the candidate; compared on {c['n']}"
            )
    methods = sorted({c["ci"]["method"] for c in cs})
    lines.append(
        f"delta = candidate - baseline; {level} interval: {'; '.join(methods)}; PASS iff its lower end "
        f"> -{doc['tolerance']:g}; margin = smallest tolerance resolvable with 80% power at delta = 0"
    )
    return lines


def _footer(doc: dict) -> list[str]:
    notes = [f"note: {n}" for n in doc["notes"]]
    for c in doc["comparisons"]:
        notes += [f"note: {c['candidate']['input']}: {n}" for n in c["notes"]]
    return notes


def render_compare(doc: dict) -> str:
    """The plain-text table (ASCII, no colour) with the inputs named above it and the notes below."""
    table = _table([COLUMNS, *(_row(c) for c in doc["comparisons"])])
    return "\n".join([*_header(doc), "", *table, "", *_footer(doc)]).rstrip() + "\n"


def render_compare_md(doc: dict) -> str:
    """The same content as Markdown: a header, a bullet list of the inputs, the table, the notes."""
    lines = ["# rankbench compare", ""]
    lines += [f"- {line}" for line in _header(doc)]
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for c in doc["comparisons"]:
        cells = [x.replace("|", "\\|") for x in _row(c)]
        cells[0] = f"`{cells[0]}`"
        lines.append("| " + " | ".join(cells) + " |")
    notes = _footer(doc)
    if notes:
        lines += ["", *(f"- {n.removeprefix('note: ')}" for n in notes)]
    return "\n".join(lines) + "\n"
