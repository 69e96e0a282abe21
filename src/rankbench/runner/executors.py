"""Where the benches of a campaign run: here, one after the other (the default), or as Ray tasks.

Both executors call the same stage functions on the same folder layout (OUTPUT/seed_N/...), so a
campaign gives identical files either way. With Ray, each seed's probe is one task (probe, gate,
audit, plans), each of its variants another, and the seed's report a last one; tasks ask for the CPUs
and GPUs named in the config's ``executor`` section and pin torch to that many threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rankbench.errors import RankbenchError

if TYPE_CHECKING:
    from rankbench.bench.protocol import BenchRun


@dataclass(frozen=True)
class SeedJob:
    seed: int
    out: Path
    config: dict  # BenchConfig.to_dict() with train.seed set
    smoke: bool
    cache_dir: Path
    quiet: bool = True


def make_bench(job: SeedJob) -> BenchRun:
    from rankbench.bench.config import BenchConfig
    from rankbench.bench.progress import Progress
    from rankbench.bench.protocol import BenchRun
    from rankbench.bench.runstate import RunDir
    from rankbench.threads import apply_cpus_per_task

    cfg = BenchConfig.from_dict(job.config)
    apply_cpus_per_task(cfg.executor.cpus_per_task)
    run = RunDir(job.out)
    run.claim(cfg.experiment_dict(), cfg.config_hash(), {"smoke": job.smoke})
    return BenchRun(
        cfg=cfg, run=run, cache_dir=job.cache_dir, smoke=job.smoke, progress=Progress(quiet=job.quiet)
    )


def seed_prefix(job: SeedJob) -> bool:
    """Every stage of one seed before its variants (the order of ``run_bench``). Returns whether the
    variants should follow (the probe passed its gate, or this is a smoke run)."""
    from rankbench.bench.protocol import run_stages

    b = make_bench(job)
    gate = run_stages(b, variants=False)
    return bool(gate["passed"] or b.smoke)


def seed_variant(job: SeedJob, key: str) -> None:
    from rankbench.bench.protocol import stage_variant
    from rankbench.bench.variants import variant_jobs

    b = make_bench(job)
    (vjob,) = [j for j in variant_jobs(b.cfg.compression) if j.key == key]
    stage_variant(b, vjob)


def seed_finish(job: SeedJob, *_after) -> dict:
    """Every stage of one seed in order (finished ones are skipped), then bench.json and bench.md."""
    from rankbench.runner.seed import run_bench

    return run_bench(make_bench(job))


class LocalExecutor:
    name = "local"

    def run(self, jobs: list[SeedJob]) -> dict[int, dict | Exception]:
        results: dict[int, dict | Exception] = {}
        for job in jobs:
            try:
                results[job.seed] = seed_finish(job)  # run_bench runs (or resumes) every stage in order
            except RankbenchError as exc:
                if exc.exit_code != 1:
                    raise
                results[job.seed] = exc  # this seed's probe failed its gate; the others go on
        return results


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None, cpus: int, gpus: float) -> None:
        try:
            import ray
        except ImportError:
            raise RankbenchError(
                "--executor ray needs Ray", hint="pip install 'rankbench[ray]', or use the local executor"
            ) from None
        self.ray = ray
        self.address = address
        self.resources = {"num_cpus": max(cpus, 1), "num_gpus": gpus}

    def run(self, jobs: list[SeedJob]) -> dict[int, dict | Exception]:
        from rankbench.bench.config import BenchConfig
        from rankbench.bench.variants import variant_jobs

        ray = self.ray
        if not ray.is_initialized():
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=False)
                else:
                    ray.init(log_to_driver=False, include_dashboard=False)
            except Exception as exc:  # Ray raises many kinds; the user needs the text and the address
                raise RankbenchError(
                    f"could not start or reach Ray ({exc})",
                    hint="check --address, or run without --executor ray",
                ) from None
        prefix = ray.remote(**self.resources)(seed_prefix)
        variant = ray.remote(**self.resources)(seed_variant)
        finish = ray.remote(**self.resources)(seed_finish)
        heads = {job.seed: prefix.remote(job) for job in jobs}  # every seed's probe at once
        finals = {}
        for job in jobs:
            # ladder rungs are not run side by side: the seed's last task runs them in their fixed order
            keys = [
                j.key for j in variant_jobs(BenchConfig.from_dict(job.config).compression) if j.rung is None
            ]
            deps = [variant.remote(job, k) for k in keys] if self._get(heads[job.seed]) else []
            finals[job.seed] = finish.remote(job, *deps)  # Ray starts it once its variants are done
        results: dict[int, dict | Exception] = {}
        for seed, ref in finals.items():
            try:
                results[seed] = self._get(ref)
            except RankbenchError as exc:
                if exc.exit_code != 1:
                    raise
                results[seed] = exc
        return results

    def _get(self, ref):
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, RankbenchError):
                raise cause from None
            raise
