"""The artifacts a bench writes, each built by pure functions of its records.

- :mod:`~rankbench.artifacts.bench`: bench.json from a run folder and its config;
- :mod:`~rankbench.artifacts.aggregate`: bench_aggregate.json from finished run folders and a policy;
- :mod:`~rankbench.artifacts.variant_block`: one variant's block of bench_aggregate.json.

The keys that more than one module reads or writes live in the leaf module :mod:`rankbench.keys`.

Each builder module holds its artifact's ``SCHEMA_VERSION``; the published JSON Schemas are in
:mod:`rankbench.schemas`.
"""
