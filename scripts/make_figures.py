"""Generate the documentation's figures from kvgg itself, on CPU, in a few minutes.

    python scripts/make_figures.py [--only architecture|curves|scoremap] [--out docs/img]
                                   [--run RUN_DIR]

- architecture.png: Table 1 drawn from `kvgg.models.CONFIGS`, with the parameter counts of
  the built models.
- training_curves.png: a real run of the quick-start recipe on the built-in digits with a
  shorter plateau rule (`PLATEAU_OVERRIDES`), so the learning rate visibly drops within
  about two minutes on a CPU, drawn by `kvgg.train.plot_run` (what `kvgg plot` calls).
- scoremap.png: the dense score map of that run's model over a strip of five test digits,
  drawn by `kvgg scoremap`.

Nothing here is drawn by hand: rerun the script after changing the code and commit the PNGs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BLOCK_COLOURS = ("#4c72b0", "#55a868", "#c44e52", "#8172b2", "#937860")
HEAD_COLOUR = "#dd8452"
# The quick-start recipe with a plateau of one epoch without a 1-point gain in validation
# top-1: the paper's lr / 10 at plateaus shows within a short run.
PLATEAU_OVERRIDES = ("schedule.epochs=12", "schedule.patience=1", "schedule.min_delta=0.01")
CURVES_TITLE = (
    "Quick-start recipe (configuration A, widths / 4, 32x32 digits): the learning rate is "
    "divided by 10 after an epoch without a 1-point gain in validation top-1"
)


def architecture(out: Path) -> Path:
    """Table 1 as the paper draws it: one column per configuration, layers top to bottom."""
    import keras

    import kvgg
    from kvgg.models.configs import CONFIGS

    configs = list(CONFIGS.values())
    # Rows shared by all columns: per block as many rows as its deepest column, then a pool.
    depth = [
        max(len(c.kernels[b]) + (c.lrn and b == 0) for c in configs)
        for b in range(len(configs[0].kernels))
    ]
    rows = sum(depth) + len(depth) + 4  # the pools, then FC-4096, FC-4096, FC-1000, soft-max
    fig, ax = plt.subplots(figsize=(10, 0.36 * (rows + 4)))
    column, box_w = 1.0, 0.92

    def cell(col, row, colour, label, width=box_w, text="white"):
        ax.add_patch(Rectangle((col - width / 2, -row - 0.42), width, 0.84, color=colour))
        ax.text(col, -row, label, ha="center", va="center", fontsize=10.5, color=text)

    span = (len(configs) - 1) * column / 2  # centre of the shared rows
    for index, cfg in enumerate(configs):
        col = index * column
        ax.text(col, 1.6, cfg.name, ha="center", va="center", fontsize=14, weight="bold")
        ax.text(
            col,
            0.8,
            f"{cfg.model_name}\n{cfg.weight_layers} weight layers",
            ha="center",
            va="center",
            fontsize=9,
        )
        row = 0
        for block, kernels in enumerate(cfg.kernels):
            layers = [f"conv{k}-{cfg.filters[block]}" for k in kernels]
            if cfg.lrn and block == 0:
                layers.insert(1, "LRN")
            for offset, label in enumerate(layers):
                grey = label == "LRN"
                cell(
                    col,
                    row + 1 + offset,
                    "#cccccc" if grey else BLOCK_COLOURS[block],
                    label,
                    text="black" if grey else "white",
                )
            row += depth[block] + 1
        params = kvgg.build(cfg.name).count_params()
        keras.utils.clear_session()
        ax.text(
            col,
            -(rows + 1.2),
            f"{params / 1e6:.0f}M\nparams",
            ha="center",
            va="center",
            fontsize=10,
        )
    row = 0
    for block in range(len(depth)):
        row += depth[block] + 1
        cell(span, row, "black", "maxpool", width=len(configs) * column - 0.08)
    for label in ("FC-4096", "FC-4096", "FC-1000", "soft-max"):
        row += 1
        cell(
            span,
            row,
            HEAD_COLOUR if label.startswith("FC") else "#777777",
            label,
            width=len(configs) * column - 0.08,
        )
    ax.text(
        span,
        2.5,
        "ConvNet configurations (Table 1); input: 224x224 RGB image",
        ha="center",
        va="center",
        fontsize=13,
    )
    ax.set_xlim(-0.6, (len(configs) - 1) * column + 0.6)
    ax.set_ylim(-(rows + 2), 3)
    ax.axis("off")
    path = out / "architecture.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def training_curves(out: Path, run: Path) -> Path:
    """The run's loss, accuracy and learning-rate curves, drawn as `kvgg plot` draws them."""
    from kvgg.train import plot_run

    return plot_run(run, out / "training_curves.png", title=CURVES_TITLE)


def score_map(out: Path, run: Path) -> Path:
    """`kvgg scoremap` of the quick-start model over a strip of five test digits."""
    import numpy as np
    from PIL import Image

    from kvgg.data import digits

    test = digits("test")
    strip = np.concatenate(test.images[[4, 11, 0, 6, 1]], axis=1)  # 3 1 8 5 8
    path = out / "scoremap.png"
    with tempfile.TemporaryDirectory() as work:
        image = Path(work) / "strip.png"
        Image.fromarray(strip).resize((200, 40), Image.NEAREST).save(image)
        kvgg_command("scoremap", "--model", str(run), str(image), "-o", str(path))
    return path


def quickstart_run(work: Path) -> Path:
    """Train recipes/quickstart.yaml with `PLATEAU_OVERRIDES` (about two minutes on a CPU)."""
    run = work / "quickstart"
    overrides = [arg for value in PLATEAU_OVERRIDES for arg in ("--set", value)]
    kvgg_command("fit", "recipes/quickstart.yaml", "--run-dir", str(run), *overrides)
    return run


def kvgg_command(*args: str) -> None:
    """Run the `kvgg` command line exactly as a user would, from the repository root."""
    print("$ kvgg", *args, flush=True)
    subprocess.run([sys.executable, "-m", "kvgg", *args], cwd=ROOT, check=True)


FIGURES = {"architecture": architecture, "curves": training_curves, "scoremap": score_map}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(FIGURES), action="append")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument(
        "--run",
        type=Path,
        help="An existing quick-start run directory to draw instead of training.",
    )
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        run = None
        for name in args.only or FIGURES:
            if name == "architecture":
                path = architecture(args.out)
            else:
                run = run or (args.run.resolve() if args.run else quickstart_run(Path(work)))
                path = FIGURES[name](args.out, run)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
