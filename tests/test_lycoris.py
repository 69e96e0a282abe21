"""LyCORIS LoHa / LoKr: exact spectra by their structure (checked against numpy's dense SVD of the ΔW
that LyCORIS's convention defines), the route named, and conversion to a kohya LoRA of a chosen rank."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.peft_fixtures import write_safetensors
from rankbench.adapters import open_adapter
from rankbench.auditor import audit
from rankbench.cli import main
from rankbench.spectral.structured import face_split_factors, kron_singular_values, kron_top_factors

STEM = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q"


def sigma(M):
    return np.linalg.svd(M, compute_uv=False)


def best_rank_k(M, k):
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    return (U[:, :k] * s[:k]) @ Vt[:k]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(2, 9), st.integers(2, 9), st.integers(0, 2**31))
def test_face_split_is_the_hadamard_product(r1, r2, out, n_in, seed):
    rng = np.random.default_rng(seed)
    P1, P2 = rng.standard_normal((out, r1)), rng.standard_normal((out, r2))
    Q1, Q2 = rng.standard_normal((r1, n_in)), rng.standard_normal((r2, n_in))
    B, A = face_split_factors(P1, Q1, P2, Q2)
    assert B.shape == (out, r1 * r2) and A.shape == (r1 * r2, n_in)
    np.testing.assert_allclose(B @ A, (P1 @ Q1) * (P2 @ Q2), atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31))
def test_kron_spectrum_and_top_directions(a, b, c, d, seed):
    rng = np.random.default_rng(seed)
    W1, W2 = rng.standard_normal((a, b)), rng.standard_normal((c, d))
    K = np.kron(W1, W2)
    s = kron_singular_values(sigma(W1), sigma(W2))  # min(a, b)·min(c, d) values; the rest of σ(K) are 0
    assert s.size == min(a, b) * min(c, d) <= min(K.shape)
    np.testing.assert_allclose(s, sigma(K)[: s.size], atol=1e-10)
    np.testing.assert_allclose(sigma(K)[s.size :], 0.0, atol=1e-10)
    svd1, svd2 = (np.linalg.svd(W, full_matrices=False) for W in (W1, W2))
    for k in range(1, s.size + 1):
        U, s, Vt = kron_top_factors(svd1, svd2, k)
        err = np.linalg.norm((U * s) @ Vt - K) ** 2
        assert err == pytest.approx(np.sum(sigma(K)[k:] ** 2), abs=1e-9)  # Eckart–Young


def loha_tensors(rng, out, n_in, r, alpha=None, tucker_kernel=None):
    if tucker_kernel:
        kh = tucker_kernel
        t = {f"hada_t{i}": rng.standard_normal((r, r, kh, kh)) for i in (1, 2)}
        t |= {f"hada_w{i}_a": rng.standard_normal((r, out)) for i in (1, 2)}
        t |= {f"hada_w{i}_b": rng.standard_normal((r, n_in)) for i in (1, 2)}
    else:
        t = {f"hada_w{i}_a": rng.standard_normal((out, r)) for i in (1, 2)}
        t |= {f"hada_w{i}_b": rng.standard_normal((r, n_in)) for i in (1, 2)}
    if alpha is not None:
        t["alpha"] = np.array(alpha)
    return {f"{STEM}.{k}": v for k, v in t.items()}


def loha_dense(t, scale):
    g = {k.rsplit(".", 1)[1]: v for k, v in t.items()}
    if "hada_t1" in g:
        W1 = np.einsum("ijkl,jr,ip->prkl", g["hada_t1"], g["hada_w1_b"], g["hada_w1_a"])
        W2 = np.einsum("ijkl,jr,ip->prkl", g["hada_t2"], g["hada_w2_b"], g["hada_w2_a"])
        return scale * (W1 * W2).reshape(W1.shape[0], -1)
    return scale * (g["hada_w1_a"] @ g["hada_w1_b"]) * (g["hada_w2_a"] @ g["hada_w2_b"])


@pytest.mark.parametrize(
    ("out", "n_in", "r", "tucker", "route", "n_sigma"),
    [(40, 64, 4, None, "khatri_rao", 16), (12, 10, 4, None, "dense", 10), (6, 5, 3, 3, "dense", 6)],
)
def test_loha_audit(tmp_path, out, n_in, r, tucker, route, n_sigma):
    t = loha_tensors(np.random.default_rng(0), out, n_in, r, alpha=2.0, tucker_kernel=tucker)
    path = write_safetensors(tmp_path / "loha.safetensors", t, "F32")
    res = audit(path, workers=1)
    (m,) = res.modules
    assert (res.adapter.format, m.kind, m.route, m.r) == ("lycoris", "loha", route, n_sigma)
    assert m.scale == pytest.approx(2.0 / r)
    stored = {k: v.astype(np.float32).astype(np.float64) for k, v in t.items()}
    ref = sigma(loha_dense(stored, 2.0 / r))
    np.testing.assert_allclose(m.singular_values, ref[:n_sigma], rtol=1e-8, atol=1e-10 * ref[0])
    assert ("dense_method" in res.flags) == (route == "dense")


def lokr_tensors(rng, *, w1=(4, 4), w2=(8, 6), r=None, kernel=None, alpha=None):
    t = {"lokr_w1": rng.standard_normal(w1)}
    if r is None:
        t["lokr_w2"] = rng.standard_normal((*w2, kernel, kernel) if kernel else w2)
    else:
        t["lokr_w2_a"] = rng.standard_normal((w2[0], r))
        t["lokr_w2_b"] = rng.standard_normal((r, w2[1]))
    if alpha is not None:
        t["alpha"] = np.array(alpha)
    return {f"{STEM}.{k}": v for k, v in t.items()}


def lokr_dense(t, scale):
    g = {k.rsplit(".", 1)[1]: v for k, v in t.items()}
    W2 = g["lokr_w2"] if "lokr_w2" in g else g["lokr_w2_a"] @ g["lokr_w2_b"]
    return scale * np.kron(g["lokr_w1"], W2.reshape(W2.shape[0], -1))


@pytest.mark.parametrize(
    ("kw", "scale", "n_sigma"),
    [({"r": 3, "alpha": 6.0}, 2.0, 12), ({"alpha": 6.0}, 1.0, 24), ({"kernel": 3}, 1.0, 32)],
)
def test_lokr_audit_by_kronecker_products(tmp_path, kw, scale, n_sigma):
    t = lokr_tensors(np.random.default_rng(1), **kw)
    res = audit(write_safetensors(tmp_path / "lokr.safetensors", t, "F32"), workers=1)
    (m,) = res.modules
    assert (m.kind, m.route, m.scale, m.r) == ("lokr", "kronecker", scale, n_sigma)
    stored = {k: v.astype(np.float32).astype(np.float64) for k, v in t.items()}
    dense = lokr_dense(stored, scale)
    assert tuple(m.shape) == dense.shape
    ref = sigma(dense)
    np.testing.assert_allclose(m.singular_values, ref[:n_sigma], rtol=1e-8, atol=1e-10 * ref[0])


@pytest.mark.parametrize("family", ["loha", "lokr"])
def test_convert_to_kohya_lora_of_chosen_rank(tmp_path, family, capsys):
    rng = np.random.default_rng(2)
    t = loha_tensors(rng, 40, 64, 4, alpha=2.0) if family == "loha" else lokr_tensors(rng, r=3, alpha=6.0)
    scale = 0.5 if family == "loha" else 2.0
    t["lora_unet_plain.lora_down.weight"] = rng.standard_normal((4, 10))  # LyCORIS files mix in plain LoRA
    t["lora_unet_plain.lora_up.weight"] = rng.standard_normal((10, 4))
    src = write_safetensors(tmp_path / f"{family}.safetensors", t, "F32")
    out = tmp_path / "lora.safetensors"
    assert main(["compress", str(src), "--plan", "rank:3", "--out", str(out)]) == 0
    assert capsys.readouterr().err.splitlines()[0].endswith("format lycoris -> kohya")
    with open_adapter(out) as adapter:
        assert adapter.format == "kohya" and not adapter.structured
        pairs = {s.name: adapter.read_pair(s) for s in adapter.specs}
    p = pairs[STEM]
    assert p.r == 3 and p.dtype == "float32"
    stored = {k: v.astype(np.float32).astype(np.float64) for k, v in t.items() if k.startswith(STEM)}
    dense = loha_dense(stored, scale) if family == "loha" else lokr_dense(stored, scale)
    ref = best_rank_k(dense, 3)
    assert np.linalg.norm(p.scale * p.B @ p.A - ref) <= 1e-5 * np.linalg.norm(ref)
    assert p.scale == pytest.approx(scale)  # keep_scale: the module's effective scale carries over


def test_missing_lycoris_factor(tmp_path):
    t = loha_tensors(np.random.default_rng(3), 8, 8, 2)
    del t[f"{STEM}.hada_w2_b"]
    with pytest.raises(Exception, match=rf"module {STEM}: LyCORIS tensors lack hada_w2_b"):
        open_adapter(write_safetensors(tmp_path / "x.safetensors", t, "F32"))


def test_lycoris_rank_mismatch(tmp_path):
    t = lokr_tensors(np.random.default_rng(4), r=3)
    t[f"{STEM}.lokr_w2_b"] = t[f"{STEM}.lokr_w2_b"][:2]
    with pytest.raises(
        Exception, match=r"lokr factor shapes do not fit \(lokr_w2_a \[8, 3\] and lokr_w2_b \[2, 6\]"
    ):
        open_adapter(write_safetensors(tmp_path / "x.safetensors", t, "F32"))


def test_conversion_that_grows_the_file_says_so(tmp_path, capsys):
    t = lokr_tensors(np.random.default_rng(5), w1=(4, 4), w2=(40, 40), r=2, alpha=2.0)  # 16 + 160 params
    src = write_safetensors(tmp_path / "lokr.safetensors", t, "F32")
    out = tmp_path / "lora.safetensors"
    assert main(["compress", str(src), "--plan", "rank:8", "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert out.stat().st_size > src.stat().st_size
    assert f"warning: {out} is larger than its source" in err and "compatibility, not size" in err
