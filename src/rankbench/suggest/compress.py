"""Build a smaller PEFT adapter from a plan: the I/O edge around :mod:`rankbench.spectral.truncate`.

``compress_adapter(src, plan, out)`` writes ``out/`` with

- ``adapter_model.safetensors``: every LoRA pair replaced by rank-k factors in the source dtype, every
  other tensor (classifier head, modules_to_save, lora bias) copied byte for byte, keys unchanged;
- ``adapter_config.json``: the source config with r, lora_alpha, rank_pattern, alpha_pattern from
  :meth:`Plan.peft_config_update`;
- ``compression.json``: what was done (:class:`CompressionRecord`): source sha256, rule, plan, method,
  and each module's discarded energy.

Methods: ``truncate`` (the best rank-k approximation, from the factors) and ``random_subspace`` (a
control: ΔW' = scale·B·Q·Qᵀ·A with Q a random orthonormal (r, k) basis, one draw per truncated module
in file order from ``np.random.default_rng(seed)``). A module whose rank and scale don't change is copied as is
(its ΔW is unchanged, bit for bit). The folder appears all at once (written under a temporary name,
then renamed); an existing non-empty ``out`` is refused; the source is only read. DoRA adapters are
refused: with the magnitude vector m, W' = m·(W + ΔW)/‖W + ΔW‖ depends on the base weights, so the
best rank-k ΔW is not the best rank-k adapter and plain truncation would be the wrong answer.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rankbench.adapters import open_adapter
from rankbench.adapters.safetensors_file import SafetensorsFile
from rankbench.adapters.writer import SafetensorsWriter, check_out_dir, staged_dir
from rankbench.errors import RankbenchError
from rankbench.names import COMPRESS_METHODS
from rankbench.records import from_record
from rankbench.suggest.plans import Plan
from rankbench.suggest.rebuild import Job, Rebuilt, ordered_map, pread_exact, rebuild_or_refuse
from rankbench.suggest.spectra import check_single_adapter, file_stat
from rankbench.threads import audit_workers
from rankbench.version import __version__

SCHEMA_VERSION = 1
RECORD_NAME = "compression.json"


@dataclass(frozen=True)
class ModuleRecord:
    name: str
    kind: str
    source_rank: int
    rank: int
    source_alpha: float
    alpha: float
    source_scale: float
    scale: float
    total_energy: float  # ‖ΔW‖_F²
    discarded_energy: float  # ‖ΔW − ΔW'‖_F² (Σ dropped σ² for truncate)
    copied: bool  # rank and scale unchanged: the factors were copied byte for byte


@dataclass(frozen=True)
class CompressionRecord:
    source_path: str
    source_sha256: str
    out_dir: str
    method: str
    seed: int | None
    rule: str | None
    plan: dict
    modules: list[ModuleRecord]
    lora_params: int
    source_lora_params: int
    param_reduction: float
    discarded_energy: float
    total_energy: float
    discarded_energy_fraction: float
    other_tensors_copied: int
    other_params: int
    seconds: float
    format: str = "peft"  # the detected format, read and written (rankbench.adapters.families.FORMATS)
    source_bytes: int | None = None  # size of the source weights file
    out_bytes: int | None = None  # size of the written weights file
    out_format: str | None = None  # what was written: the format read, or kohya for converted LyCORIS
    schema_version: int = SCHEMA_VERSION
    kind: str = "compression"
    rankbench_version: str = __version__

    def to_dict(self) -> dict:
        return asdict(self)

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


def check_compressible(adapter, method: str = "truncate") -> None:
    """Refuse what compression cannot do right: DoRA, a pickled .bin, several adapters in one file."""
    if method not in COMPRESS_METHODS:
        raise RankbenchError(
            f"unknown compression method {method!r}", hint=f"choose one of: {', '.join(COMPRESS_METHODS)}"
        )
    if (
        adapter.use_dora
        or any(s.info_magnitude is not None for s in adapter.specs)
        or any(s.magnitude is not None for s in adapter.structured)
    ):
        raise RankbenchError(
            "is a DoRA adapter; compression by truncation is not supported for DoRA",
            path=adapter.path,
            hint="DoRA's magnitude vector rescales W + ΔW per column, so the best rank-k ΔW is not the best "
            "rank-k adapter; retrain at the smaller rank instead",
        )
    if adapter.weights_path.suffix != ".safetensors" and adapter.format == "peft":
        raise RankbenchError(
            "compression needs adapter_model.safetensors",
            path=adapter.weights_path,
            hint="load the adapter with PEFT and save it again with save_pretrained(safe_serialization=True)",
        )
    if adapter.weights_path.suffix != ".safetensors":
        raise RankbenchError(
            f"compression reads a {adapter.format} LoRA from a .safetensors file, not a pickle",
            path=adapter.weights_path,
            hint="where you trust the file: safetensors.torch.save_file(torch.load(f, weights_only=True), "
            "'lora.safetensors')",
        )
    check_single_adapter(adapter)


def check_plan(adapter, plan: Plan, method: str) -> None:
    """Refuse a plan that does not fit this adapter (other modules, a rank outside [1, r])."""
    check_compressible(adapter, method)
    names = {s.name: s for s in [*adapter.specs, *adapter.structured]}
    if set(plan.ranks) != set(names):
        extra, missing = sorted(set(plan.ranks) - set(names)), sorted(set(names) - set(plan.ranks))
        raise RankbenchError(
            f"plan {plan.name!r} does not match the adapter's modules "
            f"(not in the adapter: {', '.join(extra[:3]) or 'none'}; without a rank: {', '.join(missing[:3]) or 'none'})",
            path=adapter.path,
            hint="build the plan from this adapter's audit",
        )
    zero = [s.name for s in adapter.specs if s.scale == 0]
    if zero:
        raise RankbenchError(
            f"module {zero[0]} has scale 0 (lora_alpha 0): its ΔW is zero whatever its factors hold, so "
            "there is nothing to compress"
            + (f" (and {len(zero) - 1} more module(s))" if len(zero) > 1 else ""),
            path=adapter.path,
            hint="set lora_alpha (or alpha_pattern) in adapter_config.json to the value the adapter was trained with",
        )
    for name, k in plan.ranks.items():
        if not 1 <= k <= names[name].r:
            raise RankbenchError(
                f"plan {plan.name!r} gives module {name} rank {k}, outside [1, {names[name].r}] (its r)",
                path=adapter.path,
                hint="a plan can only shrink an adapter",
            )


def _entries(weights: SafetensorsFile, specs, plan: Plan):
    """(key, dtype, new shape) for the output file: each pair's A and B first, then the other tensors."""
    pair_keys, entries = set(), []
    for s in specs:
        k = plan.ranks[s.name]
        entries.append((s.info_A.key, s.info_A.dtype, (k, *s.info_A.shape[1:])))
        entries.append((s.info_B.key, s.info_B.dtype, (s.info_B.shape[0], k, *s.info_B.shape[2:])))
        pair_keys |= {s.info_A.key, s.info_B.key}
    others = [t for key, t in weights.tensors.items() if key not in pair_keys]
    entries += [(t.key, t.dtype, t.shape) for t in others]
    return entries, others


