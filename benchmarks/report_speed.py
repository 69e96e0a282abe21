"""How long does the audit's HTML page take for a 7B-shaped adapter, beside the audit itself?

Builds a Llama-2-7B-shaped PEFT adapter (224 modules, r=64, bf16; the shapes of audit_speed.py) whose
spectra decay at a different speed in every module, as trained adapters' do, so the page has
something to show. Then, in this process with BLAS pinned to one thread per call:

- ``audit()`` (read, exact spectra, summary), the baseline;
- the default plans of ``rankbench suggest`` (the page draws them);
- ``render_audit_html`` (matplotlib → inline SVG, the whole page), the thing measured;

and end to end, as the user runs them, ``rankbench audit --json`` against ``rankbench audit --json
--html FILE`` (subprocesses: interpreter start, imports, everything).

Target: the page renders in <= 3 s. ``--keep DIR`` keeps the adapter and writes the page there.

    python benchmarks/report_speed.py [--repeats 3] [--layers 32] [--keep DIR]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_speed import RANK, build_adapter  # noqa: E402


def in_process(folder: Path, out: Path, repeats: int) -> dict[str, list[float]]:
    from rankbench.auditor import audit
    from rankbench.report.html import render_audit_html
    from rankbench.suggest.document import DEFAULT_PLANS, DEFAULT_RULE
    from rankbench.suggest.plans import make_plan

    times: dict[str, list[float]] = {"audit()": [], "default plans": [], "render page": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = audit(folder)
        t1 = time.perf_counter()
        plans = {spec: make_plan(spec, result).to_dict() for spec in DEFAULT_PLANS}
        t2 = time.perf_counter()
        page = render_audit_html(result.to_dict(), plans, DEFAULT_RULE)
        t3 = time.perf_counter()
        times["audit()"].append(t1 - t0)
        times["default plans"].append(t2 - t1)
        times["render page"].append(t3 - t2)
    out.write_text(page)
    return times


def cli(folder: Path, extra: list[str], repeats: int) -> list[float]:
    cmd = [sys.executable, "-m", "rankbench", "audit", "--json", "--quiet", str(folder), *extra]
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
    return walls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--keep", type=Path, help="build the adapter here and keep it (and the page)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rankbench-report-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        n = build_adapter(folder, args.layers, decay=True)[0]
        page = folder / "audit.html"
        times = in_process(folder, page, args.repeats)
        times["CLI audit --json"] = cli(folder, [], args.repeats)
        times["CLI audit --json --html"] = cli(folder, ["--html", str(page)], args.repeats)
        size_kb = page.stat().st_size / 1e3
    print(
        f"{n} modules, r={RANK}, bf16; page {size_kb:.0f} kB; {args.repeats} repeats; "
        f"BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}; {os.cpu_count()} CPUs"
    )
    print(f"{'step':<26}{'median s':>10}{'min s':>8}")
    for name, ts in times.items():
        print(f"{name:<26}{statistics.median(ts):>10.2f}{min(ts):>8.2f}")
    html_cost = statistics.median(times["CLI audit --json --html"]) - statistics.median(
        times["CLI audit --json"]
    )
    render = statistics.median(times["render page"])
    print(
        f"page cost end to end: {html_cost:+.2f} s; render {render:.2f} s "
        f"({'meets' if render <= 3.0 else 'misses'} the 3 s target)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
