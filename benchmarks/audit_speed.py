"""How fast is `rankbench audit` on a Llama-2-7B-sized adapter? (a script that prints a table, not a test)

Builds a synthetic PEFT adapter with Llama-2-7B's shapes, r=64 on all seven projections (q, k, v, o
4096x4096; gate, up 11008x4096; down 4096x11008) in 32 layers: 224 modules, 160M parameters, bfloat16,
in a temporary folder. Then, in the same run:

- ``rankbench audit --json`` end to end, as a subprocess (startup, reading, sha256, math, JSON); peak
  RSS of that process from wait4();
- a plain numpy Gram-eigenvalue reference in this process (read + widen bf16 + eig((BᵀB)(AAᵀ))), the
  fast but inexact shortcut the exact audit is measured against;
- dense SVDs of ΔW for one 4096x4096 and one 11008x4096 module, extrapolated to all 224 modules, and
  how far the audit's singular values are from them.

Targets on the 2-core dev machine: exact audit <= 1.5 s wall, <= 2x the Gram reference, peak RSS <= 1 GB.

Threads: BLAS is pinned to 1 thread per call before numpy is imported (unless OMP/OPENBLAS/MKL_NUM_THREADS
are set), here and in the CLI it starts; the CLI then audits one module per core. One BLAS thread is
also the faster setting for the Gram reference on these tall-skinny products (n x r, r = 64), and
multi-threaded OpenBLAS collapses when other processes share the cores. Both are recorded in the table.

    python benchmarks/audit_speed.py [--repeats 3] [--layers 32] [--no-dense] [--keep DIR]
"""

from __future__ import annotations

import os

from rankbench.threads import THREAD_VARS, audit_workers  # torch- and numpy-free: safe before the pin

if not any(_var in os.environ for _var in THREAD_VARS):
    for _var in THREAD_VARS:
        os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HIDDEN, INTER, RANK, ALPHA = 4096, 11008, 64, 128
PROJ = {  # name: (out, in)
    "self_attn.q_proj": (HIDDEN, HIDDEN),
    "self_attn.k_proj": (HIDDEN, HIDDEN),
    "self_attn.v_proj": (HIDDEN, HIDDEN),
    "self_attn.o_proj": (HIDDEN, HIDDEN),
    "mlp.gate_proj": (INTER, HIDDEN),
    "mlp.up_proj": (INTER, HIDDEN),
    "mlp.down_proj": (HIDDEN, INTER),
}