def compress_adapter(
    src_dir, plan: Plan, out_dir, *, method="truncate", seed=0, spectra=None, workers=None
) -> CompressionRecord:
    """Write the compressed adapter to ``out_dir`` (see the module docs) and return its record.

    ``spectra``: a :class:`~rankbench.suggest.spectra.Spectra` of the same file, to reuse its
    factorisations and its sha256 (when the weights file's size, mtime and inode are unchanged; otherwise
    the file is hashed and a mismatch discards the spectra and starts over). ``workers``: modules
    rebuilt in parallel (default :func:`rankbench.threads.audit_workers`: one per core when BLAS is
    pinned to one thread).
    """
    t0 = time.perf_counter()
    check_out_dir(out_dir)
    try:
        return _compress(src_dir, plan, out_dir, method, seed, spectra, workers, t0)
    except _StaleSpectra:
        return _compress(src_dir, plan, out_dir, method, seed, None, workers, t0)


class _StaleSpectra(Exception):
    """The spectra passed in belong to another file (different sha256)."""


def _jobs(specs, plan: Plan, method: str, seed, cores: dict) -> list[Job]:
    rng = np.random.default_rng(seed)
    jobs = []
    for s in specs:  # file order; the random draws happen here, in order, whatever the threads do
        k, new_scale = plan.ranks[s.name], plan.scale_of(s.name)
        draw = None
        if method == "random_subspace" and not (k == s.r and new_scale == s.scale):
            draw = rng.standard_normal((s.r, k))
        jobs.append(Job(s, k, new_scale, method, cores.get(s.name), draw))
    return jobs


