"""The package version, written once: pyproject.toml reads it (setuptools dynamic version), the package
exports it as ``rankbench.__version__``, and the artifacts that record it import it from here.

A leaf module, so that recording the version does not import the package root (whose :func:`audit`
reaches up to the auditor).
"""

__version__ = "0.1.0"
