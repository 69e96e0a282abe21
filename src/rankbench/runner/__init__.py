"""Whole benches: one seed's stages followed by its artifacts, and the campaign executors.

This layer sits above :mod:`rankbench.bench` (the stages) and :mod:`rankbench.artifacts` (bench.json
built from a run folder), so that the stages never import the artifacts that read them.
"""
