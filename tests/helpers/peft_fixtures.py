"""Tiny real PEFT adapters for tests, one per PEFT convention, plus a numpy-only adapter writer.

Each ``build_*`` function creates a tiny random model from a config (no downloads), wraps it with
``get_peft_model`` and saves the adapter with ``save_pretrained`` into ``folder``. It returns a
:class:`BuiltAdapter` holding the folder and PEFT's own ΔW per module (``get_delta_weight`` computed in
float64 from the saved values), keyed by the module path in the base model; that is the reference to
compare against. ``init_lora_weights=False`` gives random A and B (PEFT's default leaves B = 0).

    from helpers.peft_fixtures import build_bert_query_value
    built = build_bert_query_value(tmp_path / "bert")
    built.folder, built.deltas["bert.encoder.layer.0.attention.self.query"]

torch, transformers and peft are imported inside the builders, so importing this module is cheap; tests
that call a builder should ``pytest.importorskip("peft")`` first. :func:`write_adapter` and
:func:`write_safetensors` need numpy only (bf16 included) and build hand-made or broken adapters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PREFIX = "base_model.model."
_NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}


@dataclass
class BuiltAdapter:
    folder: Path
    deltas: dict[str, np.ndarray]  # module path -> PEFT's ΔW (float64), as get_delta_weight returns it
    scales: dict[str, float]  # module path -> PEFT's layer.scaling
    config: dict = field(default_factory=dict)  # the saved adapter_config.json


# --- numpy-only writing ----------------------------------------------------------------------------


def encode(x: np.ndarray, dtype: str) -> bytes:
    """Little-endian bytes of ``x`` as safetensors ``dtype`` (F64, F32, F16, or BF16 by truncation)."""
    x = np.ascontiguousarray(x)
    if dtype in _NUMPY:
        return x.astype(_NUMPY[dtype]).tobytes()
    if dtype == "BF16":
        return (x.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], dtype: str = "F32", metadata=None) -> Path:
    """Write ``tensors`` (all as ``dtype``) in safetensors format, keys sorted as the library does."""
    header, blobs, offset = {}, [], 0
    for key in sorted(tensors):
        raw = encode(tensors[key], dtype)
        header[key] = {
            "dtype": dtype,
            "shape": list(np.shape(tensors[key])),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path = Path(path)
    path.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))
    return path


def lora_config(r: int = 4, alpha: float = 8, **extra) -> dict:
    return {"peft_type": "LORA", "r": r, "lora_alpha": alpha, "target_modules": ["q_proj", "v_proj"], **extra}


def write_adapter(folder: Path, pairs: dict[str, tuple[np.ndarray, np.ndarray]], *, config: dict | None = None,
                  dtype: str = "F32", extra: dict[str, np.ndarray] | None = None) -> Path:  # fmt: skip
    """A PEFT-style adapter folder from ``{module path: (A (r, in), B (out, r))}`` (no torch needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = dict(extra or {})
    for name, (A, B) in pairs.items():
        tensors[f"{PREFIX}{name}.lora_A.weight"] = A
        tensors[f"{PREFIX}{name}.lora_B.weight"] = B
    write_safetensors(folder / "adapter_model.safetensors", tensors, dtype)
    (folder / "adapter_config.json").write_text(json.dumps(config if config is not None else lora_config()))
    return folder


def random_pairs(rng: np.random.Generator, n: int = 2, out: int = 24, n_in: int = 16, r: int = 4) -> dict:
    """``n`` random (A, B) pairs named like Llama attention projections."""
    return {
        f"model.layers.{i}.self_attn.q_proj": (rng.standard_normal((r, n_in)), rng.standard_normal((out, r)))
        for i in range(n)
    }


def planted_factors(rng: np.random.Generator, out: int, n_in: int, r: int, k: int, noise: float):
    """(B, A) with B·A = rank k plus a noise floor: σ_{k+1..r} ≈ noise·σ₁.

    The floor is a dense random perturbation of B (not a few tiny columns), so it is not aligned with
    the coordinates: only a method that never squares B can see it.
    """
    B = rng.standard_normal((out, k)) @ rng.standard_normal((k, r)) + noise * rng.standard_normal((out, r))
    A = rng.standard_normal((r, n_in))
    return B, A


# --- real PEFT adapters ----------------------------------------------------------------------------


def _save(model, lora_kwargs: dict, folder: Path, dtype=None, seed: int = 0) -> BuiltAdapter:
    import torch
    from peft import LoraConfig, get_peft_model
    from peft.tuners.lora import LoraLayer

    torch.manual_seed(seed)
    peft_model = get_peft_model(model, LoraConfig(**lora_kwargs))
    if dtype is not None:
        peft_model = peft_model.to(dtype)
    folder = Path(folder)
    peft_model.save_pretrained(str(folder))
    peft_model = peft_model.to(torch.float64)  # exact: every saved value is representable in float64
    deltas, scales = {}, {}
    with torch.no_grad():
        for name, module in peft_model.named_modules():
            if isinstance(module, LoraLayer) and "default" in module.scaling:
                path = name[len(PREFIX) :] if name.startswith(PREFIX) else name
                deltas[path] = module.get_delta_weight("default").numpy().copy()
                scales[path] = float(module.scaling["default"])
    config = json.loads((folder / "adapter_config.json").read_text())
    return BuiltAdapter(folder, deltas, scales, config)


def tiny_bert(seed: int = 0, classifier: bool = False):
    import torch
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=40, vocab_size=64, max_position_embeddings=32)  # fmt: skip
    return transformers.BertForSequenceClassification(cfg) if classifier else transformers.BertModel(cfg)


