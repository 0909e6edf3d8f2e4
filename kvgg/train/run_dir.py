"""The run directory: everything a training run writes, each file written atomically.

```
runs/<name>/
  recipe.yaml     the resolved recipe (after overrides)
  model.keras     best epoch by the task's monitored metric (kvgg.io.save_model)
  last.keras      last completed epoch, with optimiser state and the schedule's state
  history.csv     one row per epoch: loss and the task's metrics (train, validation), lr, seconds
  tensorboard/    TensorBoard logs
  env.json        versions, devices, replicas, command line
```

``last.keras`` carries the resume state (epoch, schedule, history) inside the same
archive as the weights, so one atomic rename keeps them consistent.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import sys
import time
from collections.abc import Collection
from pathlib import Path

import keras

from kvgg import io as kvgg_io
from kvgg.recipe import to_dict, to_yaml

_COMPARED_SECTIONS = ("model", "data")  # never change within a run
_FREE_SECTIONS = ("smoke",)  # may differ freely: how the recipe was made, not what it trains
_FREE_KEYS = ("run.dir",)


class RunDirectory:
    """The files of one training run.

    Args:
        path: the directory (created by `start`).

    Example:
        >>> import tempfile
        >>> run = RunDirectory(tempfile.mkdtemp())  # a new run: nothing to resume
        >>> run.resume_state() is None
        True
    """

    def __init__(self, path):
        self.path = Path(path)
        self.recipe = self.path / "recipe.yaml"
        self.best = self.path / kvgg_io.BEST_MODEL_FILE
        self.last = self.path / "last.keras"
        self.history = self.path / "history.csv"
        self.env = self.path / "env.json"
        self.tensorboard = self.path / "tensorboard"

    def check_outputs(self, inputs) -> None:
        """Refuse a run whose files would overwrite one of its inputs (`kvgg.io.check_outputs`),
        e.g. ``model.init_from`` pointing at this directory's ``model.keras``."""
        files = (self.recipe, self.best, self.last, self.history, self.env)
        kvgg_io.check_outputs(files, [path for path in inputs if isinstance(path, str | Path)])

    def resume_state(self) -> dict | None:
        """The state saved with the last completed epoch, or None for a fresh run."""
        if not self.last.is_file():
            return None
        try:
            kvgg_io.check_archive(self.last)
        except ValueError as error:
            raise ValueError(
                f"{error} Resuming needs it intact: restore it from a copy, or start a new run "
                "(--run-dir DIR)."
            ) from None
        state = kvgg_io.read_info(self.last).get("train_state")
        if state is None:
            raise ValueError(f"{self.last} holds no kvgg training state; use a new run directory.")
        return state

    def check_same_experiment(self, recipe, explicit: Collection[str] | None = None) -> None:
        """Refuse to resume a run with settings that differ from `recipe`'s, unless asked to.

        Model and data settings never change within a run. Other settings (optimizer,
        schedule, run) may change when resuming if each changed key is named in
        ``explicit`` (the ``--set`` overrides of the command line); a run that is already
        finished takes no changes but more epochs, which would otherwise be ignored.

        Args:
            recipe: the recipe about to be trained in this directory.
            explicit: the dotted keys the user set explicitly; None: all of them (a
                `TrainRecipe` built in code).

        Raises:
            ValueError: naming the differing keys (saved and new values) and the ways on.
        """
        if not self.last.is_file():
            return
        info = kvgg_io.read_info(self.last)
        saved = info.get("recipe", {})
        current = json.loads(json.dumps(to_dict(recipe)))  # tuples as lists, as saved
        for section in _COMPARED_SECTIONS:
            if saved.get(section) != current[section]:
                changed = sorted(
                    key
                    for key in set(saved.get(section, {})) | set(current[section])
                    if saved.get(section, {}).get(key) != current[section].get(key)
                )
                raise ValueError(
                    f"{self.path} holds a run with different {section} settings "
                    f"({', '.join(f'{section}.{key}' for key in changed)}); resuming it with "
                    "this recipe would mix two experiments. Use another --run-dir."
                )
        changed = _changed_settings(saved, current)
        state = info.get("train_state") or {}
        epoch = state.get("epoch", 0)
        listing = ", ".join(
            f"{key} ({json.dumps(old)} in the run, {json.dumps(new)} now)"
            for key, (old, new) in changed.items()
        )
        if state.get("schedule", {}).get("finished") and changed:
            raise ValueError(
                f"{self.path} already finished after {epoch} epochs (the schedule's last "
                f"plateau) with other settings: {listing}; re-running it would ignore them. "
                "Train them in a new run directory: --run-dir DIR."
            )
        if epoch >= recipe.schedule.epochs and changed:
            raise ValueError(
                f"{self.path} already finished after {epoch} epochs with other settings: "
                f"{listing}; re-running it would ignore them. Train them in a new run "
                f"directory (--run-dir DIR), or extend this run with them: "
                f"--set schedule.epochs={epoch + 1} or more."
            )
        implicit = {
            key: values
            for key, values in changed.items()
            if explicit is not None and key not in explicit
        }
        if implicit:
            sets = " ".join(f"--set {key}={json.dumps(new)}" for key, (_, new) in implicit.items())
            raise ValueError(
                f"{self.path} holds a run (epoch {epoch} done) with other settings: {listing}. "
                f"Start a new run (--run-dir DIR), or continue this one with the new values "
                f"by setting them explicitly: {sets}"
            )

    def start(self, recipe, environment: dict) -> None:
        """Create the directory and write the resolved recipe and the environment info."""
        self.path.mkdir(parents=True, exist_ok=True)
        header = f"# resolved recipe of {self.path}, written {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        kvgg_io.write_text(self.recipe, header + to_yaml(recipe))
        kvgg_io.write_text(self.env, json.dumps(environment, indent=1) + "\n")

    def write_history(self, rows: list[dict]) -> None:
        """Rewrite history.csv from all epoch rows so far."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, history_columns(rows), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        kvgg_io.write_text(self.history, buffer.getvalue())

    def save(self, model, path, *, class_names, info: dict) -> None:
        """Save `model` atomically with kvgg metadata (class names, training state)."""
        kvgg_io.save_model(model, path, class_names=class_names, info=info)


def history_columns(rows: list[dict]) -> list[str]:
    """The columns of history.csv: epoch, loss, the task's metrics, then their validation
    values, the learning rate and the seconds per epoch.

    Example:
        >>> history_columns([{"epoch": 1, "lr": 0.1, "val_top1": 0.3, "loss": 2.0,
        ...                   "top1": 0.2, "val_loss": 2.1, "seconds": 4.0}])
        ['epoch', 'loss', 'top1', 'val_loss', 'val_top1', 'lr', 'seconds']
    """
    keys = list(dict.fromkeys(key for row in rows for key in row))
    first, last = ["epoch", "loss"], ["lr", "seconds"]
    middle = [key for key in keys if key not in first + last]
    train = [key for key in middle if not key.startswith("val_")]
    val = [key for key in middle if key.startswith("val_") and key != "val_loss"]
    val = ["val_loss"] * ("val_loss" in middle) + val
    return [key for key in first if key in keys] + train + val + [k for k in last if k in keys]


def _changed_settings(saved: dict, current: dict) -> dict[str, tuple]:
    """``{"optimizer.lr": (0.01, 0.05), ...}``: the settings outside model and data that differ."""
    changed = {}
    for section, values in current.items():
        if (
            section in _COMPARED_SECTIONS
            or section in _FREE_SECTIONS
            or not isinstance(values, dict)
        ):
            continue
        before = saved.get(section, {})
        for key in sorted(set(before) | set(values)):
            if f"{section}.{key}" not in _FREE_KEYS and before.get(key) != values.get(key):
                changed[f"{section}.{key}"] = (before.get(key), values.get(key))
    return changed


def read_history(run_dir) -> list[dict]:
    """The rows of a run's history.csv as dicts of floats (``epoch`` as int).

    Example:
        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())  # a run directory with its history.csv
        >>> rows = ["epoch,loss,val_top1,lr", "1,2.1,0.35,0.01", "2,1.5,0.52,0.01"]
        >>> _ = (run / "history.csv").write_text("\\n".join(rows))
        >>> read_history(run)[-1]
        {'epoch': 2, 'loss': 1.5, 'val_top1': 0.52, 'lr': 0.01}
    """
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        raise FileNotFoundError(f"No history.csv in {str(run_dir)!r}; is it a kvgg run directory?")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        {
            key: (int(value) if key == "epoch" else float(value))
            for key, value in row.items()
            if value
        }
        for row in rows
    ]


def environment(replication) -> dict:
    """Versions, devices and replicas of this process, for env.json."""
    versions = {"python": platform.python_version(), "keras": keras.__version__}
    for module in ("kvgg", "tensorflow", "jax", "torch", "numpy"):
        if module in sys.modules:
            versions[module] = getattr(sys.modules[module], "__version__", "?")
    return {
        "backend": keras.backend.backend(),
        "versions": versions,
        "platform": platform.platform(),
        "hostname": platform.node(),
        "distribution": replication.description,
        "replicas": replication.num_replicas,
        "devices": [str(d) for d in replication.devices],
        "command": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
