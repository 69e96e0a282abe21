"""LyCORIS LoHa and LoKr modules: validate their tensors, read them, and give their exact spectrum.

Conventions (LyCORIS, and the loaders that apply these files, e.g. ComfyUI)::

    LoHa  ΔW = scale · (w1a·w1b) ⊙ (w2a·w2b)            w1a (out, r), w1b (r, in·kh·kw); scale = alpha / r
          with hada_t1/hada_t2 (Tucker, conv): W1 = einsum("ijkl,jr,ip->prkl", t1, w1b, w1a), w1a (r, out)
    LoKr  ΔW = scale · kron(W1, W2)                      W1 = lokr_w1 or w1_a·w1_b, W2 = lokr_w2 or w2_a·w2_b
          with lokr_t2: W2 = einsum("ijkl,ip,jr->prkl", t2, w2_a, w2_b); W2 may be 4-D (c, d, kh, kw)
          scale = alpha / dim, dim = the rank of the decomposed factor (w2_b's when both are);
          no decomposed factor, or no alpha: scale = 1

How the spectrum is computed (``route``, in every output):

- ``khatri_rao`` (LoHa without Tucker, r₁r₂ < min(out, in)): the exact factored form of
  :func:`rankbench.spectral.structured.face_split_factors`; r₁r₂ singular values;
- ``kronecker`` (LoKr): products of the σ of W1 and W2 (W2 through its factors when decomposed);
- ``dense`` (LoHa with Tucker factors, or r₁r₂ ≥ min(out, in)): ΔW is formed and its SVD taken.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rankbench.adapters.alpha import read_alpha
from rankbench.adapters.safetensors_file import FLOAT_DTYPES, TensorInfo
from rankbench.errors import RankbenchError
from rankbench.spectral import factored_svd
from rankbench.spectral.structured import face_split_factors, kron_singular_values, kron_top_factors

LYCORIS_FAMILIES = ("loha", "lokr")
_HINT = "the LyCORIS file is incomplete or was edited; re-export it from the trainer"


@dataclass(frozen=True)
class StructuredSpec:
    """Where one LoHa/LoKr module lives in the file, before any tensor is read."""

    name: str
    family: str  # "loha" | "lokr"
    infos: dict  # role → TensorInfo
    alpha: float | None
    shape: tuple[int, int]  # (out, in·kh·kw) of ΔW
    kernel: tuple[int, ...]  # (in, kh, kw) when known (a conv), else ()
    dtype: str  # safetensors dtype of the first factor, e.g. "BF16"
    magnitude: TensorInfo | None = None  # DoRA (dora_scale): flagged, not part of the spectrum

    @property
    def r(self) -> int:
        """How many singular values :func:`read_structured` returns (the rank bound of the structure)."""
        out, n_in = self.shape
        if self.family == "loha":
            r1, r2 = self.infos["hada_w1_b"].shape[0], self.infos["hada_w2_b"].shape[0]
            return r1 * r2 if "hada_t1" not in self.infos and r1 * r2 < min(out, n_in) else min(out, n_in)
        w1 = self.infos.get("lokr_w1")
        n1 = (
            min(w1.shape)
            if w1 is not None
            else min(self.infos["lokr_w1_a"].shape[0], self.infos["lokr_w1_b"].shape[1])
        )
        if "lokr_w2" in self.infos or "lokr_t2" in self.infos:
            return n1 * min(out // self._w1_rows(), n_in // self._w1_cols())
        return n1 * self.infos["lokr_w2_b"].shape[0]

    def _w1_rows(self) -> int:
        w1 = self.infos.get("lokr_w1")
        return w1.shape[0] if w1 is not None else self.infos["lokr_w1_a"].shape[0]

    def _w1_cols(self) -> int:
        w1 = self.infos.get("lokr_w1")
        return w1.shape[1] if w1 is not None else self.infos["lokr_w1_b"].shape[1]

    @property
    def scale(self) -> float:
        if self.alpha is None:
            return 1.0
        if self.family == "loha":
            return self.alpha / self.infos["hada_w1_b"].shape[0]
        dim = next((self.infos[k].shape[0] for k in ("lokr_w2_b", "lokr_w1_b") if k in self.infos), None)
        return self.alpha / dim if dim else 1.0


@dataclass(frozen=True, eq=False)
class StructuredDelta:
    """One module's exact spectrum and the means to cut it (see :meth:`top`)."""

    singular_values: np.ndarray  # of ΔW (scale included), descending
    route: str  # "khatri_rao" | "kronecker" | "dense"
    _top: object  # k → (U (out, k), s (k,), Vt (k, in)) of ΔW

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The best rank-k approximation of ΔW as U_k·diag(s_k)·Vt_k (scale and its sign included)."""
        return self._top(k)


def _need(stem: str, slot: dict, path, *groups: tuple[str, ...]) -> None:
    for group in groups:
        if not any(all(k in slot for k in alt.split("+")) for alt in group):
            want = " or ".join(group)
            raise RankbenchError(f"module {stem}: LyCORIS tensors lack {want}", path=path, hint=_HINT)


def _shape(slot: dict, family: str) -> tuple[tuple[int, int], tuple[int, ...]]:
    if family == "loha":
        if "hada_t1" in slot:  # w1a (r, out), w1b (r, in), t1 (r, r, kh, kw)
            kh_kw = slot["hada_t1"].shape[2:]
            n_in = slot["hada_w1_b"].shape[1]
            return (slot["hada_w1_a"].shape[1], n_in * int(np.prod(kh_kw))), (n_in, *kh_kw)
        return (slot["hada_w1_a"].shape[0], slot["hada_w1_b"].shape[1]), ()
    a, b = (
        slot["lokr_w1"].shape
        if "lokr_w1" in slot
        else (slot["lokr_w1_a"].shape[0], slot["lokr_w1_b"].shape[1])
    )
    if "lokr_w2" in slot:
        c, d, *k = slot["lokr_w2"].shape
    elif "lokr_t2" in slot:
        c, d, k = slot["lokr_w2_a"].shape[1], slot["lokr_w2_b"].shape[1], list(slot["lokr_t2"].shape[2:])
    else:
        c, d, k = slot["lokr_w2_a"].shape[0], slot["lokr_w2_b"].shape[1], []
    kernel = (b * d, *k) if k else ()
    return (a * c, b * d * int(np.prod(k or [1]))), kernel


def lycoris_module(weights, stem: str, family: str, slot: dict) -> StructuredSpec:
    """Validate one LoHa/LoKr module's tensors (names, dtypes, ranks) and read its alpha."""
    if family == "loha":
        _need(stem, slot, weights.path, ("hada_w1_a",), ("hada_w1_b",), ("hada_w2_a",), ("hada_w2_b",))
    else:
        _need(
            stem, slot, weights.path, ("lokr_w1", "lokr_w1_a+lokr_w1_b"), ("lokr_w2", "lokr_w2_a+lokr_w2_b")
        )
    factors = {k: v for k, v in slot.items() if k not in ("alpha", "magnitude")}
    for info in factors.values():
        if info.dtype not in FLOAT_DTYPES:
            raise RankbenchError(
                f"tensor {info.key!r} has dtype {info.dtype}; expected a float", path=weights.path
            )
    try:
        shape, kernel = _shape(slot, family)
        _check_inner(slot)
    except (IndexError, ValueError) as exc:
        raise RankbenchError(
            f"module {stem}: {family} factor shapes do not fit ({exc})", path=weights.path, hint=_HINT
        ) from None
    alpha = read_alpha(weights, slot["alpha"], stem) if "alpha" in slot else None
    first = factors[sorted(factors)[0]]
    return StructuredSpec(stem, family, factors, alpha, shape, kernel, first.dtype, slot.get("magnitude"))


