"""The spectral audit of a PEFT LoRA adapter, and the one place that defines audit.json's schema.

``audit(path)`` opens the adapter, computes the exact singular values of every ΔW = scale·B·A one
module at a time (:mod:`rankbench.spectral`), and returns an :class:`AuditResult`. Metrics are defined
in :mod:`rankbench.spectral.metrics`; ``to_dict()`` copies those definitions into the JSON.

audit.json (``schema_version`` 1)::

    {schema_version, kind: "audit", rankbench_version, method, flags: [str], definitions: {metric: formula},
     adapter: {path, source, weights_file, sha256, peft_type, base_model, target_modules, use_rslora,
               use_dora, fan_in_fan_out, adapter_names, other_tensors: [{key, shape, dtype, numel}],
               format: peft|kohya|diffusers|lycoris, network: {ss_network_* header metadata}},
     modules: [ModuleAudit.to_dict()], summary: AuditSummary.to_dict()}

Flags: "dora" (DoRA: ΔW is not just scale·B·A, the spectrum is of that part only), "untrained" (every
ΔW is zero: every B is zero, as PEFT's default init leaves it, or A for an embedding), "partly_untrained"
(some are), "gram_method" (σ from the Gram shortcut, tails
unreliable), "rank_mismatch" (config r ≠ tensor r; tensors used), "non_lora_tensors"
(modules_to_save or other tensors present, listed, not audited), "multiple_adapters"; single files
add "alpha_default" (a module without an alpha tensor: alpha = r), "unknown_keys" (keys of no known
family, listed as other tensors) and "dense_method" (a LyCORIS module audited densely). LyCORIS modules
have kind "loha"/"lokr", r = the number of singular values their structure allows, params = the stored
factors' size, and route khatri_rao | kronecker | dense.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields

import numpy as np

from rankbench.adapters import Adapter, OtherTensor, open_adapter
from rankbench.adapters.keys import natural_key
from rankbench.adapters.lycoris import StructuredSpec
from rankbench.adapters.safetensors_file import FLOAT_DTYPES
from rankbench.errors import RankbenchError
from rankbench.records import from_record
from rankbench.spectral import METHODS, METRIC_DEFINITIONS, NonFiniteError, factored_spectrum
from rankbench.spectral import metrics as m
from rankbench.spectral.summary import AuditSummary, summarize
from rankbench.threads import audit_workers
from rankbench.version import __version__

SCHEMA_VERSION = 1
NETWORK_KEYS = (
    "ss_network_module",
    "ss_network_dim",
    "ss_network_alpha",
    "ss_network_args",
    "ss_base_model_version",
)


def _shallow(obj) -> dict:
    """Fields of a dataclass as a dict, without dataclasses.asdict's deep copy (slow on 10⁴ floats)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


@dataclass(frozen=True)
class AdapterInfo:
    path: str  # the local folder that was read
    source: str  # what the user passed (a folder or a hub id)
    weights_file: str
    sha256: str  # of the weights file
    peft_type: str
    base_model: str | None
    target_modules: list[str] | str | None
    use_rslora: bool
    use_dora: bool
    fan_in_fan_out: bool
    adapter_names: list[str]
    other_tensors: list[OtherTensor] = field(default_factory=list)
    format: str = "peft"  # detected from the keys: peft | kohya | diffusers | lycoris
    network: dict = field(default_factory=dict)  # kohya header metadata: ss_network_dim/alpha/module

    def to_dict(self) -> dict:
        d = _shallow(self)
        d["target_modules"] = (
            list(d["target_modules"]) if isinstance(d["target_modules"], list) else d["target_modules"]
        )
        d["adapter_names"] = list(self.adapter_names)
        d["other_tensors"] = [t.to_dict() for t in self.other_tensors]
        d["network"] = dict(self.network)
        return d

    from_dict = classmethod(from_record)  # the one rule: rankbench.records

    @classmethod
    def of(cls, adapter: Adapter) -> AdapterInfo:
        return cls(
            path=str(adapter.path),
            source=adapter.source,
            weights_file=adapter.weights_path.name,
            sha256=adapter.sha256,
            peft_type=adapter.peft_type,
            base_model=adapter.base_model,
            target_modules=adapter.target_modules,
            use_rslora=adapter.use_rslora,
            use_dora=adapter.use_dora,
            fan_in_fan_out=adapter.fan_in_fan_out,
            adapter_names=list(adapter.adapter_names),
            other_tensors=list(adapter.others),
            format=adapter.format,
            network={k: v for k, v in adapter.metadata.items() if k in NETWORK_KEYS},
        )


