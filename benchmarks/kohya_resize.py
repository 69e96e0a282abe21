"""rankbench's kohya rules and compress against sd-scripts' own ``networks/resize_lora.py``, side by side.

The reference is sd-scripts' code run as-is from a snapshot outside the package (``--sd-scripts PATH``
or $RANKBENCH_SD_SCRIPTS), through its own command line (``setup_parser`` + ``resize``) in a
subprocess: ``--model SRC --save_to REF --new_rank 32 --dynamic_method M --dynamic_param P
--save_precision fp16|bf16``. Its imports of ``library.model_util``, ``library.train_util`` and
``library.utils`` (diffusers, accelerate, torchvision, OpenCV, toml) are stood in for by three small
modules that play no part in the resize: the file-extension test, a sha256 of the serialized state
dict in place of its two metadata hashes (the same work, other values), and logging setup; see
tests/helpers/sd_scripts.py. Everything else, torch's SVD included, is sd-scripts' code and the real
packages. Get a snapshot with ``git clone https://github.com/kohya-ss/sd-scripts`` (or
``git archive HEAD networks library | tar -x -C DIR`` from a mirror).

Files: kohya LoRAs synthesized from the real SDXL and Flux.1 module names and shapes
(tests/helpers/sd_keys.py), r = 32, alpha = 16, each module's spectrum decaying at its own speed
(up columns scaled 1 → 0.01, times 1 → dᵢ with dᵢ log-uniform in [1e-3, 0.3]);
SDXL in fp16 (U-Net attention and FF, LoCon 3×3 convs, both text encoders), Flux in bf16. For each file
and each rule, on one thread:

- **ours**: ``compute_spectra`` + ``make_plan("per_layer", rule, allowed_ranks=1..32)`` +
  ``compress_file``, in this process;
- **sd-scripts**: ``resize`` (load, merge, full SVD, rule, save), timed inside its process.

Both written files are read back. Reported: modules compared, ranks equal module by module (each
mismatch listed), and for each file the largest ‖ΔW_file − ΔW_k‖_F / ‖ΔW_k‖_F over modules, where
ΔW_k is the exact rank-k truncation of the source ΔW (float64, from the factors, k the file's own rank
for that module); the unit roundoff of the dtype is printed beside it.

sd-scripts takes a full-matrices SVD of every merged matrix (minutes per Flux module on one thread), so
by default both run on a subset file: one module (``--per-shape``) of every distinct shape whose longer
side is at most ``--max-side`` (10240: all 15 SDXL shapes, LoCon convs and both text encoders
included; Flux's 3072×3072 and 9216×3072). ``--max-side 0`` keeps every shape, ``--whole`` the whole
files (994 SDXL and 304 Flux modules: hours on one CPU thread).

    python benchmarks/kohya_resize.py --sd-scripts /tmp/sd-scripts [--rules sv_fro:0.9,...] [--whole]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
from helpers.peft_fixtures import write_safetensors  # noqa: E402
from helpers.sd_keys import KOHYA_METADATA, flux_modules, kohya_tensors, sdxl_modules  # noqa: E402
from helpers.sd_scripts import ENV, HINT, sd_scripts_root  # noqa: E402
from rankbench.suggest.compress_file import compress_file  # noqa: E402
from rankbench.suggest.plans import make_plan  # noqa: E402
from rankbench.suggest.spectra import compute_spectra  # noqa: E402

R, ALPHA = 32, 16.0
ROUNDOFF = {"F16": 2.0**-11, "BF16": 2.0**-8}
PRECISION = {"F16": "fp16", "BF16": "bf16"}


def subset(modules, max_side: int, per_shape: int = 1) -> list:
    """The first per_shape modules of every distinct (out, in, kernel) whose longer side is at most
    max_side (0: any)."""
    seen: dict[tuple, int] = {}
    keep = []
    for stem, out, n_in, k in modules:
        shape = (out, n_in, k)
        if seen.get(shape, 0) >= per_shape or (max_side and max(out, n_in * k * k) > max_side):
            continue
        seen[shape] = seen.get(shape, 0) + 1
        keep.append((stem, out, n_in, k))
    return keep


def write_source(path: Path, modules, dtype: str, seed: int = 1) -> Path:
    """A kohya file whose modules decay at different speeds, so that the rules pick varied ranks: on top
    of sd_keys' 1 → 0.01 column scale, module i's up columns get 1 → dᵢ, dᵢ log-uniform in [1e-3, 0.3]."""
    rng = np.random.default_rng(seed)
    tensors = kohya_tensors(modules, R, rng, alpha=ALPHA)
    for stem, *_ in modules:
        up = tensors[f"{stem}.lora_up.weight"]  # (out, r[, 1, 1])
        decay = np.geomspace(1.0, 10 ** rng.uniform(-3.0, np.log10(0.3)), R)
        tensors[f"{stem}.lora_up.weight"] = up * decay.reshape((1, R) + (1,) * (up.ndim - 2))
    return write_safetensors(path, tensors, dtype, KOHYA_METADATA)


def run_ours(src: Path, out: Path, rule: str) -> float:
    t0 = time.perf_counter()
    spectra = compute_spectra(src, workers=1)
    plan = make_plan("per_layer", spectra, rule=rule, allowed_ranks=range(1, R + 1), cap_numerical_rank=True)
    compress_file(src, plan, out, workers=1)
    return time.perf_counter() - t0


def run_sd_scripts(root: Path, src: Path, out: Path, rule: str, dtype: str) -> float:
    """sd-scripts' resize_lora.py command line in a subprocess, one thread; its resize() seconds."""
    method, _, param = rule.partition(":")
    cmd = [sys.executable, str(TESTS / "helpers" / "sd_scripts.py"), str(root), "--model", str(src),
           "--save_to", str(out), "--new_rank", str(R), "--dynamic_method", method,
           "--dynamic_param", param, "--save_precision", PRECISION[dtype]]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"error: sd-scripts' resize_lora.py failed on {src}:\n{done.stderr[-3000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def factors(sd: dict, stem: str) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(up (out, k), down (k, in·kh·kw), scale) in float64; scale = alpha/k."""
    down = sd[f"{stem}.lora_down.weight"].double()
    up = sd[f"{stem}.lora_up.weight"].double()
    k = down.shape[0]
    return up.reshape(up.shape[0], k), down.reshape(k, -1), float(sd[f"{stem}.alpha"].double()) / k


