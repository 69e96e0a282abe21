"""How fast are `rankbench suggest` + `rankbench compress` next to `rankbench audit`? (prints a table)

Builds the Llama-2-7B-shaped synthetic adapter of ``benchmarks/audit_speed.py`` (224 modules: 32 layers
x q, k, v, o 4096x4096, gate/up 11008x4096, down 4096x11008, r=64, bf16) in a temporary folder, then
times, in the same run and interleaved (one round = each measurement once):

- in-process: ``audit()`` (the baseline); suggest = ``compute_spectra()`` + the four default plans;
  ``compress_adapter()`` of a plan that truncates every module (rank:32), reusing suggest's spectra,
  and the same without them (cold: it factors every module again);
- command line (subprocesses): ``rankbench audit --json``, ``rankbench suggest --json`` and
  ``rankbench compress --plan rank:32`` (which runs suggest's pass itself, so it *is* suggest + compress).

Target: suggest + compress within 2x of the audit alone. Thread pools are pinned before numpy is
imported (OMP/OPENBLAS/MKL_NUM_THREADS, default 2) and printed. On a shared machine other processes
inflate single measurements, so the verdict uses the minimum of each measurement over the rounds; the
per-round ratios, the CPU-time ratio (less sensitive to sharing) and the load average are printed too.

``--threads 1`` is the configuration the commands choose for themselves when no thread variable is set
(one BLAS thread per call, one module per core); with 2, the library works on one module at a time.

    python benchmarks/suggest_speed.py [--repeats 3] [--layers 32] [--threads 2] [--no-cli] [--no-cold]
"""

from __future__ import annotations

import os
import sys

from rankbench.threads import THREAD_VARS  # torch- and numpy-free: safe before the pin

_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "2"
for _var in THREAD_VARS:
    os.environ[_var] = _threads

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_speed import build_adapter  # noqa: E402  (A's builder: one definition of the synthetic adapter)
from rankbench.auditor import audit  # noqa: E402
from rankbench.suggest.compress import compress_adapter  # noqa: E402
from rankbench.suggest.document import DEFAULT_PLANS  # noqa: E402
from rankbench.suggest.plans import make_plan  # noqa: E402
from rankbench.suggest.spectra import compute_spectra  # noqa: E402

COMPRESS_PLAN = "rank:32"


CPU = {}  # measurement -> CPU seconds (user + sys, all threads) of the last timed() call


def timed(fn, name=None):
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    if name:
        CPU[name] = time.process_time() - c0
    return time.perf_counter() - t0, result


def run_cli(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `python -m rankbench ARGS`."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rankbench", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"rankbench {' '.join(args)} failed:\n{err}")
    return wall, usage.ru_maxrss / 1024


def one_round(folder: Path, work: Path, cli: bool, cold: bool) -> dict[str, float]:
    t = {}
    t["audit"], _ = timed(lambda: audit(folder), "audit")

    def suggest():
        spectra = compute_spectra(folder)
        return spectra, {s: make_plan(s, spectra) for s in (*DEFAULT_PLANS, COMPRESS_PLAN)}

    t["suggest"], (spectra, plans) = timed(suggest, "suggest")
    out, plan = work / "warm", plans[COMPRESS_PLAN]
    t["compress"], record = timed(lambda: compress_adapter(folder, plan, out, spectra=spectra), "compress")
    t.update({f"cpu_{k}": v for k, v in CPU.items()})
    want = plans[COMPRESS_PLAN].discarded_energy
    assert abs(record.discarded_energy - want) <= 1e-9 * want, (record.discarded_energy, want)
    shutil.rmtree(out)
    if cold:
        t["compress_cold"], _ = timed(lambda: compress_adapter(folder, plans[COMPRESS_PLAN], work / "cold"))
        shutil.rmtree(work / "cold")
    if cli:
        t["cli_audit"], t["cli_audit_mb"] = run_cli(["audit", "--json", str(folder)])
        t["cli_suggest"], t["cli_suggest_mb"] = run_cli(["suggest", "--json", str(folder)])
        t["cli_compress"], t["cli_compress_mb"] = run_cli(
            ["compress", str(folder), "--plan", COMPRESS_PLAN, "--out", str(work / "cli"), "--quiet"]
        )
        shutil.rmtree(work / "cli")
    t["load"] = os.getloadavg()[0]
    return t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--threads", default="2", help="OMP/OPENBLAS/MKL_NUM_THREADS (set before numpy loads)")
    ap.add_argument("--no-cli", action="store_true", help="skip the subprocess timings")
    ap.add_argument("--no-cold", action="store_true", help="skip compress without reused spectra")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rankbench-suggest-bench-") as tmp:
        folder, work = Path(tmp) / "adapter", Path(tmp) / "work"
        folder.mkdir()
        work.mkdir()
        build_s, (n_modules, n_params) = timed(lambda: build_adapter(folder, args.layers))
        size_mb = (folder / "adapter_model.safetensors").stat().st_size / 1e6
        rounds = [one_round(folder, work, not args.no_cli, not args.no_cold) for _ in range(args.repeats)]
    report(rounds, n_modules, n_params, size_mb, build_s)
    return 0


