"""One pass over an adapter that yields what plans need (σ per module) and what compression reuses.

:func:`compute_spectra` reads each LoRA pair once and keeps its :class:`~rankbench.spectral.truncate.
CoreSVD` (O(r²) numbers per module). The result quacks like an :class:`~rankbench.auditor.AuditResult`
for :func:`~rankbench.suggest.plans.make_plan` (``.modules`` with name, r, alpha, scale, shape,
singular_values), and :func:`~rankbench.suggest.compress.compress_adapter` accepts it as ``spectra=`` to
skip recomputing the factorisations: suggest + compress then read the file twice but factor it once.
The σ are the audit's (same R factors, :func:`rankbench.spectral.factored.r_factor`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from rankbench.adapters import OtherTensor, open_adapter
from rankbench.adapters.keys import natural_key
from rankbench.adapters.lycoris import StructuredSpec
from rankbench.adapters.safetensors_file import FLOAT_DTYPES
from rankbench.errors import RankbenchError, warn
from rankbench.spectral import NonFiniteError
from rankbench.spectral.truncate import CoreSVD, core_svd
from rankbench.suggest.rebuild import ordered_map
from rankbench.threads import audit_workers


@dataclass(frozen=True)
class ModuleSpectrum:
    name: str
    kind: str
    r: int
    alpha: float
    scale: float
    shape: tuple[int, int]  # (out, in) of B·A
    dtype: str
    singular_values: tuple[float, ...]  # of scale·B·A, descending, r of them


@dataclass(frozen=True, eq=False)
class Spectra:
    path: str
    sha256: str
    file_stat: tuple[int, int, int]  # (size, mtime_ns, inode) of the weights file when it was hashed
    use_rslora: bool
    use_dora: bool
    modules: list[ModuleSpectrum]
    others: list[OtherTensor]
    cores: dict[str, CoreSVD] = field(repr=False)
    format: str = "peft"  # the adapter's detected format (rankbench.adapters.families.FORMATS)


def pair_core(pair, weights_path) -> CoreSVD:
    try:
        return core_svd(pair.B, pair.A, pair.scale)
    except NonFiniteError as exc:
        raise RankbenchError(
            f"module {pair.name}: {pair.key_A if exc.factor == 'A' else pair.key_B} contains NaN or Inf",
            path=weights_path,
            hint="the training diverged or the file is damaged; use an earlier checkpoint",
        ) from None


def file_stat(path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ino


def check_single_adapter(adapter) -> None:
    if len(adapter.adapter_names) > 1:
        raise RankbenchError(
            f"holds {len(adapter.adapter_names)} adapters ({', '.join(adapter.adapter_names)}); "
            "plans and compression handle one adapter at a time",
            path=adapter.weights_path,
            hint="save each adapter on its own with save_pretrained(selected_adapters=[name])",
        )


def compute_spectra(path, *, workers: int | None = None) -> Spectra:
    """σ and the factor-space SVD of every module of the adapter at ``path`` (read once, never written).

    ``workers``: modules factored in parallel, as in :func:`rankbench.auditor.audit` (default: one per
    core when BLAS is pinned to one thread, else 1).
    """
    workers = audit_workers() if workers is None else max(1, int(workers))
    with open_adapter(path) as adapter:
        check_single_adapter(adapter)
        if adapter.use_dora or any(s.info_magnitude is not None for s in adapter.specs):
            warn(
                f"{adapter.path}: DoRA adapter: the plans rank scale·B·A only (the magnitude vector is not "
                "part of it), and rankbench compress refuses DoRA"
            )
        if workers > 1:  # BLAS is single-threaded: hashing the file can overlap the math
            adapter.prefetch_sha256()

        def one(spec) -> tuple[ModuleSpectrum, CoreSVD | None]:
            if isinstance(spec, StructuredSpec):  # LyCORIS: σ only; compression reads it again
                s = tuple(adapter.read_structured(spec).singular_values.tolist())
                dtype = FLOAT_DTYPES[spec.dtype][1]
                return ModuleSpectrum(
                    spec.name, spec.family, len(s), spec.scale * len(s), spec.scale, spec.shape, dtype, s
                ), None
            pair = adapter.read_pair(spec)
            core = pair_core(pair, adapter.weights_path)
            s = tuple(core.s.tolist())
            return ModuleSpectrum(
                pair.name, pair.kind, pair.r, pair.alpha, pair.scale, pair.shape, pair.dtype, s
            ), core

        specs = sorted([*adapter.specs, *adapter.structured], key=lambda s: natural_key(s.name))
        done = list(ordered_map(one, specs, workers))
        return Spectra(
            str(adapter.path),
            adapter.sha256,
            file_stat(adapter.weights_path),
            adapter.use_rslora,
            adapter.use_dora,
            [m for m, _ in done],
            list(adapter.others),
            {m.name: core for m, core in done if core is not None},
            adapter.format,
        )
