"""rankbench: how much of a LoRA adapter's rank is really used, and is a smaller adapter as good?

The audit needs only numpy and safetensors; the bench (training, evaluation) needs the ``bench`` extra.
"""

from __future__ import annotations

from rankbench.version import __version__

__all__ = ["__version__", "audit"]


def audit(path, **kwargs):
    """Exact spectral audit of a PEFT LoRA adapter folder; see :func:`rankbench.auditor.audit`."""
    from rankbench.auditor import audit as _audit

    return _audit(path, **kwargs)
