"""The kohya rules and compress against sd-scripts' own resize_lora.py, run in-process on the same file.

Needs a snapshot of kohya-ss/sd-scripts named by $RANKBENCH_SD_SCRIPTS (see tests/helpers/sd_scripts.py);
skipped with that hint otherwise. benchmarks/kohya_resize.py does the same on SDXL- and Flux-shaped
files; here the modules are small, so that sd-scripts' full SVD takes milliseconds.
"""

import numpy as np
import pytest

from helpers.peft_fixtures import write_safetensors
from helpers.sd_keys import KOHYA_METADATA, kohya_tensors
from helpers.sd_scripts import HINT, load_resize_lora, sd_scripts_root
from rankbench.suggest.compress_file import compress_file
from rankbench.suggest.plans import make_plan
from rankbench.suggest.spectra import compute_spectra

R = 24
# (stem, out, in, kernel): linear, a LoCon 3×3 conv, one with min(out, in) = 20 < r, and a wide one
MODULES = [
    ("lora_unet_a_proj", 64, 48, 1),
    ("lora_unet_b_in_layers_2", 32, 16, 3),
    ("lora_te1_c_fc", 20, 96, 1),
    ("lora_unet_d_to_k", 80, 200, 1),
    ("lora_unet_e_to_v", 96, 64, 1),
]
TRUE_RANK = [R, 12, 20, R, 7]  # ΔW's rank per module; e_to_v gets a zero direction under sv_ratio:20


@pytest.fixture(scope="module")
def resize_lora():
    pytest.importorskip("torch")
    pytest.importorskip("tqdm")
    root = sd_scripts_root()
    if root is None:
        pytest.skip(f"no sd-scripts snapshot: {HINT}")
    return load_resize_lora(root)


def _source(path, seed: int):
    rng = np.random.default_rng(seed)
    tensors = kohya_tensors(MODULES, R, rng, true_rank=lambda i: TRUE_RANK[i], alpha=8.0)
    for stem, *_ in MODULES:  # each module its own decay, so that the ranks differ
        up = tensors[f"{stem}.lora_up.weight"]
        decay = np.geomspace(1.0, 10 ** rng.uniform(-3, -0.5), R)
        tensors[f"{stem}.lora_up.weight"] = up * decay.reshape((1, R) + (1,) * (up.ndim - 2))
    return write_safetensors(path, tensors, "F32", KOHYA_METADATA)


def _deltas(path) -> dict[str, np.ndarray]:
    """{stem: ΔW = alpha/k · up·down (out, in·kh·kw)} in float64."""
    from safetensors.numpy import load_file

    sd = load_file(str(path))
    out = {}
    for key in (k for k in sd if k.endswith(".lora_down.weight")):
        stem = key[: -len(".lora_down.weight")]
        down, up = sd[key].astype(np.float64), sd[f"{stem}.lora_up.weight"].astype(np.float64)
        k = down.shape[0]
        out[stem] = float(sd[f"{stem}.alpha"]) / k * up.reshape(up.shape[0], k) @ down.reshape(k, -1)
    return out


@pytest.mark.parametrize(
    "rule", ["sv_fro:0.9", "sv_fro:0.5", "sv_cumulative:0.9", "sv_ratio:20", "sv_ratio:1"]
)
def test_ranks_and_delta_equal_what_sd_scripts_writes(tmp_path, resize_lora, rule):
    method, _, param = rule.partition(":")
    for seed in range(3):
        src = _source(tmp_path / f"src{seed}.safetensors", seed)
        ref, ours = tmp_path / f"ref{seed}.safetensors", tmp_path / f"ours{seed}.safetensors"
        args = resize_lora.setup_parser().parse_args(
            ["--model", str(src), "--save_to", str(ref), "--new_rank", str(R), "--dynamic_method", method,
             "--dynamic_param", param, "--save_precision", "float"]
        )  # fmt: skip
        resize_lora.resize(args)
        spectra = compute_spectra(src, workers=1)
        plan = make_plan("per_layer", spectra, rule=rule, allowed_ranks=range(1, R + 1))
        compress_file(src, plan, ours, workers=1)
        theirs, mine = _deltas(ref), _deltas(ours)
        assert {s: d.shape for s, d in mine.items()} == {s: d.shape for s, d in theirs.items()}
        for stem, dw in theirs.items():
            assert plan.ranks[stem] == _rank_of(ref, stem), (rule, seed, stem)
            assert np.linalg.norm(mine[stem] - dw) <= 1e-4 * np.linalg.norm(dw), (rule, seed, stem)
        # compress of a single file (cap_numerical_rank) keeps no zero direction where sd-scripts does
        capped = make_plan(
            "per_layer", spectra, rule=rule, allowed_ranks=range(1, R + 1), cap_numerical_rank=True
        )
        for i, (stem, *_) in enumerate(MODULES):
            assert capped.ranks[stem] == min(plan.ranks[stem], TRUE_RANK[i]), (rule, seed, stem)


def _rank_of(path, stem: str) -> int:
    from safetensors.numpy import load_file

    return load_file(str(path))[f"{stem}.lora_down.weight"].shape[0]
