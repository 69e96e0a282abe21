"""The opened adapter, whatever its format: its config, its LoRA pairs and how to read them.

:func:`rankbench.adapters.reader.open_adapter` (the format dispatcher) builds one. :meth:`Adapter.iter_pairs`
reads A and B of one module at a time, so memory stays near one module's worth.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from rankbench.adapters.pairs import LoraPair, PairSpec, group_pairs
from rankbench.errors import RankbenchError
from rankbench.io import sha256_file


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
