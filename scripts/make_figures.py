"""Generate the documentation's figures from kvgg itself, on CPU, in a few minutes.

    python scripts/make_figures.py [--only architecture|curves|scoremap] [--out docs/img]
                                   [--run RUN_DIR]

- architecture.png: Table 1 drawn from `kvgg.models.CONFIGS`, with the parameter counts of
  the built models.
- training_curves.png: the quick start's real run (`kvgg fit recipes/quickstart.yaml` on
  the built-in digits), drawn by `kvgg plot`.
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
from matplotlib.patches import Patch, Rectangle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BLOCK_COLOURS = ("#4c72b0", "#55a868", "#c44e52", "#8172b2", "#937860")
HEAD_COLOUR = "#dd8452"


def architecture(out: Path) -> Path:
    """Table 1 as a figure: one row per configuration, one box per layer."""
    import keras

    import kvgg
    from kvgg.models.configs import CONFIGS, STAGE_FILTERS

    fig, ax = plt.subplots(figsize=(13, 4.6))
    rows = list(CONFIGS.values())
    for row, cfg in enumerate(rows):
        y = len(rows) - 1 - row
        x = 0.0
        for block, kernels in enumerate(cfg.kernels):
            for index, kernel in enumerate(kernels):
                _box(ax, x, y, 0.9, BLOCK_COLOURS[block], f"{kernel}x{kernel}")
                x += 1.0
                if cfg.lrn and block == 0 and index == 0:
                    _box(ax, x, y, 0.9, "#cccccc", "LRN", text_colour="black")
                    x += 1.0
            ax.add_patch(Rectangle((x - 0.05, y - 0.32), 0.12, 0.64, color="black"))
            x += 0.3
        for units in ("4096", "4096", "1000"):
            _box(ax, x, y, 1.5, HEAD_COLOUR, f"FC-{units}")
            x += 1.6
        model = kvgg.build(cfg.name)
        params = model.count_params()
        keras.utils.clear_session()
        ax.text(-0.4, y, f"{cfg.name}  ({cfg.model_name})", ha="right", va="center", fontsize=11)
        ax.text(
            x + 0.2,
            y,
            f"{cfg.weight_layers} weight layers\n{params:,} params",
            va="center",
            fontsize=9,
        )
    legend = [
        Patch(color=colour, label=f"block {block + 1}: {filters} channels")
        for block, (colour, filters) in enumerate(zip(BLOCK_COLOURS, STAGE_FILTERS, strict=True))
    ]
    legend += [Patch(color=HEAD_COLOUR, label="FC layer"), Patch(color="black", label="max-pool")]
    ax.legend(
        handles=legend, loc="lower center", ncol=7, frameon=False, bbox_to_anchor=(0.5, -0.12)
    )
    ax.set_xlim(-4, 27)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.axis("off")
    ax.set_title("Table 1: the six VGG configurations (kvgg.models.CONFIGS)", fontsize=13)
    path = out / "architecture.png"
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path


def _box(ax, x, y, width, colour, label, text_colour="white"):
    ax.add_patch(Rectangle((x, y - 0.32), width, 0.64, color=colour))
    ax.text(x + width / 2, y, label, ha="center", va="center", fontsize=7, color=text_colour)


def training_curves(out: Path, run: Path) -> Path:
    """The quick-start run's curves, drawn by `kvgg plot`."""
    path = out / "training_curves.png"
    kvgg_command("plot", str(run), "--output", str(path))
    return path


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
        kvgg_command("scoremap", "--model", str(run), str(image), "--out", str(path))
    return path


def quickstart_run(work: Path) -> Path:
    """Train recipes/quickstart.yaml as the quick start does (about two minutes on a CPU)."""
    run = work / "quickstart"
    kvgg_command("fit", "recipes/quickstart.yaml", "--run-dir", str(run))
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
