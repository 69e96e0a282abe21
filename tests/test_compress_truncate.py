"""Truncation from the factors against numpy's dense SVD, the random-subspace control, and the writer."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankbench.adapters.safetensors_file import SafetensorsFile, decode_float
from rankbench.adapters.writer import SafetensorsWriter, check_out_dir, encode_float, staged_dir
from rankbench.errors import RankbenchError
from rankbench.spectral.truncate import core_svd, discarded_energy, random_subspace_factors, truncate_factors


def dense_truncation(W, k):
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    return (U[:, :k] * s[:k]) @ Vt[:k], s  # (out, k) @ (k, in)


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 8),
    st.integers(1, 12),
    st.integers(0, 2**32 - 1),
    st.floats(-4, 4).filter(lambda x: abs(x) > 1e-3),
    st.floats(0.05, 8),
)
def test_truncation_equals_the_dense_rank_k_svd(out, r, n_in, seed, scale, new_scale):
    rng = np.random.default_rng(seed)
    B, A = rng.standard_normal((out, r)), rng.standard_normal((r, n_in))
    W = scale * B @ A  # (out, r) @ (r, in)
    core = core_svd(B, A, scale)
    for k in range(1, r + 1):
        Bk, Ak = truncate_factors(B, A, core, k, new_scale)
        assert Bk.shape == (out, k) and Ak.shape == (k, n_in)
        Wk, s = dense_truncation(W, k)
        norm = np.linalg.norm(W)
        assert np.linalg.norm(new_scale * Bk @ Ak - Wk) <= 1e-10 * norm
        error = np.linalg.norm(W - new_scale * Bk @ Ak)
        assert error == pytest.approx(np.sqrt(discarded_energy(core.s, k)), rel=1e-6, abs=1e-10 * norm)
        # √σ split evenly: column i of B' and row i of A' both have norm √(σ_i/|scale'|)
        m = min(k, s.size)
        live = s[:m] > 1e-8 * s[0]
        want = np.sqrt(s[:m] / new_scale)[live]
        np.testing.assert_allclose(np.linalg.norm(Bk[:, :m], axis=0)[live], want, rtol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(Ak[:m], axis=1)[live], want, rtol=1e-6)


def test_rank_deficient_factors_truncate_without_dividing_by_noise():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((20, 6))
    B[:, 3:] = 0.0  # only 3 live directions
    A = rng.standard_normal((6, 30))
    core = core_svd(B, A, 0.5)
    Bk, Ak = truncate_factors(B, A, core, 5, 0.5)
    assert np.isfinite(Bk).all() and np.isfinite(Ak).all()
    np.testing.assert_allclose(0.5 * Bk @ Ak, 0.5 * B @ A, atol=1e-12)
    zero = core_svd(np.zeros((5, 4)), rng.standard_normal((4, 7)), 2.0)
    Bz, Az = truncate_factors(np.zeros((5, 4)), np.ones((4, 7)), zero, 2, 2.0)
    assert not Bz.any() and not Az.any()


def test_random_subspace_control_reports_its_true_error():
    rng = np.random.default_rng(1)
    B, A = rng.standard_normal((16, 8)), rng.standard_normal((8, 24))
    W = 2.0 * B @ A
    Bq, Aq, dropped = random_subspace_factors(
        B, A, 2.0, 3, 0.5, np.random.default_rng(5).standard_normal((8, 3))
    )
    Wq = 0.5 * Bq @ Aq
    assert Bq.shape == (16, 3) and Aq.shape == (3, 24)
    assert np.linalg.norm(W - Wq) ** 2 == pytest.approx(dropped, rel=1e-10)
    assert np.linalg.matrix_rank(Wq) == 3
    assert dropped > discarded_energy(core_svd(B, A, 2.0).s, 3)  # not the best rank-3 (Eckart–Young)
    again = random_subspace_factors(B, A, 2.0, 3, 0.5, np.random.default_rng(5).standard_normal((8, 3)))
    np.testing.assert_array_equal(again[0], Bq)


def test_bf16_encoding_rounds_like_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.standard_normal(5000) * 10.0 ** rng.integers(-30, 30, 5000), [0.0, -0.0, 1e-40]])
    mine = np.frombuffer(encode_float(x, "BF16"), dtype="<u2")
    ref = torch.from_numpy(x.astype(np.float32)).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(mine, ref)
    nan = np.frombuffer(encode_float(np.array([np.nan, np.inf]), "BF16"), dtype="<u2")
    assert np.isnan(decode_float(nan.tobytes(), "BF16", (2,))[0]) and nan[1] == 0x7F80


@pytest.mark.parametrize("dtype", ["F64", "F32", "F16", "BF16"])
def test_writer_output_reads_back(tmp_path, dtype):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((7,))
    path = tmp_path / "x.safetensors"
    with SafetensorsWriter(path, [("a", dtype, (3, 5)), ("b.bias", "F32", (7,))], {"format": "pt"}) as w:
        w.write("a", encode_float(a, dtype))
        w.write("b.bias", encode_float(b, "F32"))
    f = SafetensorsFile(path)
    assert f.metadata == {"format": "pt"} and list(f.tensors) == ["a", "b.bias"]
    tol = {"F64": 0, "F32": 1e-6, "F16": 1e-3, "BF16": 1e-2}[dtype]
    np.testing.assert_allclose(f.read("a"), a, rtol=tol, atol=tol)
    from safetensors.numpy import load_file

    if dtype != "BF16":  # numpy has no bfloat16; the library's own reader checks the layout
        np.testing.assert_allclose(load_file(path)["a"], a, rtol=tol, atol=tol)
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    assert header_len % 8 == 0 and json.loads(path.read_bytes()[8 : 8 + header_len])["a"]["dtype"] == dtype


def test_writer_refuses_out_of_order_or_missing_tensors(tmp_path):
    entries = [("a", "F32", (2,)), ("b", "F32", (2,))]
    with (
        pytest.raises(ValueError, match=r"expected 'a' \(8 bytes\), got 'b'"),
        SafetensorsWriter(tmp_path / "x", entries) as w,
    ):
        w.write("b", encode_float(np.zeros(2), "F32"))
    w = SafetensorsWriter(tmp_path / "y", [("a", "F32", (2,))])
    with pytest.raises(ValueError, match="only 0 of 1 tensors were written"):
        w.close()


def test_staged_dir_is_all_or_nothing(tmp_path):
    out = tmp_path / "new"
    with pytest.raises(RuntimeError), staged_dir(out) as tmp:
        (tmp / "half").write_text("x")
        raise RuntimeError("killed")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with staged_dir(out) as tmp:
        (tmp / "done").write_text("x")
    assert [p.name for p in out.iterdir()] == ["done"] and len(list(tmp_path.iterdir())) == 1
    (tmp_path / "empty").mkdir()
    with staged_dir(tmp_path / "empty") as tmp:
        (tmp / "f").write_text("x")
    assert (tmp_path / "empty" / "f").exists()


def test_existing_non_empty_output_is_refused(tmp_path):
    with pytest.raises(
        RankbenchError, match=r"new: output folder is not empty\nhint: choose a new --out folder"
    ):
        check_out_dir(_non_empty(tmp_path / "new"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(RankbenchError, match="file: output folder exists and is not a folder"):
        check_out_dir(tmp_path / "file")


def _non_empty(path):
    path.mkdir()
    (path / "adapter_config.json").write_text("{}")
    return path


def test_single_threaded_blas_nests_and_restores():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from rankbench.suggest.rebuild import single_threaded_blas

    ctl = threadpoolctl.ThreadpoolController()
    before = [lib["num_threads"] for lib in ctl.info() if lib["user_api"] == "blas"]
    with single_threaded_blas(), single_threaded_blas():
        assert {lib["num_threads"] for lib in ctl.info() if lib["user_api"] == "blas"} <= {1}
    assert [lib["num_threads"] for lib in ctl.info() if lib["user_api"] == "blas"] == before


def test_a_zero_scale_is_refused_before_any_work(tmp_path):
    # found by benchmarks/fuzz_readers.py: lora_alpha 0 audits (ΔW = 0) but compress died in the math
    from helpers.peft_fixtures import random_pairs, write_adapter
    from rankbench.auditor import audit
    from rankbench.suggest.compress import compress_adapter
    from rankbench.suggest.plans import make_plan

    folder = tmp_path / "a"
    write_adapter(folder, random_pairs(np.random.default_rng(0)))
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, "lora_alpha": 0}))
    plan = make_plan("rank:2", audit(folder, workers=1))
    with pytest.raises(RankbenchError, match=r"has scale 0 \(lora_alpha 0\): its ΔW is zero") as info:
        compress_adapter(folder, plan, tmp_path / "out")
    assert "lora_alpha" in info.value.hint and not (tmp_path / "out").exists()