def _compress(src_dir, plan: Plan, out_dir, method, seed, spectra, workers, t0) -> CompressionRecord:
    with open_adapter(src_dir) as adapter:
        check_plan(adapter, plan, method)
        workers = audit_workers() if workers is None else max(1, int(workers))
        if workers > 1 and spectra is None:
            adapter.prefetch_sha256()
        weights = SafetensorsFile(adapter.weights_path)  # the header: offsets for byte-exact copies
        entries, others = _entries(weights, adapter.specs, plan)
        jobs = _jobs(adapter.specs, plan, method, seed, spectra.cores if spectra is not None else {})
        fd = os.open(adapter.weights_path, os.O_RDONLY)
        try:
            with staged_dir(out_dir) as tmp:
                records = _write_weights(
                    tmp, fd, weights, entries, others, jobs, plan, workers, adapter.weights_path
                )
                sha = _source_sha256(spectra, adapter)  # stale spectra: start over without them
                record = make_record(
                    adapter, sha, plan, method, seed, out_dir, records, others, t0,
                    source_bytes=adapter.weights_path.stat().st_size,
                    out_bytes=(tmp / "adapter_model.safetensors").stat().st_size,
                )  # fmt: skip
                config = plan.peft_config_update(adapter.config)
                (tmp / "adapter_config.json").write_text(
                    json.dumps(config, indent=2) + "\n", encoding="utf-8"
                )
                (tmp / RECORD_NAME).write_text(
                    json.dumps(record.to_dict(), indent=2) + "\n", encoding="utf-8"
                )
        finally:
            os.close(fd)
    return record


def _source_sha256(spectra, adapter) -> str:
    """The weights file's sha256; raises _StaleSpectra when ``spectra`` were computed from another file."""
    if spectra is None:
        return adapter.sha256
    if spectra.file_stat == file_stat(adapter.weights_path):
        return spectra.sha256  # the file hashed by the spectrum pass, untouched since: no second hash
    if spectra.sha256 != adapter.sha256:
        raise _StaleSpectra
    return spectra.sha256


def _write_weights(tmp, fd, weights, entries, others, jobs, plan, workers, path) -> list[ModuleRecord]:
    def one(job: Job) -> Rebuilt:
        return rebuild_or_refuse(job, fd, path)

    records = []
    with SafetensorsWriter(tmp / "adapter_model.safetensors", entries, weights.metadata) as out:
        for job, new in zip(jobs, ordered_map(one, jobs, workers), strict=True):
            s = job.spec
            for info, data in ((s.info_A, new.A), (s.info_B, new.B)):
                out.write(info.key, pread_exact(fd, info.begin, info.end) if data is None else data)
            records.append(
                ModuleRecord(
                    s.name,
                    s.kind,
                    s.r,
                    job.k,
                    s.alpha,
                    float(plan.alphas[s.name]),
                    s.scale,
                    job.new_scale,
                    new.total_energy,
                    float(new.discarded_energy),
                    new.A is None,
                )
            )
        for t in others:
            out.write(t.key, pread_exact(fd, t.begin, t.end))
    return records


def make_record(
    adapter,
    sha,
    plan: Plan,
    method,
    seed,
    out_dir,
    records,
    others,
    t0,
    *,
    source_bytes=None,
    out_bytes=None,
    out_format=None,
) -> CompressionRecord:
    total = sum(r.total_energy for r in records)
    dropped = sum(r.discarded_energy for r in records)
    return CompressionRecord(
        source_path=str(adapter.path),
        source_sha256=sha,
        out_dir=str(Path(out_dir)),
        method=method,
        seed=int(seed) if method == "random_subspace" else None,
        rule=plan.rule,
        plan=plan.to_dict(),
        modules=records,
        lora_params=plan.lora_params,
        source_lora_params=plan.source_lora_params,
        param_reduction=plan.param_reduction,
        discarded_energy=dropped,
        total_energy=total,
        discarded_energy_fraction=dropped / total if total > 0 else 0.0,
        other_tensors_copied=len(others),
        other_params=int(sum(t.numel for t in others)),
        seconds=round(time.perf_counter() - t0, 3),
        format=adapter.format,
        source_bytes=source_bytes,
        out_bytes=out_bytes,
        out_format=out_format or adapter.format,
    )