def truncation(up, down, scale, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact rank-k truncation of scale·up·down as (left (out, k), right (k, in)), via two QRs."""
    qb, rb = torch.linalg.qr(up)  # qb: (out, r)  rb: (r, r)
    qa, ra = torch.linalg.qr(down.T)  # qa: (in, r)  ra: (r, r)
    u, s, vh = torch.linalg.svd(scale * rb @ ra.T)  # (r, r)
    return qb @ (u[:, :k] * s[:k]), vh[:k] @ qa.T


def rel_error(sd: dict, stem: str, src: dict) -> float:
    """‖ΔW_file − ΔW_k‖_F / ‖ΔW_k‖_F with k the file's rank, without forming the dense matrices."""
    up, down, scale = factors(sd, stem)
    left, right = truncation(*factors(src, stem), up.shape[1])
    x = torch.cat([scale * up, -left], dim=1)  # (out, 2k): ΔW_file − ΔW_k = x @ y
    y = torch.cat([down, right], dim=0)  # (2k, in)
    diff = float(torch.sum((x.T @ x) * (y @ y.T)))
    norm = float(torch.sum((left.T @ left) * (right @ right.T)))
    return (max(diff, 0.0) / norm) ** 0.5


def compare(root: Path, folder: Path, name: str, modules, dtype: str, rule: str) -> dict:
    src = folder / f"{name}.safetensors"
    tag = rule.replace(":", "_")
    ours_out, ref_out = folder / f"{name}.{tag}.ours.safetensors", folder / f"{name}.{tag}.sd.safetensors"
    t_ours = run_ours(src, ours_out, rule)
    t_ref = run_sd_scripts(root, src, ref_out, rule, dtype)
    source, ours, ref = load_file(str(src)), load_file(str(ours_out)), load_file(str(ref_out))
    stems = [stem for stem, *_ in modules]
    k_ours = {s: ours[f"{s}.lora_down.weight"].shape[0] for s in stems}
    k_ref = {s: ref[f"{s}.lora_down.weight"].shape[0] for s in stems}
    return {
        "t_ours": t_ours,
        "t_ref": t_ref,
        "same": sum(k_ours[s] == k_ref[s] for s in stems),
        "diffs": [(s, k_ours[s], k_ref[s]) for s in stems if k_ours[s] != k_ref[s]],
        "err_ours": max(rel_error(ours, s, source) for s in stems),
        "err_ref": max(rel_error(ref, s, source) for s in stems),
        "ranks": sorted(k_ref.values()),
    }


def table(root: Path, sets, rules: list[str]) -> None:
    print("| file | modules | rule | ranks equal | sd-scripts ranks (min–max) | max rel. ‖ΔW−ΔW_k‖_F ours "
          "/ sd-scripts | dtype roundoff | ours | sd-scripts | ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="kohya_resize_") as tmp:
        folder = Path(tmp)
        for name, modules, dtype in sets:
            if not modules:
                print(f"| {name} | 0 | (no module within --max-side) | | | | | | | |")
                continue
            write_source(folder / f"{name}.safetensors", modules, dtype)
            for rule in rules:
                res = compare(root, folder, name, modules, dtype, rule)
                n = len(modules)
                print(f"| {name} | {n} | {rule} | {res['same']}/{n} | {res['ranks'][0]}–{res['ranks'][-1]} | "
                      f"{res['err_ours']:.1e} / {res['err_ref']:.1e} | {ROUNDOFF[dtype]:.1e} | "
                      f"{res['t_ours']:.2f} s | {res['t_ref']:.1f} s | {res['t_ref'] / res['t_ours']:.0f}× |",
                      flush=True)  # fmt: skip
                for stem, mine, theirs in res["diffs"]:
                    print(f"    rank differs ({rule}): {stem}: ours {mine}, sd-scripts {theirs}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sd-scripts", default=None, help=f"sd-scripts snapshot (default: ${ENV})")
    ap.add_argument("--rules", default="sv_fro:0.9,sv_cumulative:0.9,sv_ratio:20")
    ap.add_argument("--max-side", type=int, default=10240, help="subset: longest side kept (0: all shapes)")
    ap.add_argument("--files", default="sdxl,flux", help="which synthesized files: sdxl, flux or both")
    ap.add_argument("--per-shape", type=int, default=1, help="subset: modules kept of each shape")
    ap.add_argument("--whole", action="store_true", help="the whole SDXL and Flux files (hours on one CPU)")
    args = ap.parse_args()
    root = sd_scripts_root(args.sd_scripts)
    if root is None:
        given = args.sd_scripts or os.environ.get(ENV)
        what = f"{given} holds no networks/resize_lora.py" if given else f"no --sd-scripts and no ${ENV}"
        print(f"error: sd-scripts snapshot needed: {what}\nhint: {HINT}", file=sys.stderr)
        sys.exit(2)
    pick = (lambda mods: mods) if args.whole else (lambda mods: subset(mods, args.max_side, args.per_shape))
    files = {"sdxl": (sdxl_modules, "F16"), "flux": (flux_modules, "BF16")}
    names = [n for n in args.files.split(",") if n]
    if not names or set(names) - set(files):
        print(f"error: --files {args.files!r}: choose from sdxl, flux", file=sys.stderr)
        sys.exit(2)
    sets = [(n, pick(files[n][0]()), files[n][1]) for n in names]
    print(f"r={R}, alpha={ALPHA}, sd-scripts at {root}, one thread each, "
          f"{'whole files' if args.whole else f'{args.per_shape} module(s) per shape, longest side <= {args.max_side}'}\n")  # fmt: skip
    table(root, sets, args.rules.split(","))


if __name__ == "__main__":
    main()