def _check_inner(slot: dict) -> None:
    """The inner dimensions of every product agree (raises ValueError naming the pair)."""
    pairs = [("hada_w1_a", "hada_w1_b", 1, 0), ("hada_w2_a", "hada_w2_b", 1, 0)]
    if "hada_t1" in slot:
        pairs = [("hada_w1_a", "hada_w1_b", 0, 0), ("hada_w2_a", "hada_w2_b", 0, 0)]
    pairs += [("lokr_w1_a", "lokr_w1_b", 1, 0)]
    pairs += [("lokr_w2_a", "lokr_w2_b", 0, 0) if "lokr_t2" in slot else ("lokr_w2_a", "lokr_w2_b", 1, 0)]
    for left, right, i, j in pairs:
        if left in slot and right in slot and slot[left].shape[i] != slot[right].shape[j]:
            raise ValueError(
                f"{left} {list(slot[left].shape)} and {right} {list(slot[right].shape)} differ in rank"
            )
    for a, b in (("hada_w1_a", "hada_w2_a"), ("hada_w1_b", "hada_w2_b")):
        if a in slot and b in slot and slot[a].shape[1:] != slot[b].shape[1:] and "hada_t1" not in slot:
            raise ValueError(f"{a} {list(slot[a].shape)} and {b} {list(slot[b].shape)} differ")


