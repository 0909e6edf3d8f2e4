"""The paper's learning-rate schedule: divide by 10 when validation accuracy stops improving."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import keras

from kvgg.train.config import ScheduleConfig


@dataclass
class PlateauState:
    """What the schedule remembers between epochs (saved in every checkpoint).

    Args:
        best: best validation top-1 accuracy so far.
        wait: epochs since it last improved.
        reductions: learning-rate reductions made so far.
        lr: the learning rate of the next epoch.
        finished: whether the schedule ended the run.
    """

    best: float = -math.inf
    wait: int = 0
    reductions: int = 0
    lr: float = 0.0
    finished: bool = False

    def to_dict(self) -> dict:
        """JSON-ready form (``best`` is None before the first epoch)."""
        state = asdict(self)
        state["best"] = None if math.isinf(self.best) else self.best
        return state

    @classmethod
    def from_dict(cls, state: dict) -> PlateauState:
        """Inverse of `to_dict`."""
        best = state.get("best")
        return cls(**{**state, "best": -math.inf if best is None else best})


class PlateauSchedule(keras.callbacks.Callback):
    """Divide the learning rate by ``1 / factor`` at each plateau of validation accuracy.

    A plateau is ``patience`` epochs without a rise of more than ``min_delta``. After
    ``max_reductions`` reductions, the next plateau stops training (the paper: 3
    reductions, then stop). The current learning rate is added to the logs as ``lr``.

    Args:
        config: the recipe's schedule section.
        initial_lr: the learning rate of the first epoch.
        state: a saved `PlateauState` to resume from.
        monitor: the logged metric to watch.

    Example:
        >>> schedule = PlateauSchedule(ScheduleConfig(patience=1), initial_lr=0.01)
        >>> # model.fit(..., callbacks=[schedule]) calls it after each epoch, as here:
        >>> for epoch, val_top1 in enumerate([0.30, 0.40, 0.40, 0.40]):
        ...     schedule.on_epoch_end(epoch, {"val_top1": val_top1})
        >>> round(schedule.state.lr, 6), schedule.state.reductions  # two plateaus
        (0.0001, 2)
    """

    def __init__(self, config: ScheduleConfig, initial_lr: float, state=None, monitor="val_top1"):
        super().__init__()
        self.config = config
        self.monitor = monitor
        self.state = state or PlateauState(lr=initial_lr)
        self.improved = False

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate.assign(self.state.lr)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["lr"] = self.state.lr
        if self.monitor not in logs:
            raise ValueError(
                f"The schedule watches {self.monitor!r}, which this epoch did not log "
                f"(logged: {', '.join(sorted(logs))})."
            )
        value = float(logs[self.monitor])
        state = self.state
        self.improved = value > state.best + self.config.min_delta
        if self.improved:
            state.best, state.wait = value, 0
            return
        state.wait += 1
        if state.wait < self.config.patience:
            return
        state.wait = 0
        if state.reductions >= self.config.max_reductions:
            state.finished = True
            self.model.stop_training = True
        else:
            state.reductions += 1
            state.lr *= self.config.factor