def _spectrum_fields(s: np.ndarray, r: int) -> dict:
    """The metrics of one module's σ (rankbench.spectral.metrics), as ModuleAudit fields."""
    return {
        "singular_values": tuple(s.tolist()),
        "frobenius_norm": m.frobenius_norm(s),
        "spectral_norm": m.spectral_norm(s),
        "stable_rank": m.stable_rank(s),
        "effective_rank": m.effective_rank(s),
        "energy_rank": m.energy_ranks(s),
        "utilization": m.utilization(s, r),
    }


@dataclass(frozen=True)
class ModuleAudit:
    name: str  # path in the base model
    adapter_name: str
    kind: str  # "linear" | "conv1d" | "embedding" | "conv"
    r: int  # from the tensor shapes
    alpha: float
    scale: float
    shape: tuple[int, int]  # (out, in) of B·A; embedding: (embedding_dim, num_embeddings)
    dtype: str
    params: int  # r·(out + in)
    singular_values: tuple[float, ...]  # of scale·B·A, descending, exactly r (zeros kept)
    frobenius_norm: float
    spectral_norm: float
    stable_rank: float
    effective_rank: float
    energy_rank: dict[str, int]  # {"0.9": k, "0.95": k, "0.99": k}, energy = cumulative σ²
    utilization: float  # effective_rank / r
    route: str  # R factors: cholqr | cholqr2 | householder | zero | gram; LyCORIS: khatri_rao | kronecker | dense
    delta_is_zero: bool  # a factor is all zeros (PEFT's default init: B = 0; embeddings: A = 0)
    dora: bool  # a DoRA magnitude vector is present

    def to_dict(self) -> dict:
        d = _shallow(self)
        d["shape"] = list(self.shape)
        d["singular_values"] = list(self.singular_values)
        d["energy_rank"] = dict(self.energy_rank)
        return d

    from_dict = classmethod(from_record)  # the one rule: rankbench.records

    @classmethod
    def of_structured(cls, spec, delta) -> ModuleAudit:
        """A LyCORIS LoHa/LoKr module: r is the number of singular values its structure allows, alpha
        the one that gives its scale at that r, params the stored factors' size."""
        s = np.asarray(delta.singular_values)
        r = int(s.size)
        return cls(
            name=spec.name,
            adapter_name="default",
            kind=spec.family,
            r=r,
            alpha=spec.scale * r,
            scale=spec.scale,
            shape=tuple(spec.shape),
            dtype=FLOAT_DTYPES[spec.dtype][1],
            params=int(sum(info.numel for info in spec.infos.values())),
            **_spectrum_fields(s, r),
            route=delta.route,
            delta_is_zero=not s.any(),
            dora=spec.magnitude is not None,
        )

    @classmethod
    def of(cls, pair, s: np.ndarray, route: str, delta_is_zero: bool) -> ModuleAudit:
        out, n_in = pair.shape
        return cls(
            name=pair.name,
            adapter_name=pair.adapter_name,
            kind=pair.kind,
            r=pair.r,
            alpha=pair.alpha,
            scale=pair.scale,
            shape=(out, n_in),
            dtype=pair.dtype,
            params=pair.r * (out + n_in),
            **_spectrum_fields(s, pair.r),
            route=route,
            delta_is_zero=delta_is_zero,
            dora=pair.magnitude is not None,
        )


@dataclass(frozen=True)
class AuditResult:
    adapter: AdapterInfo
    method: str
    flags: list[str]
    modules: list[ModuleAudit]
    summary: AuditSummary
    schema_version: int = SCHEMA_VERSION
    kind: str = "audit"
    rankbench_version: str = __version__

    def to_dict(self) -> dict:
        return {
            "schema_version": self.schema_version,
            "kind": self.kind,
            "rankbench_version": self.rankbench_version,
            "method": self.method,
            "flags": list(self.flags),
            "definitions": dict(METRIC_DEFINITIONS),
            "adapter": self.adapter.to_dict(),
            "modules": [mod.to_dict() for mod in self.modules],
            "summary": self.summary.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> AuditResult:
        """More than the generic rule: the document's kind and schema version are checked first, and
        ``definitions`` (the fixed metric definitions, written for readers of the JSON) is not a field."""
        if d.get("kind") != "audit":
            raise ValueError(f"not an audit document (kind={d.get('kind')!r})")
        if d.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"audit schema_version {d.get('schema_version')!r}; this rankbench reads {SCHEMA_VERSION}"
            )
        return from_record(cls, {k: v for k, v in d.items() if k != "definitions"})


