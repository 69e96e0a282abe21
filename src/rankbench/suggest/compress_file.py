"""Compress a single-file LoRA (kohya / diffusers) into the same format: the I/O edge for those files.

The output is one ``.safetensors`` file with the source's keys, in the source's dtypes:

- each LoRA pair's down/up (A/B) at the plan's rank, the best rank-k approximation of ΔW
  (:mod:`rankbench.spectral.truncate`, via :func:`rankbench.suggest.rebuild.rebuild`);
- each ``.alpha`` tensor rewritten with the plan's alpha. The new scale is taken from the alpha *as
  stored* (a bf16/fp16 alpha is rounded), so alpha'/k · up'·down' is the rank-k truncation of the
  source's alpha/r · up·down whatever the rounding: every module keeps its effective scale;
- a module without an alpha tensor (alpha = r by convention) gets one when its new alpha is not k;
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
from rankbench.adapters.safetensors_file import decode_float
from rankbench.adapters.writer import SafetensorsWriter, encode_float
from rankbench.auditor import default_workers
from rankbench.errors import RankbenchError
from rankbench.spectral import NonFiniteError
from rankbench.suggest.compress import CompressionRecord, ModuleRecord, check_plan, make_record
from rankbench.suggest.plans import Plan
from rankbench.suggest.rebuild import Job, Rebuilt, ordered_map, pread_exact, rebuild


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
    return info.dtype if info is not None else spec.info_A.dtype


def _layout(adapter, plan: Plan):
    """Output entries in source key order, the new alpha per module, and the tensors to copy as is."""
    pairs = {}
    for s in adapter.specs:
        k, alpha = plan.ranks[s.name], stored_alpha(plan.alphas[s.name], _alpha_dtype(adapter, s))
        pairs[s.info_A.key] = (s.info_A.dtype, (k, *s.info_A.shape[1:]))
        pairs[s.info_B.key] = (s.info_B.dtype, (s.info_B.shape[0], k, *s.info_B.shape[2:]))
        if s.name in adapter.alpha_tensors or alpha != k:
            info = adapter.alpha_tensors.get(s.name)
            key = info.key if info is not None else f"{s.name}.alpha"
            pairs[key] = (_alpha_dtype(adapter, s), info.shape if info is not None else ())
    entries = []
    for key, info in adapter.tensors_in_file().items():
        dtype, shape = pairs.pop(key, (info.dtype, info.shape))
        entries.append((key, dtype, shape))
    entries += [(key, dtype, shape) for key, (dtype, shape) in pairs.items()]  # added alpha tensors
    return entries


def _jobs(adapter, plan: Plan) -> list[Job]:
    jobs = []
    for s in adapter.specs:
        k = plan.ranks[s.name]
        new_scale = stored_alpha(plan.alphas[s.name], _alpha_dtype(adapter, s)) / k
        jobs.append(Job(s, k, new_scale, "truncate", None, None))
    return jobs


def compress_file(src, plan: Plan, out, *, workers=None) -> CompressionRecord:
    """Write the compressed single-file adapter ``out`` (see the module docs) and return its record."""
    t0 = time.perf_counter()
    out = check_out_file(out)
    workers = default_workers() if workers is None else max(1, int(workers))
    with open_adapter(src) as adapter:
        check_plan(adapter, plan, "truncate")
        jobs = _jobs(adapter, plan)
        entries = _layout(adapter, plan)
        note = {"plan": plan.name, "rule": plan.rule, "alpha_policy": plan.alpha_policy, "tool": "rankbench"}
        metadata = resized_metadata(
            adapter.metadata, ranks=plan.ranks, alphas=plan.alphas, source_ranks=plan.source_ranks, note=note
        )
        fd = os.open(adapter.weights_path, os.O_RDONLY)
        try:
            records = _write(adapter, fd, out, entries, metadata, jobs, plan, workers)
        finally:
            os.close(fd)
        return make_record(
            adapter, adapter.sha256, plan, "truncate", 0, out, records, adapter.others, t0,
            source_bytes=adapter.weights_path.stat().st_size, out_bytes=out.stat().st_size,
        )  # fmt: skip


def _rebuild_one(adapter, fd):
    def one(job: Job) -> Rebuilt:
        try:
            return rebuild(job, fd)
        except NonFiniteError as exc:
            key = job.spec.info_A.key if exc.factor == "A" else job.spec.info_B.key
            raise RankbenchError(
                f"module {job.spec.name}: {key} contains NaN or Inf",
                path=adapter.weights_path,
                hint="the training diverged or the file is damaged; use an earlier checkpoint",
            ) from None

    return one


def _write(adapter, fd, out: Path, entries, metadata, jobs, plan, workers) -> list[ModuleRecord]:
    built, records = {}, []
    dtypes = {key: dtype for key, dtype, _ in entries}
    for job, new in zip(jobs, ordered_map(_rebuild_one(adapter, fd), jobs, workers), strict=True):
        s = job.spec
        built[s.info_A.key], built[s.info_B.key] = new.A, new.B
        alpha = job.new_scale * job.k
        records.append(
            ModuleRecord(s.name, s.kind, s.r, job.k, s.alpha, alpha, s.scale, job.new_scale,
                         new.total_energy, float(new.discarded_energy), new.A is None)
        )  # fmt: skip
        info = adapter.alpha_tensors.get(s.name)
        key = info.key if info is not None else f"{s.name}.alpha"
        if key in dtypes:
            built[key] = encode_float(np.array(alpha), dtypes[key])
    tensors = adapter.tensors_in_file()
    fh, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fh)
    try:
        with SafetensorsWriter(tmp, entries, metadata) as writer:
            for key, _, _ in entries:
                data = built.get(key)
                writer.write(
                    key, data if data is not None else pread_exact(fd, tensors[key].begin, tensors[key].end)
                )
        os.rename(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return records
