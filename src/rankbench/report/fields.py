"""What the figures read from bench.json / bench_aggregate.json, read defensively, never recomputed.

One :class:`Row` per variant: its Δ, the interval the verdict was decided on, the verdict, its size.
For a single run that interval is ``compressed.<v>.ci``; for a campaign it is ``decision_ci`` when the
aggregate has one, else the pooled interval (``delta_ci_pooled``) that older aggregates decided on.
"""

from __future__ import annotations

from dataclasses import dataclass

from rankbench.keys import DECISION_CI, DELTA, PASS_RATE, POLICY_RESULT, VERDICT


@dataclass(frozen=True)
class Row:
    key: str  # the key in ``compressed``
    label: str  # "variant · method"
    role: str  # compression | control
    params: float | None  # LoRA parameters (the mean over seeds for a campaign)
    delta: float
    low: float | None
    high: float | None
    confidence: float | None
    method: str  # how the interval was made
    passed: bool
    verdict: str  # PASS / FAIL as the artifact says it
    seed_deltas: tuple[float, ...] = ()
    seeds: tuple = ()
    pass_rate: float | None = None
    n_pass: int | None = None
    n: int | None = None  # items behind a single run's interval
    variant_only: int | None = None  # items only the variant got right
    probe_only: int | None = None  # items only the probe got right


def _label(key: str, v: dict) -> str:
    return f"{v.get('variant') or key} · {v.get('method', '?')}"


def bench_rows(doc: dict) -> list[Row]:
    rows = []
    for key, v in doc.get("compressed", {}).items():
        ci, paired = v.get("ci") or {}, v.get("paired") or {}
        rows.append(
            Row(
                key=key,
                label=_label(key, v),
                role=v.get("role", "compression"),
                params=v.get("params"),
                delta=v[DELTA],
                low=ci.get("low"),
                high=ci.get("high"),
                confidence=ci.get("confidence"),
                method=ci.get("method", ""),
                passed=v.get(VERDICT) == "PASS",
                verdict=v.get(VERDICT, "?"),
                n=ci.get("n", paired.get("n")),
                variant_only=ci.get("variant_only_correct", paired.get("variant_only_correct")),
                probe_only=ci.get("probe_only_correct", paired.get("probe_only_correct")),
            )
        )
    return rows


def compare_rows(doc: dict) -> list[Row]:
    """One row per candidate of a `rankbench compare` document (Δ = candidate − baseline)."""
    rows = []
    for c in doc.get("comparisons", []):
        ci, cand = c.get("ci") or {}, c.get("candidate") or {}
        name = str(cand.get("input") or cand.get("path") or "?")
        rows.append(
            Row(
                key=name,
                label=c.get("label") or (name if len(name) <= 40 else "…" + name[-39:]),
                role="compression",
                params=None,
                delta=c["delta"],
                low=ci.get("low"),
                high=ci.get("high"),
                confidence=ci.get("confidence"),
                method=ci.get("method", ""),
                passed=c.get("verdict") == "PASS",
                verdict=c.get("verdict", "?"),
                n=c.get("n"),
                variant_only=c.get("candidate_only"),
                probe_only=c.get("baseline_only"),
            )
        )
    return rows


def decision_interval(v: dict) -> dict:
    """{low, high, confidence, method} of the interval a campaign's verdict was decided on."""
    ci = v.get(DECISION_CI)
    if ci and ci.get("low") is not None:
        return {k: ci.get(k) for k in ("low", "high", "confidence", "method")}
    pooled = v.get("delta_ci_pooled") or {}
    return {
        "low": pooled.get("ci_low"),
        "high": pooled.get("ci_high"),
        "confidence": pooled.get("confidence"),
        "method": pooled.get("method", ""),
    }


