"""Render a ``rankbench compare`` document as a plain-text table or as Markdown (from the JSON alone)."""

from __future__ import annotations

from rankbench.report.audit_table import _table

COLUMNS = (
    "candidate",  # its short label (C1, C2, ...); the header lines give each label's input
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


def _label(c: dict) -> str:
    return c.get("label") or c["candidate"]["input"]


def _row(c: dict) -> tuple[str, ...]:
    ci = c["ci"]
    return (
        _label(c),
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
    lines += [f"{_label(c)}: {c['candidate']['input']} ({_describe(c['candidate'])})" for c in cs]
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
        notes += [f"note: {_label(c)}: {n}" for n in c["notes"]]
    return notes


def _flip_counts(c: dict) -> str:
    f = c.get("flips") or {}
    return f"{len(f.get('lost', []))} lost (baseline better), {len(f.get('gained', []))} gained"


def _flip_lines(c: dict) -> list[str]:
    """The flip list of one candidate as Markdown bullets (ids in code, the text quoted on one line)."""
    out = []
    for kind, what in (("lost", "baseline better"), ("gained", "candidate better")):
        for f in (c.get("flips") or {}).get(kind, []):
            text = "" if f["text"] is None else " — " + " ".join(f["text"].split()).replace("|", "\\|")
            out.append(f"- {kind} `{f['id']}`: {f['baseline']:g} → {f['candidate']:g} ({what}){text}")
    return out


def flips_md(comparisons: list[dict]) -> list[str]:
    """One collapsed ``<details>`` block per candidate with flips (Markdown renderers keep it folded)."""
    lines: list[str] = []
    for c in comparisons:
        body = _flip_lines(c)
        if not body:
            continue
        lines += ["", f"<details><summary>flips of {_label(c)}: {_flip_counts(c)}</summary>", "", *body]
        lines += ["", "</details>"]
    return lines


def render_compare(doc: dict) -> str:
    """The plain-text table (ASCII, no colour) with the inputs named above it and the notes below."""
    table = _table([COLUMNS, *(_row(c) for c in doc["comparisons"])])
    flips = [
        f"flips: {_label(c)}: {_flip_counts(c)} (listed by --json, --markdown)" for c in doc["comparisons"]
    ]
    return "\n".join([*_header(doc), "", *table, "", *flips, *_footer(doc)]).rstrip() + "\n"


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
    lines += flips_md(doc["comparisons"])
    return "\n".join(lines) + "\n"
