"""Open an adapter: the format dispatcher, and the PEFT folder's validation.

:func:`open_adapter` sends a single file (kohya, diffusers, LyCORIS) to
:mod:`rankbench.adapters.single_file`; for a PEFT folder it checks the folder, ``adapter_config.json``
and the weights file's header, and returns an :class:`rankbench.adapters.adapter.Adapter`, which groups
the tensor keys into LoRA pairs; it reads no tensor data. Nothing is ever written to the folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from rankbench.adapters.adapter import Adapter
from rankbench.adapters.config import config_problems
from rankbench.adapters.safetensors_file import SafetensorsFile
from rankbench.adapters.source import resolve_adapter_dir, single_file_of
from rankbench.errors import RankbenchError, warn
from rankbench.io import loads_strict

__all__ = ["open_adapter", "rank_mismatch_message"]

CONFIG_NAME = "adapter_config.json"
SAFETENSORS_NAME = "adapter_model.safetensors"
BIN_NAME = "adapter_model.bin"


def _read_config(folder: Path) -> dict:
    path = folder / CONFIG_NAME
    try:
        config = loads_strict(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RankbenchError("is not valid JSON (not UTF-8 text)", path=path, hint=_CONFIG_HINT) from None
    except json.JSONDecodeError as exc:
        raise RankbenchError(
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            path=path,
            hint=_CONFIG_HINT,
        ) from None
    problems = config_problems(config)
    if problems:
        raise RankbenchError("; ".join(problems), path=path, hint=_CONFIG_HINT)
    return config


_CONFIG_HINT = "adapter_config.json is written by PEFT's save_pretrained(); restore it from there"


def _not_an_adapter(folder: Path) -> RankbenchError:
    subdirs = sorted(p.parent.name for p in folder.glob(f"*/{CONFIG_NAME}"))
    if subdirs:
        return RankbenchError(
            f"has no {CONFIG_NAME}; adapters were found in subfolders: {', '.join(subdirs)}",
            path=folder,
            hint=f"pass one of them, e.g. {folder / subdirs[0]}",
        )
    what = (
        "a full model folder, not a PEFT adapter"
        if (folder / "config.json").exists()
        else "not a PEFT adapter"
    )
    return RankbenchError(
        f"is {what}: no {CONFIG_NAME}",
        path=folder,
        hint="pass the folder written by PeftModel.save_pretrained() (adapter_config.json + adapter_model.safetensors)",
    )


def _open_weights(folder: Path):
    if (folder / SAFETENSORS_NAME).is_file():
        return SafetensorsFile(folder / SAFETENSORS_NAME)
    if (folder / BIN_NAME).is_file():
        from rankbench.adapters.torch_bin import TorchBinFile

        return TorchBinFile(folder / BIN_NAME)
    raise RankbenchError(
        f"has {CONFIG_NAME} but no {SAFETENSORS_NAME}",
        path=folder,
        hint="copy the weights file next to the config",
    )


def open_adapter(path, *, revision: str | None = None) -> Adapter:
    """Open and validate a PEFT LoRA adapter (a local folder, or a hub id when online).

    Raises :class:`RankbenchError` (exit code 2) for a missing path, a folder that is not an adapter, a
    missing or malformed config, a truncated or corrupt weights file, unpaired A/B shapes or an adapter
    with no LoRA weights. A config r that disagrees with the tensor shapes is a warning; the tensors win.
    """
    single = single_file_of(path)
    if single is not None:
        from rankbench.adapters.single_file import open_single_file

        return open_single_file(single, source=str(path))
    folder = resolve_adapter_dir(path, revision=revision)
    if not folder.is_dir():
        raise RankbenchError("is not a folder", path=folder)
    if not (folder / CONFIG_NAME).is_file():
        raise _not_an_adapter(folder)
    config = _read_config(folder)
    weights = _open_weights(folder)
    try:
        adapter = Adapter(folder, config, weights, str(path))
    except BaseException:
        weights.close()
        raise
    if not adapter.specs:
        adapter.close()
        extra = f" ({len(adapter.others)} other tensors)" if adapter.others else ""
        raise RankbenchError(
            f"holds no LoRA weights{extra}: no lora_A/lora_B pairs",
            path=adapter.weights_path,
            hint="was the adapter saved before get_peft_model() added LoRA layers?",
        )
    if adapter.rank_mismatches:
        warn(rank_mismatch_message(adapter))
    return adapter


def rank_mismatch_message(adapter: Adapter) -> str:
    """One warning for every module whose config r disagrees with its tensors (the tensors win)."""
    name, config_r, r = adapter.rank_mismatches[0]
    n = len(adapter.rank_mismatches)
    more = f" and {n - 1} more module(s)" if n > 1 else ""
    return (
        f"{adapter.path / CONFIG_NAME}: r for module {name}{more} disagrees with the tensors "
        f"(config r={config_r}, lora_A/lora_B have r={r}); using the tensor shapes"
    )
