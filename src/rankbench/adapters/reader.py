"""Open a PEFT LoRA adapter folder, validate it, and iterate its LoRA pairs one module at a time.

:func:`open_adapter` checks the folder, ``adapter_config.json`` and the weights file's header, and groups
the tensor keys into LoRA pairs (:mod:`rankbench.adapters.pairs`); it reads no tensor data.
:meth:`Adapter.iter_pairs` then reads A and B of one module at a time, so memory stays near one
module's worth. Nothing is ever written to the folder.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

from rankbench.adapters.config import config_problems
from rankbench.adapters.pairs import LoraPair, OtherTensor, PairSpec, group_pairs
from rankbench.adapters.safetensors_file import SafetensorsFile
from rankbench.adapters.source import resolve_adapter_dir, single_file_of
from rankbench.errors import RankbenchError, warn
from rankbench.io import loads_strict, sha256_file

__all__ = ["Adapter", "LoraPair", "OtherTensor", "PairSpec", "open_adapter", "sha256_file"]

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


class Adapter:
    """A validated PEFT LoRA adapter folder (see :func:`open_adapter`)."""

    def __init__(self, folder: Path, config: dict, weights, source: str, *, grouped=None, fmt="peft") -> None:
        """``grouped``: (specs, others, rank mismatches) when a single-file reader grouped the keys
        itself (:mod:`rankbench.adapters.single_file`); ``fmt``: the detected format's name."""
        self.path = folder
        self.format: str = fmt
        self.metadata: dict = dict(getattr(weights, "metadata", {}) or {})
        self.format_flags: list[str] = []  # what a single-file reader noticed (alpha_assumed, unknown_keys…)
        self.structured: list = []  # LyCORIS LoHa/LoKr modules (rankbench.adapters.lycoris)
        self.alpha_tensors: dict = {}  # module → TensorInfo of its .alpha tensor (single-file formats)
        self.source = source  # what the user passed (a folder or a hub id)
        self.config = config
        self.weights_path: Path = weights.path
        self.peft_type: str = config.get("peft_type", "LORA")
        self.base_model: str | None = config.get("base_model_name_or_path") or None
        self.target_modules: list[str] | str | None = config.get("target_modules")
        self.use_rslora: bool = bool(config.get("use_rslora", False))
        self.use_dora: bool = bool(config.get("use_dora", False))
        self.fan_in_fan_out: bool = bool(config.get("fan_in_fan_out", False))
        self._weights = weights
        if grouped is None:
            grouped = group_pairs(weights.tensors, config, weights.path)
        self.specs, self.others, self.rank_mismatches = grouped
        self.adapter_names: list[str] = sorted({s.adapter_name for s in self.specs})
        self.pair_names: list[str] = [s.name for s in self.specs]
        self._sha256: str | None = None
        self._sha_thread: threading.Thread | None = None

    @property
    def sha256(self) -> str:
        """sha256 of the weights file (computed once; see :meth:`prefetch_sha256`)."""
        if self._sha_thread is not None:
            self._sha_thread.join()
            self._sha_thread = None
        if self._sha256 is None:
            self._sha256 = sha256_file(self.weights_path)
        return self._sha256

    def prefetch_sha256(self) -> None:
        """Hash the weights file in a background thread (hashlib releases the GIL) while we compute."""
        if self._sha256 is not None or self._sha_thread is not None:
            return

        def work() -> None:
            with contextlib.suppress(RankbenchError):  # the property retries in the caller's thread
                self._sha256 = sha256_file(self.weights_path)

        self._sha_thread = threading.Thread(target=work, name="rankbench-sha256", daemon=True)
        self._sha_thread.start()

    def tensors_in_file(self) -> dict:
        """key → TensorInfo of every tensor in the weights file (from its header)."""
        return self._weights.tensors

    def read_structured(self, spec):
        """A LyCORIS module's exact spectrum (:func:`rankbench.adapters.lycoris.read_structured`)."""
        from rankbench.adapters.lycoris import read_structured

        return read_structured(self._weights, spec)

    def read_pair(self, spec: PairSpec) -> LoraPair:
        """Read one pair's tensors (float64)."""
        A = self._weights.read(spec.info_A.key)
        B = self._weights.read(spec.info_B.key)
        A = A.reshape(A.shape[0], -1)  # conv: (r, in, k…) -> (r, in·k…)
        B = B.reshape(B.shape[0], B.shape[1])  # conv: (out, r, 1…) -> (out, r)
        magnitude = self._weights.read(spec.info_magnitude.key) if spec.info_magnitude else None
        dtype = spec.info_A.dtype_name
        if spec.info_B.dtype != spec.info_A.dtype:
            dtype += f"/{spec.info_B.dtype_name}"
        return LoraPair(
            name=spec.name,
            adapter_name=spec.adapter_name,
            kind=spec.kind,
            A=A,
            B=B,
            r=spec.r,
            alpha=spec.alpha,
            scale=spec.scale,
            fan_in_fan_out=self.fan_in_fan_out,
            dtype=dtype,
            key_A=spec.info_A.key,
            key_B=spec.info_B.key,
            magnitude=magnitude,
        )

    def iter_pairs(self) -> Iterator[LoraPair]:
        """Yield every LoRA pair, one module at a time, in (adapter, natural module path) order."""
        try:
            for spec in self.specs:
                yield self.read_pair(spec)
        finally:
            self._weights.close()

    def close(self) -> None:
        self._weights.close()

    def __enter__(self) -> Adapter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Adapter({str(self.path)!r}, pairs={len(self.specs)}, others={len(self.others)})"


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