def to_bf16_bytes(x: np.ndarray) -> bytes:
    """float32 → bfloat16 bytes (round to nearest even on the high 16 bits)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    u = u + (np.uint32(0x7FFF) + ((u >> 16) & 1))
    return (u >> 16).astype("<u2").tobytes()


def build_adapter(folder: Path, layers: int, seed: int = 0, decay: bool = False) -> tuple[int, int]:
    """Write adapter_config.json + adapter_model.safetensors; returns (modules, params).

    ``decay``: column k of each B is scaled by exp(-k / τ), τ drawn in [2, 24] per module, so every
    module's spectrum decays at its own speed (what the report's figures need to be worth looking at).
    """
    rng = np.random.default_rng(seed)
    tensors = {}
    for i in range(layers):
        for proj, (out, n_in) in PROJ.items():
            base = f"base_model.model.model.layers.{i}.{proj}"
            tensors[f"{base}.lora_A.weight"] = (RANK, n_in)
            tensors[f"{base}.lora_B.weight"] = (out, RANK)
    header, offset = {}, 0
    for key in sorted(tensors):
        nbytes = 2 * tensors[key][0] * tensors[key][1]
        header[key] = {
            "dtype": "BF16",
            "shape": list(tensors[key]),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(folder / "adapter_model.safetensors", "wb") as fh:
        fh.write(len(blob).to_bytes(8, "little") + blob)
        for key in sorted(tensors):
            rows, cols = tensors[key]
            std = 1.0 / np.sqrt(cols) if key.endswith("lora_A.weight") else 0.01
            x = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(std)
            if decay and key.endswith("lora_B.weight"):  # B: (out, r), column k scaled
                x *= np.exp(-np.arange(RANK) / rng.uniform(2.0, 24.0)).astype(np.float32)
            fh.write(to_bf16_bytes(x))
    config = {
        "peft_type": "LORA",
        "r": RANK,
        "lora_alpha": ALPHA,
        "target_modules": sorted(p.split(".")[-1] for p in PROJ),
        "base_model_name_or_path": "meta-llama/Llama-2-7b-hf (synthetic shapes)",
        "use_rslora": False,
        "use_dora": False,
        "fan_in_fan_out": False,
    }
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2))
    return len(tensors) // 2, sum(r * c for r, c in tensors.values())


def time_cli(folder: Path, repeats: int) -> tuple[list[float], list[float], float, dict]:
    """Wall and CPU (user+sys) times of `rankbench audit --json`, the largest peak RSS (MB), the last JSON."""
    times, cpu, peak_mb, doc = [], [], 0.0, {}
    cmd = [sys.executable, "-m", "rankbench", "audit", "--json", str(folder)]
    for _ in range(repeats):
        with tempfile.TemporaryFile() as out:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
            times.append(time.perf_counter() - t0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            err = proc.stderr.read().decode()
            proc.stderr.close()
            if proc.returncode != 0:
                raise SystemExit(f"rankbench audit failed ({proc.returncode}):\n{err}")
            peak_mb = max(peak_mb, usage.ru_maxrss / 1024)
            cpu.append(usage.ru_utime + usage.ru_stime)
            out.seek(0)
            doc = json.loads(out.read())
    return times, cpu, peak_mb, doc


def read_bf16(fh, header: dict, data_start: int, key: str) -> np.ndarray:
    meta = header[key]
    begin, end = meta["data_offsets"]
    fh.seek(data_start + begin)
    raw = np.frombuffer(fh.read(end - begin), dtype="<u2")
    return (raw.astype(np.uint32) << 16).view(np.float32).astype(np.float64).reshape(meta["shape"])


def gram_reference(folder: Path) -> tuple[float, float, dict[str, np.ndarray]]:
    """Plain numpy: read each pair, widen bf16, σ = sqrt(eig((BᵀB)(AAᵀ)))·scale. (wall s, CPU s, σ)."""
    t0, c0 = time.perf_counter(), time.process_time()
    path = folder / "adapter_model.safetensors"
    sigmas = {}
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
        header.pop("__metadata__", None)
        for key in sorted(k for k in header if k.endswith("lora_A.weight")):
            A = read_bf16(fh, header, 8 + n, key)  # (r, in)
            B = read_bf16(fh, header, 8 + n, key.replace("lora_A", "lora_B"))  # (out, r)
            lam = np.linalg.eigvals((B.T @ B) @ (A @ A.T)).real  # (r, r) @ (r, r)
            sigmas[key] = (ALPHA / RANK) * np.sqrt(np.sort(np.clip(lam, 0, None))[::-1])
    return time.perf_counter() - t0, time.process_time() - c0, sigmas


def api_times(folder: Path, repeats: int) -> tuple[list[float], list[float]]:
    """rankbench.audit() in this process (no interpreter start, no JSON): wall and CPU seconds."""
    from rankbench.auditor import audit

    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        audit(folder)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus


def dense_check(folder: Path, doc: dict, layers: int) -> tuple[float, float]:
    """Dense SVD of ΔW for q_proj and gate_proj of layer 0: (extrapolated seconds for all, max rel. error)."""
    path = folder / "adapter_model.safetensors"
    by_name = {m["name"]: np.array(m["singular_values"]) for m in doc["modules"]}
    total, worst = 0.0, 0.0
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
        for proj, count in (("self_attn.q_proj", 4), ("mlp.gate_proj", 3)):
            base = f"base_model.model.model.layers.0.{proj}"
            A = read_bf16(fh, header, 8 + n, f"{base}.lora_A.weight")
            B = read_bf16(fh, header, 8 + n, f"{base}.lora_B.weight")
            t0 = time.perf_counter()
            dense = np.linalg.svd((ALPHA / RANK) * (B @ A), compute_uv=False)[:RANK]  # (out, in) product
            total += (time.perf_counter() - t0) * count * layers
            ours = by_name[f"model.layers.0.{proj}"]
            worst = max(worst, float(np.max(np.abs(ours - dense)) / dense[0]))
    return total, worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--no-dense", action="store_true", help="skip the (slow) dense SVD comparison")
    ap.add_argument("--keep", type=Path, help="build the adapter here and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rankbench-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        n_modules, n_params = build_adapter(folder, args.layers)
        build_s = time.perf_counter() - t0
        size_mb = (folder / "adapter_model.safetensors").stat().st_size / 1e6
        gram_times, gram_cpu, sig_gram = zip(
            *(gram_reference(folder) for _ in range(args.repeats)), strict=True
        )
        load_before = os.getloadavg()[0]
        times, cpu, peak_mb, doc = time_cli(folder, args.repeats)
        api_wall, api_cpu = api_times(folder, args.repeats)
        exact = {
            f"base_model.model.{m['name']}.lora_A.weight": np.array(m["singular_values"])
            for m in doc["modules"]
        }
        gram_gap = max(float(np.max(np.abs(exact[k] - s)) / s[0]) for k, s in sig_gram[0].items())
        dense_s, dense_err = (
            (float("nan"), float("nan")) if args.no_dense else dense_check(folder, doc, args.layers)
        )
    routes = statistics.multimode(m["route"] for m in doc["modules"])
    best, gram_best = min(times), min(gram_times)
    rows = [
        ("threads", ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in THREAD_VARS) + f" (cpus: {os.cpu_count()})"),
        ("audit workers (modules at once)", str(audit_workers())),
        ("adapter", f"{n_modules} modules, {n_params / 1e6:.1f}M params, bf16, {size_mb:.0f} MB (built in {build_s:.1f} s)"),
        ("load average before timing", f"{load_before:.2f} (other processes share these cores when > 0.5)"),
        ("exact audit, CLI --json", f"best {best:.3f} s, median {statistics.median(times):.3f} s of {len(times)}  (target <= 1.5 s)"),
        ("  CPU time (user+sys)", f"best {min(cpu):.3f} s"),
        ("exact audit, in-process API", f"best {min(api_wall):.3f} s wall, {min(api_cpu):.3f} s CPU (sha256 included)"),
        ("peak RSS of the CLI", f"{peak_mb:.0f} MB  (target <= 1024 MB)"),
        ("Gram reference, in-process", f"best {gram_best:.3f} s, median {statistics.median(gram_times):.3f} s"),
        ("  CPU time", f"best {min(gram_cpu):.3f} s"),
        ("exact / Gram", f"{best / gram_best:.2f}x wall, {min(cpu) / min(gram_cpu):.2f}x CPU  (target <= 2x)"),
        ("dense SVD, extrapolated", f"{dense_s:.0f} s for all {n_modules} modules"),
        ("max |exact - dense| / sigma1", f"{dense_err:.1e}"),
        ("max |exact - Gram| / sigma1", f"{gram_gap:.1e}"),
        ("QR route used (most modules)", ", ".join(routes)),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    print(f"{'measure'.ljust(width)}  value\n{'-' * width}  {'-' * 60}")
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    ok = best <= 1.5 and best <= 2 * gram_best and peak_mb <= 1024
    print(f"\ntargets {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