def tiny_gpt2(seed: int = 0):
    import torch
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=64, n_positions=32,
                                  bos_token_id=0, eos_token_id=0)  # fmt: skip
    return transformers.GPT2LMHeadModel(cfg)


def tiny_llama(seed: int = 0):
    import torch
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
                                   num_key_value_heads=1, vocab_size=64, max_position_embeddings=32)  # fmt: skip
    return transformers.LlamaForCausalLM(cfg)


def build_bert_query_value(folder: Path, dtype=None, r: int = 4) -> BuiltAdapter:
    """BERT encoder, LoRA on query/value, random factors; ``dtype`` (e.g. torch.bfloat16) casts before saving."""
    kwargs = dict(r=r, lora_alpha=8, target_modules=["query", "value"], init_lora_weights=False)
    return _save(tiny_bert(), kwargs, folder, dtype=dtype)


def build_gpt2_conv1d_patterns(folder: Path) -> BuiltAdapter:
    """GPT-2 Conv1D (fan_in_fan_out) with rank_pattern and alpha_pattern overrides."""
    kwargs = dict(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj"], fan_in_fan_out=True,
                  init_lora_weights=False, rank_pattern={"h.0.attn.c_attn": 2, "mlp.c_proj": 6},
                  alpha_pattern={"c_proj": 3, r"h\.1\.attn\.c_attn": 5})  # fmt: skip
    return _save(tiny_gpt2(), kwargs, folder)


def build_llama_rslora(folder: Path) -> BuiltAdapter:
    """Llama, LoRA on all linear layers, rsLoRA scale alpha/sqrt(r)."""
    kwargs = dict(r=8, lora_alpha=16, target_modules="all-linear", use_rslora=True, init_lora_weights=False)
    return _save(tiny_llama(), kwargs, folder)


def build_bert_embedding(folder: Path) -> BuiltAdapter:
    """LoRA on the word embeddings (lora_embedding_A/B) and on query, plus a modules_to_save head."""
    kwargs = dict(r=4, lora_alpha=8, target_modules=["word_embeddings", "query"], init_lora_weights=False,
                  modules_to_save=["classifier"])  # fmt: skip
    return _save(tiny_bert(classifier=True), kwargs, folder)


def build_bert_dora(folder: Path) -> BuiltAdapter:
    """DoRA on query/value: lora_magnitude_vector saved next to A and B."""
    kwargs = dict(
        r=4, lora_alpha=8, target_modules=["query", "value"], use_dora=True, init_lora_weights=False
    )
    return _save(tiny_bert(), kwargs, folder)


def build_bert_default_init(folder: Path) -> BuiltAdapter:
    """PEFT's default initialisation: B = 0, so ΔW = 0 (an untrained adapter)."""
    return _save(tiny_bert(), dict(r=4, lora_alpha=8, target_modules=["query", "value"]), folder)


def build_bert_embedding_default_init(folder: Path) -> BuiltAdapter:
    """Default init on an embedding: PEFT zeroes lora_embedding_A (not B) there, so ΔW = 0 too."""
    kwargs = dict(r=4, lora_alpha=8, target_modules=["word_embeddings", "query"])
    return _save(tiny_bert(), kwargs, folder)


def build_conv2d(folder: Path) -> BuiltAdapter:
    """A small CNN with LoRA on an nn.Conv2d: A (r, in, kh, kw), B (out, r, 1, 1)."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential()
    model.add_module("conv", torch.nn.Conv2d(3, 8, kernel_size=3))
    model.add_module("head", torch.nn.Linear(8, 4))
    return _save(model, dict(r=2, lora_alpha=4, target_modules=["conv"], init_lora_weights=False), folder)


def build_two_adapters_one_file(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """Two adapters ("default", "second") in ONE safetensors file, written from PEFT's raw state_dict
    (keys keep the adapter name, as save_pretrained would not). Returns {adapter: {module: ΔW}}."""
    import torch
    from peft import LoraConfig, get_peft_model
    from peft.tuners.lora import LoraLayer
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = get_peft_model(
        tiny_bert(), LoraConfig(r=4, lora_alpha=8, target_modules=["query"], init_lora_weights=False)
    )
    model.add_adapter(
        "second", LoraConfig(r=4, lora_alpha=8, target_modules=["query"], init_lora_weights=False)
    )
    folder = Path(folder)
    model.save_pretrained(str(folder))  # writes the config (and the default adapter, replaced below)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if "lora_" in k}
    save_file(state, str(folder / "adapter_model.safetensors"))
    model = model.to(torch.float64)
    deltas: dict[str, dict[str, np.ndarray]] = {"default": {}, "second": {}}
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, LoraLayer):
                for adapter in deltas:
                    deltas[adapter][name[len(PREFIX) :]] = module.get_delta_weight(adapter).numpy().copy()
    return deltas


BUILDERS = {
    "bert_query_value": build_bert_query_value,
    "gpt2_conv1d_patterns": build_gpt2_conv1d_patterns,
    "llama_rslora": build_llama_rslora,
    "bert_embedding": build_bert_embedding,
    "bert_dora": build_bert_dora,
    "bert_default_init": build_bert_default_init,
    "bert_embedding_default_init": build_bert_embedding_default_init,
    "conv2d": build_conv2d,
}


def dense_singular_values(delta: np.ndarray, r: int) -> np.ndarray:
    """numpy's dense σ of ΔW, the first r (padded with zeros when ΔW is smaller)."""
    delta = np.asarray(delta, dtype=np.float64)
    s = np.linalg.svd(delta.reshape(delta.shape[0], -1), compute_uv=False)  # conv: (out, in·kh·kw)
    out = np.zeros(r)
    out[: min(r, s.size)] = s[:r]
    return out
