"""``SpectrumMonitorCallback``: the rank of every LoRA module while ``transformers.Trainer`` trains.

    from rankbench.integrations.transformers import SpectrumMonitorCallback
    trainer = Trainer(model=peft_model, args=args, ..., callbacks=[SpectrumMonitorCallback()])

It works with anything built on Trainer, TRL's ``SFTTrainer`` included (TRL is never imported). The
work is :class:`rankbench.monitor.SpectrumMonitor`'s; this class only connects it to the Trainer's
events:

- ``on_step_end``: a sample every ``every_n_steps`` optimizer steps and at the last step, appended to
  ``<output_dir>/rankbench_spectra.jsonl``; warnings are logged once each.
- ``on_log``: the latest sample's scalars (``rankbench/utilization_median``, ``_max``, ``_min``,
  ``rankbench/sigma1_max``, ``rankbench/energy_rank_90_median``, ``rankbench/inert_modules``) join the
  first Trainer log after it, so TensorBoard, W&B, MLflow … record them through their own callbacks.
  The Trainer calls its reporting callbacks before user callbacks, so at ``on_train_begin`` this
  callback moves itself to the front of the Trainer's list.
- ``on_train_end``: audit.json and suggest.json next to the last checkpoint (or in ``output_dir``
  when there is none at the last step) and one log line with the rank in use and the compress command.

Only the main process (``state.is_world_process_zero``) samples or writes; the others do nothing, so
no collective is ever started and nothing can hang.
"""

from __future__ import annotations

import sys
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from rankbench.monitor import DEFAULT_EVERY_N_STEPS, MonitorThresholds, SpectrumMonitor


def _move_to_front(callback) -> None:
    """Put ``callback`` first in the CallbackHandler that is calling it (found a few frames up).

    The handler's list is read while it iterates; moving an element already visited to index 0 shifts
    only visited ones, so no callback is skipped or called twice for the current event. If no handler
    is found (a subclass calling from elsewhere), the scalars still reach the callbacks after this one.
    """
    frame = sys._getframe(1)
    for _ in range(6):  # on_train_begin (and a subclass's super() calls) <- CallbackHandler.call_event
        frame = frame.f_back
        if frame is None:
            return
        callbacks = getattr(frame.f_locals.get("self"), "callbacks", None)
        if isinstance(callbacks, list) and any(c is callback for c in callbacks):
            if callbacks[0] is not callback:
                callbacks.remove(callback)
                callbacks.insert(0, callback)
            return


class SpectrumMonitorCallback(TrainerCallback):
    """Watch LoRA ranks during ``Trainer.train()`` (see the module docs for what goes where)."""

    def __init__(
        self,
        every_n_steps: int = DEFAULT_EVERY_N_STEPS,
        *,
        thresholds: MonitorThresholds | None = None,
        keep_singular_values: bool = True,
        final_audit: bool = True,
    ) -> None:
        if int(every_n_steps) < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.every_n_steps = int(every_n_steps)
        self.thresholds = thresholds or MonitorThresholds()
        self.keep_singular_values = keep_singular_values
        self.final_audit = final_audit
        self.monitor: SpectrumMonitor | None = None
        self._logged_step: int | None = None
        self._checkpoint: tuple[int, Path] | None = None  # (step, folder) of the last save

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        _move_to_front(self)
        self.monitor = SpectrumMonitor(
            model,
            output_dir=args.output_dir,
            every_n_steps=self.every_n_steps,
            thresholds=self.thresholds,
            max_steps=state.max_steps or None,
            keep_singular_values=self.keep_singular_values,
            main_process=state.is_world_process_zero,
        )
        self._logged_step = None
        self._checkpoint = None

    def on_step_end(self, args, state, control, **kwargs):
        if self.monitor is not None:
            self.monitor.step(state.global_step, last=state.global_step >= state.max_steps)

    def on_log(self, args, state, control, logs=None, **kwargs):
        latest = self.monitor.latest if self.monitor is not None else None
        if latest is None or logs is None or latest.step == self._logged_step:
            return
        logs.update(latest.scalars())
        self._logged_step = latest.step

    def on_save(self, args, state, control, **kwargs):
        if args.output_dir:
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            self._checkpoint = (state.global_step, folder)

    def on_train_end(self, args, state, control, **kwargs):
        if self.monitor is None or not self.final_audit:
            return
        step, folder = self._checkpoint or (None, None)
        self.monitor.finish(state.global_step, folder if step == state.global_step else None)
