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

    ``model.keras`` is the best epoch by the task's monitored metric, computing in float32
    whatever the training precision, with the task's stock compile state (or none), so a
    bare ``keras.saving.load_model`` loads it; ``last.keras`` keeps the training model
    (its precision, loss and optimiser state) for resuming.

    Epochs that diverged (see `NanGuard`) are not recorded, so the last good checkpoint
    stays.

    Args:
        run: the `RunDirectory`.
        schedule: the `PlateauSchedule` whose state goes into each checkpoint.
        history: rows of the epochs already completed (on resume).
        class_names: stored inside the model files.
        info: extra metadata for the model files (recipe, configuration, ...).
        epochs: total epochs, for the summary line.
        task: the `kvgg.train.task.Task` trained (its metrics and monitored metric).
        saved_objective: makes ``model.keras``'s compile arguments; None: no compile state.
        write: False on the non-chief workers of a multi-worker run.
        echo: prints the one-line summary of each epoch.
    """

    def __init__(
        self,
        run,
        schedule,
        history,
        class_names,
        info,
        epochs,
        *,
        task,
        saved_objective=None,
        write=True,
        echo=print,
    ):
        super().__init__()
        self.run = run
        self.schedule = schedule
        self.history = list(history)
        self.class_names = class_names
        self.info = info
        self.epochs = epochs
        self.task = task
        self.saved_objective = saved_objective
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
        self.echo(summary_line(row, self.epochs, self.task.metrics, improved))
        if not self.write:
            return
        state = {
            "epoch": epoch + 1,
            "schedule": self.schedule.state.to_dict(),
            "history": self.history,
        }
        if improved:
            monitor = self.task.monitor
            self.run.save(
                inference_copy(self.model, self.saved_objective),
                self.run.best,
                class_names=self.class_names,
                info={**self.info, "epoch": epoch + 1, "best": {monitor: logs.get(monitor)}},
            )
        self.run.save(
            self.model,
            self.run.last,
            class_names=self.class_names,
            info={**self.info, "train_state": state},
        )
        self.run.write_history(self.history)


def inference_copy(model: keras.Model, objective=None) -> keras.Model:
    """What ``model.keras`` holds: ``model`` computing in float32 (the training model is
    left as it is), compiled with ``objective()`` (stock Keras objects) or not at all.

    Example:
        >>> import kvgg
        >>> net = kvgg.build("A", width=1 / 16, num_classes=3, input_shape=(32, 32, 3))
        >>> net.compile(optimizer="sgd", loss="mse")
        >>> copy = inference_copy(net)
        >>> copy is not net, copy.compiled, net.compiled
        (True, False, True)
    """
    computing = float32_copy(model)  # the model itself when it computes in float32
    # A new functional model over the same layers: no compile state of the training run.
    copy = keras.Model(computing.inputs, computing.outputs, name=computing.name)
    if objective is not None:
        copy.compile(**objective())
    return copy


def summary_line(row: dict, epochs: int, metrics, improved: bool = False) -> str:
    """The one line printed after an epoch: loss and the task's metrics, train and
    validation, then the learning rate and the time.

    Args:
        row: the epoch's history row.
        epochs: total epochs.
        metrics: the task's ``(log key, label)`` pairs.
        improved: the epoch is the best so far (it is saved as model.keras).

    Example:
        >>> row = {"epoch": 2, "loss": 0.5, "top1": 0.8, "val_loss": 0.6, "val_top1": 0.75,
        ...        "lr": 0.01, "seconds": 3.2}
        >>> print(summary_line(row, 10, [("top1", "top-1")], improved=True))
        epoch   2/10  loss 0.5000  top-1 80.00%  | val loss 0.6000  top-1 75.00%
        | lr 1e-02  3s  *best
    """
    parts = [f"epoch {row['epoch']:>3}/{epochs}", f"loss {row['loss']:.4f}"]
    parts += [f"{label} {row[key]:6.2%}" for key, label in metrics if key in row]
    if "val_loss" in row:
        parts.append(f"| val loss {row['val_loss']:.4f}")
        parts += [
            f"{label} {row['val_' + key]:6.2%}" for key, label in metrics if "val_" + key in row
        ]
    parts.append(f"| lr {row.get('lr', math.nan):.0e}  {row['seconds']:.0f}s")
    return "  ".join(parts) + ("  *best" if improved else "")
