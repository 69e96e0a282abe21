"""One base model in memory, many adapters: swap a variant's LoRA weights in without reloading the base.

An lm-eval bench evaluates the probe and every variant on the same base. Loading the base once and
changing only the adapter keeps start-up, imports and model loading out of the per-variant cost.

- Same layout (the adapter config agrees on everything that shapes or scales ΔW, and the tensors have
  the same names and shapes): the variant's tensors are copied into the existing LoRA modules.
- Otherwise (another rank, alpha, rank_pattern, target list): the variant is loaded as a new named
  adapter, made active, and the old one is deleted. The base weights are never touched.

Either way the model then computes exactly what ``PeftModel.from_pretrained(base, folder)`` computes
(tested on logits).
"""

from __future__ import annotations

from pathlib import Path

from rankbench.errors import RankbenchError

WEIGHTS = "adapter_model.safetensors"
# adapter_config.json keys that change neither the tensors' shapes nor ΔW's scale at evaluation time
IGNORED_CONFIG_KEYS = {
    "base_model_name_or_path",
    "revision",
    "inference_mode",
    "lora_dropout",
    "peft_version",
    "auto_mapping",
}


def _layout_config(folder: Path) -> dict:
    from peft import PeftConfig

    d = PeftConfig.from_pretrained(str(folder)).to_dict()
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in d.items() if k not in IGNORED_CONFIG_KEYS}


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise RankbenchError(
            f"no {WEIGHTS} in this adapter folder",
            path=folder,
            hint="save the adapter with save_pretrained() (safetensors is the default)",
        )
    return load_file(str(path))


class AdapterHost:
    """A PEFT model around a base loaded once; :meth:`load` makes a saved adapter the active one."""

    def __init__(self, base_model, first_adapter: Path):
        from peft import PeftModel

        self._count = 0
        self.adapter_name = self._next_name()
        self.model = PeftModel.from_pretrained(
            base_model, str(first_adapter), adapter_name=self.adapter_name, is_trainable=False
        ).eval()
        self._layout = _layout_config(first_adapter)
        self._shapes = self._current_shapes()
        self.folder = Path(first_adapter)
        self.last_swap = "loaded"

    def _next_name(self) -> str:
        self._count += 1
        return f"rankbench_{self._count}"

    def _current_shapes(self) -> dict[str, tuple[int, ...]]:
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(self.model, adapter_name=self.adapter_name)
        return {k: tuple(v.shape) for k, v in state.items()}

    def load(self, folder: Path) -> str:
        """Make the adapter saved in ``folder`` the active one; returns "in place" or "new adapter"."""
        folder = Path(folder)
        if folder == self.folder:
            return "unchanged"
        weights = _weights(folder)
        shapes = {k: tuple(v.shape) for k, v in weights.items()}
        if _layout_config(folder) == self._layout and shapes == self._shapes:
            self._copy_in_place(weights, folder)
            self.last_swap = "in place"
        else:
            self._replace(folder)
            self.last_swap = "new adapter"
        self.folder = folder
        return self.last_swap

    def _copy_in_place(self, weights: dict, folder: Path) -> None:
        import torch
        from peft import set_peft_model_state_dict

        with torch.no_grad():
            result = set_peft_model_state_dict(self.model, weights, adapter_name=self.adapter_name)
        if getattr(result, "unexpected_keys", None):
            raise RankbenchError(
                f"{len(result.unexpected_keys)} tensors of this adapter match no LoRA module of the "
                f"loaded one (first: {result.unexpected_keys[0]})",
                path=folder,
                hint="evaluate adapters of the same base model and target modules",
            )

    def _replace(self, folder: Path) -> None:
        old, name = self.adapter_name, self._next_name()
        self.model.load_adapter(str(folder), adapter_name=name, is_trainable=False)
        self.model.set_adapter(name)
        self.model.delete_adapter(old)
        self.model.eval()
        self.adapter_name = name
        self._layout = _layout_config(folder)
        self._shapes = self._current_shapes()