def _dense(M: np.ndarray, scale: float) -> StructuredDelta:
    U, s, Vt = np.linalg.svd(M, full_matrices=False)  # M: (out, in) -> U (out, m), s (m,), Vt (m, in)
    U = U * np.sign(scale) if scale < 0 else U
    s = abs(scale) * s
    return StructuredDelta(s, "dense", lambda k: (U[:, :k], s[:k], Vt[:k]))


def _loha(t: dict, scale: float, shape) -> StructuredDelta:
    if "hada_t1" in t:
        W1 = np.einsum("ijkl,jr,ip->prkl", t["hada_t1"], t["hada_w1_b"], t["hada_w1_a"]).reshape(shape)
        W2 = np.einsum("ijkl,jr,ip->prkl", t["hada_t2"], t["hada_w2_b"], t["hada_w2_a"]).reshape(shape)
        return _dense(W1 * W2, scale)
    r1, r2 = t["hada_w1_b"].shape[0], t["hada_w2_b"].shape[0]
    if r1 * r2 >= min(shape):
        return _dense((t["hada_w1_a"] @ t["hada_w1_b"]) * (t["hada_w2_a"] @ t["hada_w2_b"]), scale)
    B, A = face_split_factors(
        t["hada_w1_a"], t["hada_w1_b"], t["hada_w2_a"], t["hada_w2_b"]
    )  # (out, r1r2), (r1r2, in)
    U, s, Vt = factored_svd(B, A, scale)
    return StructuredDelta(s, "khatri_rao", lambda k: (U[:, :k], s[:k], Vt[:k]))


def _lokr(t: dict, scale: float) -> StructuredDelta:
    W1 = t["lokr_w1"] if "lokr_w1" in t else t["lokr_w1_a"] @ t["lokr_w1_b"]  # (a, b)
    svd1 = np.linalg.svd(W1, full_matrices=False)
    if "lokr_w2" in t:
        svd2 = np.linalg.svd(t["lokr_w2"].reshape(t["lokr_w2"].shape[0], -1), full_matrices=False)
    elif "lokr_t2" in t:
        W2 = np.einsum("ijkl,ip,jr->prkl", t["lokr_t2"], t["lokr_w2_a"], t["lokr_w2_b"])
        svd2 = np.linalg.svd(W2.reshape(W2.shape[0], -1), full_matrices=False)
    else:
        svd2 = factored_svd(t["lokr_w2_a"], t["lokr_w2_b"].reshape(t["lokr_w2_b"].shape[0], -1))
    s = abs(scale) * kron_singular_values(svd1[1], svd2[1])

    def top(k: int):
        U, sk, Vt = kron_top_factors(svd1, svd2, k)
        return U * np.sign(scale) if scale < 0 else U, abs(scale) * sk, Vt

    return StructuredDelta(s, "kronecker", top)


def read_structured(weights, spec: StructuredSpec) -> StructuredDelta:
    """Read one module's tensors (float64) and compute its exact spectrum (see the module docs)."""
    t = {role: weights.read(info.key) for role, info in spec.infos.items()}
    for role, x in t.items():
        if not np.isfinite(x).all():
            raise RankbenchError(
                f"module {spec.name}: {spec.infos[role].key} contains NaN or Inf",
                path=weights.path,
                hint="the training diverged or the file is damaged; use an earlier checkpoint",
            )
    return _loha(t, spec.scale, spec.shape) if spec.family == "loha" else _lokr(t, spec.scale)
