"""`plot_run`: loss, accuracy and learning-rate curves of a run, as one PNG."""

from __future__ import annotations

from pathlib import Path

from kvgg.io import check_outputs, write_atomic
from kvgg.train.recipes import installed_tasks
from kvgg.train.run_dir import history_columns, read_history

_NOT_METRICS = ("epoch", "loss", "val_loss", "lr", "seconds")


def plot_run(
    run_dir: str | Path, output: str | Path | None = None, *, title: str | None = None
) -> Path:
    """Draw a run's history.csv: loss, the task's metrics (train and validation), lr.

    Args:
        run_dir: a run directory written by `kvgg fit`.
        output: the PNG to write; default ``<run_dir>/curves.png``.
        title: the figure's title; default the run directory.

    Returns:
        The path of the PNG.

    Example:
        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())  # a run directory with its history.csv
        >>> rows = ["epoch,loss,val_top1,lr", "1,2.1,0.35,0.01", "2,1.5,0.52,0.01"]
        >>> _ = (run / "history.csv").write_text("\\n".join(rows))
        >>> plot_run(run) == run / "curves.png"
        True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check_outputs([output], [Path(run_dir) / "history.csv"])
    rows = read_history(run_dir)
    if not rows:
        raise ValueError(f"{run_dir}/history.csv has no epochs yet; nothing to plot.")
    epochs = [row["epoch"] for row in rows]
    figure, (loss_axes, accuracy_axes, lr_axes) = plt.subplots(1, 3, figsize=(15, 4))
    for key, label in (("loss", "train"), ("val_loss", "validation")):
        _line(loss_axes, epochs, rows, key, label)
    metrics = [key for key in history_columns(rows) if key not in _NOT_METRICS]
    labels = {key: label for task in installed_tasks() for key, label in task.metrics}
    for key in metrics:  # the task's metrics: top-1/top-5, box accuracy, ...
        name = key.removeprefix("val_")
        label = f"{'validation' if key.startswith('val_') else 'train'} {labels.get(name, name)}"
        _line(accuracy_axes, epochs, rows, key, label, style="--" if name == "top5" else "-")
    _line(lr_axes, epochs, rows, "lr", "learning rate")
    lr_axes.set_yscale("log")
    for axes, name in ((loss_axes, "loss"), (accuracy_axes, "accuracy"), (lr_axes, "lr")):
        axes.set_title(name)
        axes.set_xlabel("epoch")
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title or str(Path(run_dir)))
    figure.tight_layout()
    output = Path(output) if output else Path(run_dir) / "curves.png"
    try:
        return write_atomic(output, lambda partial: figure.savefig(partial, dpi=100))
    finally:
        plt.close(figure)


def _line(axes, epochs, rows, key, label, style="-"):
    points = [(epoch, row[key]) for epoch, row in zip(epochs, rows, strict=True) if key in row]
    if points:
        axes.plot(*zip(*points, strict=True), style, marker="o", markersize=3, label=label)
