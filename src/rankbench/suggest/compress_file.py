"""Compress a single-file LoRA (kohya / diffusers) into the same format: the I/O edge for those files.

The output is one ``.safetensors`` file with the source's keys, in the source's dtypes:

- each LoRA pair's down/up (A/B) at the plan's rank, the best rank-k approximation of ΔW
  (:mod:`rankbench.spectral.truncate`, via :func:`rankbench.suggest.rebuild.rebuild`);
- each ``.alpha`` tensor rewritten with the plan's alpha. The new scale is taken from the alpha *as
  stored* (a bf16/fp16 alpha is rounded), so alpha'/k · up'·down' is the rank-k truncation of the
  source's alpha/r · up·down whatever the rounding: every module keeps its effective scale;
- a module without an alpha tensor (alpha = r by convention) gets one when its new alpha is not k;
- a LyCORIS LoHa/LoKr module becomes a plain kohya LoRA module (``lora_down``/``lora_up``/``alpha`` under
  the same stem), its best rank-k approximation built from its structure (:mod:`rankbench.adapters.lycoris`);
  a conv LoHa without Tucker factors stores no kernel size, so its down is written flat (k, in·kh·kw);
- every other tensor copied byte for byte; the header metadata from
  :func:`rankbench.adapters.file_metadata.resized_metadata`.

The file is written under a temporary name next to the target and renamed into place; an existing
target is refused; the source is only read. The record (the PEFT path's :class:`CompressionRecord`)
carries the detected format and the bytes before and after.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from rankbench.adapters import open_adapter
from rankbench.adapters.file_metadata import resized_metadata
from rankbench.adapters.lycoris import StructuredSpec
from rankbench.adapters.safetensors_file import decode_float
from rankbench.adapters.writer import SafetensorsWriter, encode_float
from rankbench.errors import RankbenchError
from rankbench.io import give_normal_modes
from rankbench.spectral.truncate import discarded_energy
from rankbench.suggest.compress import CompressionRecord, ModuleRecord, check_plan, make_record
from rankbench.suggest.plans import Plan
from rankbench.suggest.rebuild import Job, Rebuilt, ordered_map, pread_exact, rebuild_or_refuse
from rankbench.threads import audit_workers


def check_out_file(out) -> Path:
    out = Path(out)
    if out.suffix != ".safetensors":
        raise RankbenchError(
            "the output of a single-file adapter is one .safetensors file",
            path=out,
            hint="pass --out NAME.safetensors",
        )
    if out.exists():
        raise RankbenchError(
            "output file exists", path=out, hint="choose a new --out file (rankbench never overwrites)"
        )
    return out


def stored_alpha(alpha: float, dtype: str) -> float:
    """alpha as it reads back from a tensor of safetensors ``dtype`` (bf16/fp16 round it)."""
    return float(decode_float(encode_float(np.array([alpha]), dtype), dtype, (1,))[0])


def _alpha_dtype(adapter, spec) -> str:
    info = adapter.alpha_tensors.get(spec.name)
    if info is not None:
        return info.dtype
    return spec.dtype if isinstance(spec, StructuredSpec) else spec.info_A.dtype


def _alpha_entry(adapter, spec, k: int, alpha: float, *, always: bool):
    """(key, dtype, shape) of a module's alpha tensor in the output, or None when it needs none."""
    info = adapter.alpha_tensors.get(spec.name)
    if info is None and not always and alpha == k:
        return None  # no alpha means alpha = r, which is what it is
    key = info.key if info is not None else f"{spec.name}.alpha"
    return key, _alpha_dtype(adapter, spec), info.shape if info is not None else ()


def _lora_entries(spec: StructuredSpec, k: int) -> list[tuple[str, str, tuple]]:
    """A LyCORIS module written as a kohya LoRA: down (k, in[, kh, kw]), up (out, k[, 1, 1])."""
    out, n_in = spec.shape
    down = (k, *spec.kernel) if spec.kernel else (k, n_in)
    up = (out, k, 1, 1) if spec.kernel else (out, k)
    return [
        (f"{spec.name}.lora_down.weight", spec.dtype, down),
        (f"{spec.name}.lora_up.weight", spec.dtype, up),
    ]


def stored_alphas(adapter, plan: Plan) -> dict[str, float]:
    """Each module's new alpha as the output file will hold it (rounded to its alpha tensor's dtype)."""
    modules = [*adapter.specs, *adapter.structured]
    return {s.name: stored_alpha(plan.alphas[s.name], _alpha_dtype(adapter, s)) for s in modules}


def _layout(adapter, plan: Plan, alphas: dict[str, float]) -> list[tuple[str, str, tuple]]:
    """Output entries: the file's tensors in order (pairs and alphas at their new shape, LyCORIS
    tensors dropped), then the LoRA entries of converted LyCORIS modules and any new alpha tensors."""
    new, dropped = {}, set()
    for s in adapter.specs:
        k = plan.ranks[s.name]
        new[s.info_A.key] = (s.info_A.dtype, (k, *s.info_A.shape[1:]))
        new[s.info_B.key] = (s.info_B.dtype, (s.info_B.shape[0], k, *s.info_B.shape[2:]))
    added = []
    for s in adapter.structured:
        dropped |= {info.key for info in s.infos.values()}
        added += _lora_entries(s, plan.ranks[s.name])
    for s in [*adapter.specs, *adapter.structured]:
        k = plan.ranks[s.name]
        entry = _alpha_entry(adapter, s, k, alphas[s.name], always=isinstance(s, StructuredSpec))
        if entry is not None:
            new[entry[0]] = entry[1:]
    entries = []
    for key, info in adapter.tensors_in_file().items():
        if key not in dropped:
            entries.append((key, *new.pop(key, (info.dtype, info.shape))))
    return entries + added + [(key, dtype, shape) for key, (dtype, shape) in new.items()]


