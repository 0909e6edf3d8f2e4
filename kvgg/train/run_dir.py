"""The run directory: everything a training run writes, each file written atomically.

```
runs/<name>/
  recipe.yaml     the resolved recipe (after overrides)
  model.keras     best epoch by validation top-1 accuracy (kvgg.io.save_model)
  last.keras      last completed epoch, with optimiser state and the schedule's state
  history.csv     one row per epoch: loss, top-1/top-5, validation, lr, seconds
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
from pathlib import Path

import keras

from kvgg import io as kvgg_io
from kvgg.recipe import to_dict, to_yaml

HISTORY_COLUMNS = (
    "epoch",
    "loss",
    "top1",
    "top5",
    "val_loss",
    "val_top1",
    "val_top5",
    "lr",
    "seconds",
)
_COMPARED_SECTIONS = ("model", "data")


class RunDirectory:
    """The files of one training run.

    Args:
        path: the directory (created by `start`).

    Example:
        >>> run = RunDirectory("runs/quickstart")
        >>> run.resume_state() is None  # doctest: +SKIP
        True
    """

    def __init__(self, path):
        self.path = Path(path)
        self.recipe = self.path / "recipe.yaml"
        self.best = self.path / "model.keras"
        self.last = self.path / "last.keras"
        self.history = self.path / "history.csv"
        self.env = self.path / "env.json"
        self.tensorboard = self.path / "tensorboard"

    def resume_state(self) -> dict | None:
        """The state saved with the last completed epoch, or None for a fresh run."""
        if not self.last.is_file():
            return None
        state = kvgg_io.read_info(self.last).get("train_state")
        if state is None:
            raise ValueError(f"{self.last} holds no kvgg training state; use a new run directory.")
        return state

    def check_same_experiment(self, recipe) -> None:
        """Refuse to resume a run whose model or data sections differ from `recipe`'s.

        Schedule, optimizer and run settings may change (e.g. more epochs).
        """
        if not self.last.is_file():
            return
        saved = kvgg_io.read_info(self.last).get("recipe", {})
        current = to_dict(recipe)
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

    def start(self, recipe, environment: dict) -> None:
        """Create the directory and write the resolved recipe and the environment info."""
        self.path.mkdir(parents=True, exist_ok=True)
        header = f"# resolved recipe of {self.path}, written {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        kvgg_io.write_text(self.recipe, header + to_yaml(recipe))
        kvgg_io.write_text(self.env, json.dumps(environment, indent=1) + "\n")

    def write_history(self, rows: list[dict]) -> None:
        """Rewrite history.csv from all epoch rows so far."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, HISTORY_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        kvgg_io.write_text(self.history, buffer.getvalue())

    def save(self, model, path, *, class_names, info: dict) -> None:
        """Save `model` atomically with kvgg metadata (class names, training state)."""
        kvgg_io.save_model(model, path, class_names=class_names, info=info)


def read_history(run_dir) -> list[dict]:
    """The rows of a run's history.csv as dicts of floats (``epoch`` as int).

    Example:
        >>> read_history("runs/quickstart")[-1]["val_top1"]  # doctest: +SKIP
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
