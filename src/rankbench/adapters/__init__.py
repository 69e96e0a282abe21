"""Reading PEFT LoRA adapters: folder and config validation, module naming, PEFT's scaling rules.

``open_adapter(path)`` validates an adapter (folder, config, weights header) and returns an
:class:`Adapter`; ``Adapter.iter_pairs()`` yields one :class:`LoraPair` (float64 A and B) per module.
The rules (r/alpha per module, scale) are pure functions in :mod:`rankbench.adapters.config`.
"""

from rankbench.adapters.adapter import Adapter
from rankbench.adapters.config import lora_scale, resolve_r_alpha
from rankbench.adapters.pairs import LoraPair, OtherTensor, PairSpec
from rankbench.adapters.reader import open_adapter
from rankbench.io import sha256_file

__all__ = [
    "Adapter",
    "LoraPair",
    "OtherTensor",
    "PairSpec",
    "lora_scale",
    "open_adapter",
    "resolve_r_alpha",
    "sha256_file",
]
