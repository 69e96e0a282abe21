"""Reading ``rankbench_spectra.jsonl`` back: the summary that ``rankbench audit --timeline`` prints.

The file may be read while training still appends to it, or after a run was killed: a last line
without its newline is an unfinished write and is skipped with a note. Any other line that is not a
JSON object of this format is an error naming the line.
"""

from __future__ import annotations

import json
from pathlib import Path

from rankbench.errors import RankbenchError
from rankbench.monitor.sample import SCHEMA_VERSION

_HINT = "point --timeline at the rankbench_spectra.jsonl that the monitor writes into the output_dir"


def read_timeline(path) -> tuple[list[dict], list[str]]:
    """(lines, notes) of a timeline file; raises RankbenchError for a missing or foreign file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RankbenchError("file not found", path=path, hint=_HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RankbenchError(f"cannot read the timeline ({exc})", path=path, hint=_HINT) from None
    raw = text.split("\n")
    notes, lines = [], []
    if raw and raw[-1]:  # no final newline: the writer was stopped mid-line
        notes.append(f"skipped an unfinished last line ({len(raw[-1])} bytes)")
    for i, line in enumerate(raw[:-1], 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RankbenchError(f"line {i} is not valid JSON ({exc})", path=path, hint=_HINT) from None
        if not isinstance(obj, dict) or obj.get("kind") not in ("sample", "skipped"):
            raise RankbenchError(f"line {i} is not a rankbench timeline record", path=path, hint=_HINT)
        if obj.get("schema_version") != SCHEMA_VERSION:
            raise RankbenchError(
                f"line {i} has schema_version {obj.get('schema_version')!r}; this rankbench reads "
                f"{SCHEMA_VERSION}",
                path=path,
                hint="read it with the rankbench version that wrote it",
            )
        lines.append(obj)
    return lines, notes


def summarize_timeline(path) -> dict:
    """First and last sample (step, aggregates), every alert, skipped samples and runs, as a dict."""
    lines, notes = read_timeline(path)
    samples = [x for x in lines if x["kind"] == "sample"]
    skipped = [{"step": x["step"], "reason": x["reason"]} for x in lines if x["kind"] == "skipped"]

    def brief(x):
        return None if x is None else {"step": x["step"], "modules": len(x["modules"]), **x["aggregates"]}

    return {
        "path": str(path),
        "runs": list(dict.fromkeys(x["run"] for x in lines)),
        "samples": len(samples),
        "first": brief(samples[0] if samples else None),
        "last": brief(samples[-1] if samples else None),
        "alerts": [a for x in samples for a in x["alerts"]],
        "skipped": skipped,
        "notes": notes,
    }


def render_timeline(summary: dict) -> str:
    """The summary as text (one table of first vs last sample, then the warnings)."""
    out = [f"timeline: {summary['path']}  ({summary['samples']} samples, {len(summary['runs'])} run(s))"]
    first, last = summary["first"], summary["last"]
    if first is not None:
        keys = [k for k in first if k not in ("step", "modules")]
        width = max(len(k) for k in keys)
        out.append(f"{'':{width}}  {'first':>12}  {'last':>12}")
        out.append(f"{'step':{width}}  {first['step']:>12}  {last['step']:>12}")
        out.append(f"{'modules':{width}}  {first['modules']:>12}  {last['modules']:>12}")
        out += [f"{k:{width}}  {first[k]:>12.4g}  {last.get(k, float('nan')):>12.4g}" for k in keys]
    alerts = summary["alerts"]
    out.append(f"warnings: {len(alerts) or 'none'}")
    out += [f"  step {a['step']}: {a['kind']}: {a['message']}" for a in alerts]
    for s in summary["skipped"]:
        out.append(f"skipped sample at step {s['step']}: {s['reason']}")
    out += [f"note: {n}" for n in summary["notes"]]
    return "\n".join(out)
