"""rankbench vs the full-matrix SVD resize (what sd-scripts' networks/resize_lora.py does), side by side.

Synthesizes kohya LoRA files from the real SDXL and Flux.1 module names and shapes
(tests/helpers/sd_keys.py) at r = 32: SDXL in fp16, Flux in bf16, each module with a decaying spectrum
(up columns scaled 1 → 0.01). Then, in the same run and on the same file:

- **ours**: ``compute_spectra`` (the exact audit, never forming ΔW) + ``make_plan("per_layer")`` +
  ``compress_file`` (the kohya file written back), one thread;
- **full SVD**: for every module, up·down merged in float32, ``torch.linalg.svd`` of the merged matrix
  (thin, which is faster than resize_lora.py's default full_matrices=True; its optional svd_lowrank for
  layers > 2048 is an approximation and not timed here), kohya's rule on the σ, U_k·S_k / V_k cast to
  the file's dtype, alpha = scale·k, written with safetensors.torch.save_file; one thread.

Parity, for sv_ratio, sv_cumulative and sv_fro: the per-module ranks our rules choose from the exact σ
against kohya's index rules (re-implemented here from their definition: searchsorted of cumsum(σ)/Σσ,
of cumsum(σ²)/Σσ² against t², and count(σ > σ₁/q), each + 1, clamped to [1, len(S)] and to the old
rank) on the full SVD's σ; and for the written files, ‖ΔW_ours − ΔW_k‖_F / ‖ΔW_k‖_F where ΔW_k is the
full SVD's float32 rank-k truncation (the baseline's own written file is given the same check: both sit
at the dtype's rounding).

The full SVD is slow, so by default it runs on a generated subset of modules (every 10th SDXL
transformer block and text-encoder layer, all shapes present; one Flux double and one single block):
``--sdxl-blocks-scale 1 --flux-double 19 --flux-single 38`` gives the whole files. ``--full-ours`` also
times ours on the whole files (the full SVD is then extrapolated from its per-shape times).

    python benchmarks/kohya_resize.py [--rules sv_ratio:20,sv_cumulative:0.9,sv_fro:0.9] [--full-ours]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.sd_keys import flux_modules, kohya_rank, sdxl_modules, write_kohya  # noqa: E402
from rankbench.suggest.compress_file import compress_file  # noqa: E402
from rankbench.suggest.plans import make_plan  # noqa: E402
from rankbench.suggest.spectra import compute_spectra  # noqa: E402

R, ALPHA = 32, 16.0


def ours(src: Path, out: Path, rules: list[str]) -> tuple[float, dict, dict]:
    """(seconds for audit + plan + compress with rules[-1], {rule: {module: k}}, bytes)."""
    t0 = time.perf_counter()
    spectra = compute_spectra(src, workers=1)
    plans = {
        rule: make_plan(
            "per_layer", spectra, rule=rule, allowed_ranks=range(1, R + 1), cap_numerical_rank=True
        )
        for rule in rules
    }
    record = compress_file(src, plans[rules[-1]], out, workers=1)
    return (
        time.perf_counter() - t0,
        {rule: p.ranks for rule, p in plans.items()},
        {
            "before": record.source_bytes,
            "after": record.out_bytes,
        },
    )


def full_svd(src: Path, out: Path, rules: list[str], ours_out: Path):
    """The full-matrix resize; returns (seconds, {rule: {module: k}}, per-shape seconds, errors)."""
    import torch
    from safetensors.torch import load_file, save_file

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    sd = load_file(str(src))
    new, ranks, shape_time = dict(sd), defaultdict(dict), defaultdict(list)
    checks, check_time = {"ours": 0.0, "baseline": 0.0}, 0.0
    mine = load_file(str(ours_out))
    for key in [k for k in sd if k.endswith(".lora_down.weight")]:
        stem = key[: -len(".lora_down.weight")]
        down, up = sd[key], sd[f"{stem}.lora_up.weight"]
        r, dtype = down.shape[0], down.dtype
        scale = float(sd[f"{stem}.alpha"]) / r
        t1 = time.perf_counter()
        merged = up.float().reshape(up.shape[0], r) @ down.float().reshape(r, -1)  # (out, in·k·k)
        U, S, Vh = torch.linalg.svd(merged, full_matrices=False)
        s_np = S.numpy()
        for rule in rules:
            ranks[rule][stem] = kohya_rank(s_np, rule, r)
        k = ranks[rules[-1]][stem]
        new[f"{stem}.lora_up.weight"] = (
            (U[:, :k] * S[:k]).to(dtype).reshape(up.shape[0], k, *up.shape[2:]).contiguous()
        )
        new[f"{stem}.lora_down.weight"] = Vh[:k].to(dtype).reshape(k, *down.shape[1:]).contiguous()
        new[f"{stem}.alpha"] = torch.tensor(scale * k).to(dtype)
        shape_time[tuple(merged.shape)].append(time.perf_counter() - t1)
        t2 = time.perf_counter()  # the check is not part of the timing
        ref = scale * (U[:, :k] * S[:k]).double() @ Vh[:k].double()  # (out, k) @ (k, in)
        for who, d in (("ours", mine), ("baseline", new)):
            dn, upk = d[key].double().reshape(-1, ref.shape[1]), d[f"{stem}.lora_up.weight"].double()
            dw = float(d[f"{stem}.alpha"]) / dn.shape[0] * upk.reshape(ref.shape[0], -1) @ dn
            checks[who] = max(checks[who], float(torch.linalg.norm(dw - ref) / torch.linalg.norm(ref)))
        check_time += time.perf_counter() - t2
    save_file(new, str(out), metadata={"ss_network_dim": "Dynamic"})
    return time.perf_counter() - t0 - check_time, dict(ranks), shape_time, checks


def compare(name: str, modules, dtype: str, rules: list[str], folder: Path) -> dict:
    src = write_kohya(folder / f"{name}.safetensors", modules, r=R, dtype=dtype, alpha=ALPHA, seed=1)
    t_ours, ours_ranks, size = ours(src, folder / f"{name}.ours.safetensors", rules)
    t_full, full_ranks, shape_time, err = full_svd(
        src, folder / f"{name}.full.safetensors", rules, folder / f"{name}.ours.safetensors"
    )
    parity = {
        rule: sum(ours_ranks[rule][m] == full_ranks[rule][m] for m in full_ranks[rule]) for rule in rules
    }
    diffs = {
        rule: [m for m in full_ranks[rule] if ours_ranks[rule][m] != full_ranks[rule][m]] for rule in rules
    }
    return {"name": name, "modules": len(modules), "ours": t_ours, "full": t_full, "size": size,
            "parity": parity, "diffs": diffs, "err": err, "shape_time": shape_time}  # fmt: skip


def extrapolate(shape_time: dict, modules) -> float:
    per = {shape: float(np.median(ts)) for shape, ts in shape_time.items()}
    return sum(per[(o, i * k * k)] for _, o, i, k in modules)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rules", default="sv_ratio:20,sv_cumulative:0.9,sv_fro:0.9")
    ap.add_argument("--sdxl-blocks-scale", type=int, default=10)
    ap.add_argument("--flux-double", type=int, default=1)
    ap.add_argument("--flux-single", type=int, default=1)
    ap.add_argument(
        "--full-ours", action="store_true", help="also time ours on the whole SDXL and Flux files"
    )
    args = ap.parse_args()
    rules = args.rules.split(",")
    with tempfile.TemporaryDirectory(prefix="kohya_resize_") as tmp:
        folder = Path(tmp)
        sets = [
            ("sdxl", sdxl_modules(blocks_scale=args.sdxl_blocks_scale), "F16", sdxl_modules()),
            ("flux", flux_modules(double_blocks=args.flux_double, single_blocks=args.flux_single), "BF16", flux_modules()),
        ]  # fmt: skip
        print(f"r={R}, alpha={ALPHA}, rules {', '.join(rules)} (compress with {rules[-1]}), 1 thread each\n")
        print("| file | modules | dtype | bytes before → after | ours: audit+plan+compress | full SVD resize | speed-up | same ranks (" + ", ".join(rules) + ") | max rel. ‖ΔW−ΔW_k‖ ours / full-SVD output |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        for name, mods, dtype, whole in sets:
            res = compare(name, mods, dtype, rules, folder)
            same = ", ".join(f"{res['parity'][r]}/{res['modules']}" for r in rules)
            print(f"| {name} subset | {res['modules']} | {dtype} | {res['size']['before']:,} → {res['size']['after']:,} | "
                  f"{res['ours']:.2f} s | {res['full']:.1f} s | {res['full'] / res['ours']:.0f}× | {same} | "
                  f"{res['err']['ours']:.1e} / {res['err']['baseline']:.1e} |")  # fmt: skip
            for rule in rules:
                for m in res["diffs"][rule][:3]:
                    print(f"    rank differs ({rule}): {m}")
            if args.full_ours:
                src = write_kohya(
                    folder / f"{name}_full.safetensors", whole, r=R, dtype=dtype, alpha=ALPHA, seed=2
                )
                t_full_ours, _, size = ours(src, folder / f"{name}_full.ours.safetensors", rules)
                est = extrapolate(res["shape_time"], whole)
                print(f"| {name} whole | {len(whole)} | {dtype} | {size['before']:,} → {size['after']:,} | "
                      f"{t_full_ours:.1f} s | ~{est:.0f} s (extrapolated per shape) | ~{est / t_full_ours:.0f}× | | |")  # fmt: skip
                for p in folder.glob(f"{name}_full*"):
                    p.unlink()


if __name__ == "__main__":
    main()
