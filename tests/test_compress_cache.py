"""compress_adapter(spectra=...) reuses a spectrum pass only for the very file it came from."""

import hashlib
import os

from helpers.numpy_adapter import write_adapter
from rankbench.suggest.compress import compress_adapter
from rankbench.suggest.plans import make_plan
from rankbench.suggest.spectra import compute_spectra


def weights(folder):
    return (folder / "adapter_model.safetensors").read_bytes()


def test_spectra_of_another_file_are_not_used(tmp_path):
    x = write_adapter(tmp_path / "x", seed=0)
    y = write_adapter(tmp_path / "y", seed=1)  # same modules and shapes, other numbers
    spectra_x = compute_spectra(x)
    plan = make_plan("rank:3", spectra_x)
    record = compress_adapter(y, plan, tmp_path / "reused", spectra=spectra_x)
    compress_adapter(y, plan, tmp_path / "cold")
    assert weights(tmp_path / "reused") == weights(tmp_path / "cold")
    assert record.source_sha256 == hashlib.sha256(weights(y)).hexdigest() != spectra_x.sha256


def test_a_touched_file_is_hashed_again(tmp_path):
    x = write_adapter(tmp_path / "x", seed=0)
    spectra = compute_spectra(x)
    os.utime(x / "adapter_model.safetensors", ns=(1, 1))  # same bytes, new mtime: hash, compare, reuse
    record = compress_adapter(x, make_plan("rank:3", spectra), tmp_path / "out", spectra=spectra)
    assert record.source_sha256 == spectra.sha256 == hashlib.sha256(weights(x)).hexdigest()