def aggregate_rows(doc: dict) -> list[Row]:
    rows = []
    for key, v in doc.get("compressed", {}).items():
        ci = decision_interval(v)
        passed = bool((v.get(POLICY_RESULT) or {}).get("passed"))
        deltas = v[DELTA]
        rows.append(
            Row(
                key=key,
                label=_label(key, v),
                role=v.get("role", "compression"),
                params=(v.get("params") or {}).get("mean"),
                delta=deltas["mean"],
                low=ci["low"],
                high=ci["high"],
                confidence=ci["confidence"],
                method=ci["method"] or "",
                passed=passed,
                verdict="PASS" if passed else "FAIL",
                seed_deltas=tuple(deltas.get("values") or ()),
                seeds=tuple(v.get("seeds") or doc.get("seeds") or ()),
                pass_rate=v.get(PASS_RATE),
                n_pass=(v.get("verdict_distribution") or {}).get("PASS"),
            )
        )
    return rows


def tolerance(doc: dict) -> float | None:
    tol = (doc.get("summary") or {}).get("tolerance")
    if tol is None:
        for v in doc.get("compressed", {}).values():
            tol = v.get("tolerance") or (v.get(POLICY_RESULT) or {}).get("tolerance")
            if tol is not None:
                break
    return tol


def loss_steps(train: dict) -> list[int]:
    """The step at the end of each logged loss window (``log_every`` steps, the last one shorter)."""
    losses, steps = train.get("losses") or [], train.get("steps")
    if train.get("loss_steps"):
        return list(train["loss_steps"])
    if not losses or not steps:
        return list(range(1, len(losses) + 1))
    every = train.get("log_every") or -(-steps // len(losses))
    return [min((i + 1) * every, steps) for i in range(len(losses))]


def _disagreements(r: Row) -> int | None:
    return None if r.variant_only is None or r.probe_only is None else r.variant_only + r.probe_only


def _interval_text(r: Row) -> str:
    return "no interval" if r.low is None else f"[{r.low:+.4f}, {r.high:+.4f}]"


def verdict_readings(rows: list[Row], tol: float | None) -> list[str]:
    """Sentences for the verdicts that look wrong at a glance but are right under non-inferiority:
    a PASS whose whole interval lies below 0, and a FAIL (a control's above all) at a Δ no lower than
    a passing variant's. Read off the rows; nothing is recomputed."""
    if tol is None:
        return []
    out = []
    below = [r for r in rows if r.passed and r.high is not None and r.high < 0]
    if below:
        out.append(
            f"{', '.join(r.key for r in below)}: PASS with the whole interval below 0 "
            f"({'; '.join(_interval_text(r) for r in below)}). Non-inferiority asks only that a variant "
            f"is not worse than the probe by more than the tolerance {tol:g}: "
            f"{'this one is' if len(below) == 1 else 'these are'} likely a little worse than the probe, "
            "but within the tolerance."
        )
    passes = [r for r in rows if r.passed and r.role == "compression"]  # the candidates
    for r in rows:
        peer = min((p for p in passes if p.delta <= r.delta), key=lambda p: p.delta, default=None)
        if r.passed or peer is None:
            continue
        mine, theirs = _disagreements(r), _disagreements(peer)
        wider = (
            f"it disagrees with the probe on {mine} items against {theirs} for {peer.key}, so its "
            "interval is wider"
            if mine is not None and theirs is not None
            else "its interval is wider"
        )
        text = (
            f"{r.key}: FAIL at Δ {r.delta:+.4f}, no lower than the passing {peer.key} "
            f"(Δ {peer.delta:+.4f}). A verdict rests on the lower end of the interval, not on Δ: "
            f"{wider} ({_interval_text(r)}) and reaches past −{tol:g}."
        )
        if r.role == "control":
            text += (
                " Controls are held to the same margin as the compressions, but a control is a question "
                "about the method, not a candidate to ship: this FAIL says only that the run cannot show "
                "the blind choice it stands for to be as good as the probe."
            )
        out.append(text)
    return out


def rounded(x: float) -> str:
    """A float as the reports print it: whole numbers with thousands separators, the rest to four
    decimals as bench.md prints Δ and intervals (never ``-0.0000``); magnitudes below 1e-4 (a spectrum's
    tail) and from 1e6 in three significant digits."""
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{x:,.0f}"
    if abs(x) < 1e-4 or abs(x) >= 1e6:
        return f"{x:.3g}"
    text = f"{x:.4f}"
    return "0.0000" if text == "-0.0000" else text
