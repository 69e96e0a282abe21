"""The pieces every single-file reader shares (kohya / diffusers in :mod:`.single_file`, LyCORIS in
:mod:`.lycoris`): a module's ``.alpha`` tensor and the hint for a damaged file.

Both readers import it, so the LyCORIS reader needs nothing from the kohya one (which hands it the
LoHa/LoKr modules it finds).
"""

from __future__ import annotations

import math

from rankbench.adapters.safetensors_file import FLOAT_DTYPES, TensorInfo
from rankbench.errors import RankbenchError

REEXPORT_HINT = "the file is incomplete or was edited; re-export it from the trainer"


def read_alpha(weights, info: TensorInfo, stem: str) -> float:
    """A module's ``.alpha`` tensor as a number; NaN, inf, ≤ 0 or a non-scalar is an error."""
    if info.numel != 1 or info.dtype not in FLOAT_DTYPES:
        raise RankbenchError(
            f"module {stem}: alpha {info.key!r} must be one float, got {info.dtype} {list(info.shape)}",
            path=weights.path,
            hint=REEXPORT_HINT,
        )
    value = float(weights.read(info.key).ravel()[0])
    if not math.isfinite(value) or value <= 0:
        raise RankbenchError(
            f"module {stem}: alpha is {value} (must be a finite number > 0)",
            path=weights.path,
            hint=f"set {info.key} to the network alpha the LoRA was trained with (often its rank)",
        )
    return value
