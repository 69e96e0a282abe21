"""Does the user's adapter fit the base model and the task? Checked before any stage runs.

The base is built on the meta device (names and shapes only: no memory, no weights read). Each LoRA
pair's ΔW = B·A must have the shape of the module it adapts (``weight`` for a Linear or a convolution,
transposed for GPT-2's Conv1D and for embeddings); every other tensor (a classifier head from
``modules_to_save``) must have the shape of the parameter it replaces, which for a head is where a
wrong number of labels shows. The first mismatch stops the run with exit code 2.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rankbench.adapters.keys import strip_prefix
from rankbench.adapters.reader import CONFIG_NAME, SAFETENSORS_NAME
from rankbench.bench.user_adapter import OVERRIDE_HINT, open_user_adapter
from rankbench.errors import RankbenchError
from rankbench.io import read_json, sha256_file
from rankbench.run_layout import ADAPTER_DIR

if TYPE_CHECKING:
    import torch

    from rankbench.adapters.adapter import Adapter
    from rankbench.bench.protocol import BenchRun

HEADS = ("classifier", "score")  # the heads transformers' sequence classifiers put on a base


def delta_shape(module, kind: str) -> tuple[int, ...] | None:
    """The (out, in) shape a ΔW for ``module`` must have, as :attr:`PairSpec.shape` gives it."""
    weight = getattr(module, "weight", None)
    if weight is None or weight.dim() < 2:
        return None
    shape = tuple(int(x) for x in weight.shape)
    if kind in ("conv1d", "embedding"):  # Conv1D stores (in, out); an embedding (vocab, dim)
        return shape[1], shape[0]
    flat = 1
    for x in shape[1:]:
        flat *= x
    return shape[0], flat  # Linear (out, in); a convolution (out, in·k…)


def first_mismatch(
    adapter: Adapter, model: torch.nn.Module, num_labels: int | None
) -> tuple[str, str] | None:
    """(what does not fit, hint) for the first tensor of ``adapter`` that ``model`` cannot take."""
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    for spec in adapter.specs:
        module = modules.get(spec.name)
        if module is None:
            return f"module {spec.name}: the base model has no such module", _arch_hint(adapter, model)
        expected = delta_shape(module, spec.kind)
        if expected != tuple(spec.shape):
            return (
                f"module {spec.name}: lora_B·lora_A is {_shape(spec.shape)}, the base model's "
                f"{type(module).__name__} needs {_shape(expected)}"
            ), _arch_hint(adapter, model)
    for other in adapter.others:
        name = strip_prefix(other.key).replace(".modules_to_save.default.", ".")
        if "lora_" in name:
            continue
        param = params.get(name)
        if param is None:
            return f"tensor {name}: the base model has no such parameter", _arch_hint(adapter, model)
        expected = tuple(int(x) for x in param.shape)
        if expected != tuple(other.shape):
            found = f"{name} is {_shape(other.shape)}, the base model needs {_shape(expected)}"
            if name.split(".")[0] in HEADS and num_labels is not None:
                return (
                    f"the adapter's head does not fit the task: {found} ({num_labels} labels)",
                    "the head's first dimension is the number of classes: check task.dataset and "
                    "task.label_column (or task.labels) against the data the adapter was trained on",
                )
            return f"tensor {found}", _arch_hint(adapter, model)
    return None


def _shape(shape) -> str:
    return str(tuple(int(x) for x in shape))  # (3,) for a bias, (2, 32) for a weight


def _arch_hint(adapter: Adapter, model: torch.nn.Module) -> str:
    theirs = adapter.config.get("base_model_name_or_path") or "unknown"
    return (
        f"the adapter was trained on another model (its {CONFIG_NAME} names {theirs}; the base here is "
        f"a {type(model).__name__}); {OVERRIDE_HINT}"
    )


def check_fit(b: BenchRun) -> dict:
    """Stop with exit 2 unless the adapter fits the base and the task; returns its provenance."""
    cfg = b.cfg
    folder = Path(cfg.probe.adapter)
    try:
        source = b.profile.model_provenance(cfg)
    except RankbenchError as exc:
        raise RankbenchError(
            f"cannot load the base model {cfg.model.name!r} for the adapter: {exc.message}",
            path=exc.path,
            hint=OVERRIDE_HINT,
        ) from None
    data = b.data
    num_labels = data.extra.get("num_labels")
    with open_user_adapter(folder) as adapter:
        mismatch = first_mismatch(adapter, b.profile.meta_model(cfg, data), num_labels)
        if mismatch is not None:
            raise RankbenchError(
                f"does not fit the base model {cfg.model.name}: {mismatch[0]}",
                path=adapter.weights_path,
                hint=mismatch[1],
            )
        config = adapter.config
    theirs = config.get("base_model_name_or_path")
    return {
        "path": str(folder),
        "sha256": cfg.probe.adapter_sha256,
        "adapter_config": config,
        "base_model": cfg.model.name,
        "base_model_source": f"{CONFIG_NAME} base_model_name_or_path"
        if theirs == cfg.model.name
        else f"config model.name (the adapter's {CONFIG_NAME} names {theirs!r})",
        "base_model_revision": source.get("revision"),
        "label_order": data.provenance.get("label_order"),
        "label_order_source": data.provenance.get("label_order_source"),
    }


def import_adapter(b: BenchRun, out: Path) -> dict:
    """Copy the checked adapter into ``out/adapter`` (its two files); the user's folder is only read."""
    t0 = time.perf_counter()
    prov = check_fit(b)
    folder = Path(prov["path"])
    tmp = out / "adapter.tmp"
    tmp.mkdir(parents=True)
    for name in (CONFIG_NAME, SAFETENSORS_NAME):
        shutil.copyfile(folder / name, tmp / name)
    copied = sha256_file(tmp / SAFETENSORS_NAME)
    if copied != prov["sha256"]:
        raise RankbenchError(
            f"{SAFETENSORS_NAME} changed while the bench started (sha256 {copied}, expected {prov['sha256']})",
            path=folder / SAFETENSORS_NAME,
            hint="let whatever writes the adapter finish, then run again with another --output folder",
        )
    if read_json(tmp / CONFIG_NAME) != prov["adapter_config"]:
        raise RankbenchError(f"{CONFIG_NAME} changed while the bench started", path=folder / CONFIG_NAME)
    tmp.rename(out / ADAPTER_DIR)
    prov["import_seconds"] = round(time.perf_counter() - t0, 3)
    return prov
