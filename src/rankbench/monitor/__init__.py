"""Watching the rank of a LoRA adapter while it trains (framework-free core; see :mod:`.core`).

- :class:`SpectrumMonitor`   ``SpectrumMonitor(model, output_dir=...).step(global_step)`` in any loop
- :class:`MonitorThresholds` the warning thresholds (:mod:`.checks` documents each)
- the transformers / TRL callback lives in :mod:`rankbench.integrations.transformers`
"""

from rankbench.monitor.checks import MonitorThresholds
from rankbench.monitor.core import DEFAULT_EVERY_N_STEPS, SpectrumMonitor
from rankbench.monitor.sample import TIMELINE_FILE

__all__ = ["DEFAULT_EVERY_N_STEPS", "TIMELINE_FILE", "MonitorThresholds", "SpectrumMonitor"]