def report(rounds, n_modules, n_params, size_mb, build_s) -> None:
    def col(key):
        return [r[key] for r in rounds if key in r]

    def cell(key):
        v = col(key)
        return f"min {min(v):7.2f} s  median {statistics.median(v):7.2f} s" if v else "-"

    ratio = [(r["suggest"] + r["compress"]) / r["audit"] for r in rounds]
    ratio_of_min = (min(col("suggest")) + min(col("compress"))) / min(col("audit"))
    cpu_ratio = (min(col("cpu_suggest")) + min(col("cpu_compress"))) / min(col("cpu_audit"))
    rows = [
        ("threads", ", ".join(f"{v}={os.environ[v]}" for v in THREAD_VARS) + f" (cpus: {os.cpu_count()})"),
        ("adapter", f"{n_modules} modules, {n_params / 1e6:.1f}M params, bf16, {size_mb:.0f} MB (built in {build_s:.1f} s)"),
        ("load average during rounds", ", ".join(f"{x:.1f}" for x in col("load")) + "  (> 2 means shared cores)"),
        ("audit (baseline)", cell("audit")),
        ("suggest (sigma pass + 4 plans)", cell("suggest")),
        (f"compress {COMPRESS_PLAN}, reusing spectra", cell("compress")),
        (f"compress {COMPRESS_PLAN}, cold", cell("compress_cold")),
        ("(suggest + compress) / audit", f"{ratio_of_min:.2f}x from the minima (target <= 2x); per round: "
         + ", ".join(f"{x:.2f}x" for x in ratio)),
        ("CPU s (user+sys): audit, suggest, compress", ", ".join(
            f"{min(col(k)):.2f}" for k in ("cpu_audit", "cpu_suggest", "cpu_compress")) + " (minima)"),
        ("(suggest + compress) / audit, CPU time", f"{cpu_ratio:.2f}x from the minima"),
        ("CLI rankbench audit --json", cell("cli_audit")),
        ("CLI rankbench suggest --json", cell("cli_suggest")),
        (f"CLI rankbench compress --plan {COMPRESS_PLAN}", cell("cli_compress") + "  (includes suggest's pass)"),
    ]  # fmt: skip
    if col("cli_audit"):
        cli_ratio = [r["cli_compress"] / r["cli_audit"] for r in rounds]
        cli_min = min(col("cli_compress")) / min(col("cli_audit"))
        rows.append(
            (
                "CLI compress / CLI audit",
                f"{cli_min:.2f}x from the minima; per round: " + ", ".join(f"{x:.2f}x" for x in cli_ratio),
            )
        )
        rows.append(
            (
                "peak RSS: audit, suggest, compress",
                ", ".join(
                    f"{max(col(k)):.0f} MB" for k in ("cli_audit_mb", "cli_suggest_mb", "cli_compress_mb")
                ),
            )
        )
    width = max(len(k) for k, _ in rows)
    print(f"{'measure'.ljust(width)}  value\n{'-' * width}  {'-' * 60}")
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    verdict = "met" if ratio_of_min <= 2 else "NOT met"
    print(
        f"\ntarget (suggest + compress <= 2x audit): {verdict} ({ratio_of_min:.2f}x from the minima of "
        f"{len(rounds)} rounds; per-round median {statistics.median(ratio):.2f}x)"
    )
    print(json.dumps({"rounds": rounds}), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