def _audit_pair(adapter: Adapter, pair, method: str) -> ModuleAudit:
    try:
        spec = factored_spectrum(pair.B, pair.A, pair.scale, method=method)
    except NonFiniteError as exc:
        raise RankbenchError(
            f"module {pair.name}: {pair.key_A if exc.factor == 'A' else pair.key_B} contains NaN or Inf",
            path=adapter.weights_path,
            hint="the training diverged or the file is damaged; audit an earlier checkpoint",
        ) from None
    routes = (spec.route_A, spec.route_B)
    zero = not (pair.B.any() and pair.A.any()) if method == "gram" else "zero" in routes
    return ModuleAudit.of(pair, spec.singular_values, spec.route, zero)


def audit_flags(
    modules: list[ModuleAudit],
    *,
    method: str,
    use_dora: bool,
    rank_mismatch: bool,
    non_lora: bool,
    n_adapters: int,
    format_flags: tuple[str, ...] = (),
) -> list[str]:
    """The flags of an audit (see the module docs), from its modules and what the adapter declares."""
    zero = sum(mod.delta_is_zero for mod in modules)
    checks = {
        "dora": use_dora or any(mod.dora for mod in modules),
        "untrained": zero == len(modules),
        "partly_untrained": 0 < zero < len(modules),
        "gram_method": method == "gram",
        "dense_method": any(mod.route == "dense" for mod in modules),
        "rank_mismatch": rank_mismatch,
        "non_lora_tensors": non_lora,
        "multiple_adapters": n_adapters > 1,
    }
    return [flag for flag, on in checks.items() if on] + list(format_flags)


def _flags(adapter: Adapter, modules: list[ModuleAudit], method: str) -> list[str]:
    return audit_flags(
        modules,
        method=method,
        use_dora=adapter.use_dora,
        rank_mismatch=bool(adapter.rank_mismatches),
        non_lora=bool(adapter.others),
        n_adapters=len(adapter.adapter_names),
        format_flags=tuple(adapter.format_flags),
    )


def _audit_all(adapter: Adapter, method: str, workers: int, progress=None) -> list[ModuleAudit]:
    def one(spec) -> ModuleAudit:
        if isinstance(spec, StructuredSpec):
            return ModuleAudit.of_structured(spec, adapter.read_structured(spec))
        return _audit_pair(adapter, adapter.read_pair(spec), method)

    specs = sorted([*adapter.specs, *adapter.structured], key=lambda s: natural_key(s.name))
    total = len(specs)
    pool = (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rankbench-audit") if workers > 1 else None
    )
    try:  # pool.map keeps the order; numpy, BLAS and file reads release the GIL
        results = pool.map(one, specs) if pool else map(one, specs)
        modules = []
        for done, module in enumerate(results, 1):
            modules.append(module)
            if progress is not None:
                progress("audit", done, total)
        return modules
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)


def audit(
    path,
    *,
    method: str = "exact",
    revision: str | None = None,
    top_wasteful: int = 5,
    workers: int | None = None,
    progress=None,
) -> AuditResult:
    """Exact spectral audit of a PEFT LoRA adapter folder (or hub id, when online).

    ``method``: "exact" (default) or "gram" (fast shortcut with unreliable tails; flagged in the
    result); "cholqr2"/"householder" force one exact route. ``workers``: modules audited in parallel
    (default: :func:`rankbench.threads.audit_workers`). ``progress(stage, done, total)`` is called after each module.
    Raises :class:`RankbenchError` for bad input. The adapter
    folder is only read, never written.
    """
    if method not in METHODS:
        raise RankbenchError(f"unknown method {method!r}", hint=f"use one of: {', '.join(METHODS)}")
    workers = audit_workers() if workers is None else workers
    with open_adapter(path, revision=revision) as adapter:
        if workers > 1:  # BLAS is single-threaded: hashing the file can overlap the math
            adapter.prefetch_sha256()
        modules = _audit_all(adapter, method, workers, progress)
        info = AdapterInfo.of(adapter)
        flags = _flags(adapter, modules, method)
    summary = summarize(modules, other_params=sum(t.numel for t in info.other_tensors), top=top_wasteful)
    return AuditResult(adapter=info, method=method, flags=flags, modules=modules, summary=summary)
