"""Callbacks of `kvgg fit`: a progress bar, a NaN guard, and the recorder that writes the run."""

from __future__ import annotations

import math
import time

import keras
import numpy as np
from tqdm.auto import tqdm

from kvgg.precision import float32_copy


class ProgressBar(keras.callbacks.Callback):
    """A progress bar over the steps of each epoch (shown on terminals only).

    Args:
        steps: steps per epoch.
        epochs: total epochs, for the label.
    """

    def __init__(self, steps: int, epochs: int):
        super().__init__()
        self.steps = steps
        self.epochs = epochs
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self.bar = tqdm(
            total=self.steps,
            desc=f"epoch {epoch + 1}/{self.epochs}",
            leave=False,
            unit="step",
            disable=None,  # terminals only
        )

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close()


class NanGuard(keras.callbacks.Callback):
    """Stops training when it diverges, and says where in ``reason``.

    Divergence is a NaN or infinite training loss at any batch, or at the end of an epoch
    a non-finite validation loss or metric, or a non-finite weight (a blow-up on the
    epoch's last step leaves a finite training loss but a broken model). `RunRecorder`
    saves nothing for such an epoch, so the previous good checkpoint stays.
    """

    def __init__(self):
        super().__init__()
        self.where = None
        self.reason = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs and not math.isfinite(float(logs["loss"])):
            self.where = (self.epoch + 1, batch + 1)
            self.reason = (
                f"the loss became NaN or infinite at epoch {self.epoch + 1}, batch {batch + 1}"
            )
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.reason is not None:
            return
        problem = divergence(logs, self.model)
        if problem is not None:
            self.where = (epoch + 1, None)
            self.reason = f"{problem} at the end of epoch {epoch + 1}"
            self.model.stop_training = True


def divergence(logs: dict | None, model: keras.Model) -> str | None:
    """What is NaN or infinite after an epoch (a logged value or a weight), or None.

    Args:
        logs: the epoch's logs (loss, metrics, validation loss and metrics).
        model: the model whose weights are checked.

    Example:
        >>> import kvgg
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> divergence({"loss": 0.5, "val_loss": float("nan")}, model)
        'the validation loss (val_loss) became NaN or infinite'
    """
    for key, value in (logs or {}).items():
        if (isinstance(value, int | float) or np.ndim(value) == 0) and not math.isfinite(
            float(value)
        ):
            what = "validation loss" if key == "val_loss" else key
            return f"the {what} ({key}) became NaN or infinite"
    for weight in model.weights:
        if not np.isfinite(keras.ops.convert_to_numpy(weight)).all():
            return f"the weights of {weight.path} became NaN or infinite"
    return None


class RunRecorder(keras.callbacks.Callback):
    """After each good epoch: history.csv, last.keras (with resume state), model.keras (best).

    ``model.keras`` computes in float32 whatever the training precision; ``last.keras``
    keeps the training model (its precision and optimiser state) for resuming.

    Epochs that diverged (see `NanGuard`) are not recorded, so the last good checkpoint
    stays.

    Args:
        run: the `RunDirectory`.
        schedule: the `PlateauSchedule` whose state goes into each checkpoint.
        history: rows of the epochs already completed (on resume).
        class_names: stored inside the model files.
        info: extra metadata for the model files (recipe, configuration, ...).
        epochs: total epochs, for the summary line.
        write: False on the non-chief workers of a multi-worker run.
        echo: prints the one-line summary of each epoch.
    """

    def __init__(self, run, schedule, history, class_names, info, epochs, write=True, echo=print):
        super().__init__()
        self.run = run
        self.schedule = schedule
        self.history = list(history)
        self.class_names = class_names
        self.info = info
        self.epochs = epochs
        self.write = write
        self.echo = echo
        self.started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = {key: float(value) for key, value in (logs or {}).items()}
        if "loss" not in logs or divergence(logs, self.model) is not None:
            return  # NanGuard stops the run; the last good checkpoint stays
        row = {"epoch": epoch + 1, **logs, "seconds": round(time.perf_counter() - self.started, 2)}
        self.history.append(row)
        improved = self.schedule.improved
        self.echo(_summary(row, self.epochs, improved))
        if not self.write:
            return
        state = {
            "epoch": epoch + 1,
            "schedule": self.schedule.state.to_dict(),
            "history": self.history,
        }
        if improved:
            self.run.save(
                float32_copy(self.model),  # predicts in float32 wherever it is loaded
                self.run.best,
                class_names=self.class_names,
                info={**self.info, "epoch": epoch + 1, "val_top1": logs.get("val_top1")},
            )
        self.run.save(
            self.model,
            self.run.last,
            class_names=self.class_names,
            info={**self.info, "train_state": state},
        )
        self.run.write_history(self.history)


def _summary(row: dict, epochs: int, improved: bool) -> str:
    parts = [f"epoch {row['epoch']:>3}/{epochs}", f"loss {row['loss']:.4f}"]
    if "top1" in row:
        parts.append(f"top-1 {row['top1']:6.2%}  top-5 {row.get('top5', math.nan):6.2%}")
    if "box_accuracy" in row:  # a localisation run: boxes with IoU > 0.5
        parts.append(f"box accuracy {row['box_accuracy']:6.2%}")
    if "val_box_accuracy" in row:
        parts.append(
            f"| val loss {row['val_loss']:.4f}  box accuracy {row['val_box_accuracy']:6.2%}"
        )
    elif "val_loss" in row:
        parts.append(
            f"| val loss {row['val_loss']:.4f}  top-1 {row['val_top1']:6.2%}  "
            f"top-5 {row.get('val_top5', math.nan):6.2%}"
        )
    parts.append(f"| lr {row.get('lr', math.nan):.0e}  {row['seconds']:.0f}s")
    return "  ".join(parts) + ("  *best" if improved else "")