def _jobs(adapter, plan: Plan, alphas: dict[str, float]) -> list:
    jobs = []
    for s in [*adapter.specs, *adapter.structured]:
        k = plan.ranks[s.name]
        new_scale = alphas[s.name] / k
        jobs.append(s if isinstance(s, StructuredSpec) else Job(s, k, new_scale, "truncate", None, None))
    return jobs


def compress_file(src, plan: Plan, out, *, workers=None) -> CompressionRecord:
    """Write the compressed single-file adapter ``out`` (see the module docs) and return its record."""
    t0 = time.perf_counter()
    out = check_out_file(out)
    workers = audit_workers() if workers is None else max(1, int(workers))
    with open_adapter(src) as adapter:
        check_plan(adapter, plan, "truncate")
        alphas = stored_alphas(adapter, plan)
        jobs = _jobs(adapter, plan, alphas)
        entries = _layout(adapter, plan, alphas)
        note = {"plan": plan.name, "rule": plan.rule, "alpha_policy": plan.alpha_policy, "tool": "rankbench"}
        metadata = resized_metadata(
            adapter.metadata, ranks=plan.ranks, alphas=alphas, source_ranks=plan.source_ranks, note=note
        )
        fd = os.open(adapter.weights_path, os.O_RDONLY)
        try:
            records = _write(adapter, fd, out, entries, metadata, jobs, plan, alphas, workers)
        finally:
            os.close(fd)
        return make_record(
            adapter, adapter.sha256, plan, "truncate", 0, out, records, adapter.others, t0,
            source_bytes=adapter.weights_path.stat().st_size, out_bytes=out.stat().st_size,
            out_format="kohya" if adapter.structured else adapter.format,
        )  # fmt: skip


def _convert(adapter, spec: StructuredSpec, k: int, new_scale: float) -> tuple[bytes, bytes, float, float]:
    """A LyCORIS module's best rank-k approximation as kohya (down, up) bytes, with its energies."""
    delta = adapter.read_structured(spec)
    U, s, Vt = delta.top(k)  # (out, k), (k,), (k, in)
    w = np.sqrt(s / new_scale)  # new_scale·up·down = U·diag(s)·Vt
    up, down = U * w, w[:, None] * Vt  # (out, k), (k, in)
    total = float(np.sum(delta.singular_values**2))
    return (
        encode_float(down, spec.dtype),
        encode_float(up, spec.dtype),
        total,
        discarded_energy(delta.singular_values, k),
    )


def _rebuild_one(adapter, fd, plan, alphas):
    def one(job) -> Rebuilt:
        if isinstance(job, StructuredSpec):
            k = plan.ranks[job.name]
            new_scale = alphas[job.name] / k
            down, up, total, dropped = _convert(adapter, job, k, new_scale)
            return Rebuilt(down, up, total, dropped)
        return rebuild_or_refuse(job, fd, adapter.weights_path)

    return one


def _module_record(job, new: Rebuilt, plan, alphas) -> tuple[ModuleRecord, dict]:
    """The record of one module and the bytes it contributes, by output key."""
    if isinstance(job, StructuredSpec):
        k, r = plan.ranks[job.name], job.r
        alpha = alphas[job.name]
        record = ModuleRecord(job.name, job.family, r, k, job.scale * r, alpha, job.scale, alpha / k,
                              new.total_energy, new.discarded_energy, False)  # fmt: skip
        return record, {f"{job.name}.lora_down.weight": new.A, f"{job.name}.lora_up.weight": new.B}
    s = job.spec
    alpha = alphas[s.name]
    record = ModuleRecord(s.name, s.kind, s.r, job.k, s.alpha, alpha, s.scale, job.new_scale,
                          new.total_energy, float(new.discarded_energy), new.A is None)  # fmt: skip
    return record, {s.info_A.key: new.A, s.info_B.key: new.B}


def _write(adapter, fd, out: Path, entries, metadata, jobs, plan, alphas, workers) -> list[ModuleRecord]:
    built, records = {}, []
    dtypes = {key: dtype for key, dtype, _ in entries}
    for job, new in zip(
        jobs, ordered_map(_rebuild_one(adapter, fd, plan, alphas), jobs, workers), strict=True
    ):
        record, data = _module_record(job, new, plan, alphas)
        records.append(record)
        built.update(data)
        info = adapter.alpha_tensors.get(record.name)
        key = info.key if info is not None else f"{record.name}.alpha"
        if key in dtypes:
            built[key] = encode_float(np.array(record.alpha), dtypes[key])
    tensors = adapter.tensors_in_file()
    fh, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fh)
    try:
        with SafetensorsWriter(tmp, entries, metadata) as writer:
            for key, _, _ in entries:
                data = built.get(key)
                if data is None:
                    data = pread_exact(fd, tensors[key].begin, tensors[key].end)
                writer.write(key, data)
        give_normal_modes(tmp)  # mkstemp made it 0600
        os.rename(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return records
