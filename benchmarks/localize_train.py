"""A localisation training step against a classification step of the same net and batch.

Both go through what `kvgg fit` runs: the task's model (`Task.build`: the classifier, or
the classifier with its box layer), its loss and metrics (`Task.objective`), and the
shared training pipeline (`kvgg.data.train_dataset` with the task's per-image transform:
the paper's crop and flip, moving the boxes along for localisation), reading the same
JPEGs (the pasted-objects images, with their XML boxes for localisation). Each round runs
``--steps`` steps of ``model.fit`` per task after one untimed warm-up epoch, tasks
alternating in ABBA order; the medians give the ratio localisation / classification
(goal: at most 1.1x), with ``data.cache`` off and on.

    python benchmarks/localize_train.py [--config D] [--width 0.25] [--crop 64] [--batch 16]
    python benchmarks/localize_train.py --quick        # a tiny smoke run (the tests run it)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from kvgg.data import image_folder  # noqa: E402
from kvgg.localize.annotations import box_folder  # noqa: E402
from kvgg.localize.demo import pasted_objects  # noqa: E402
from kvgg.localize.task import LOCALIZATION, LocalizationRecipe  # noqa: E402
from kvgg.recipe import parse  # noqa: E402
from kvgg.train import TrainRecipe, build_model  # noqa: E402
from kvgg.train.classification import CLASSIFICATION  # noqa: E402


def trainer(task, recipe_type, source, args, cache):
    """A model and its endless training batches, built as `kvgg fit` builds them."""
    from kvgg.data import train_dataset

    recipe = parse(
        {
            "name": task.name,
            "model": {"config": args.config, "width": args.width},
            "data": {"scale": args.crop + args.crop // 8, "crop": args.crop, "cache": cache},
            "optimizer": {"batch_size": args.batch, "lr": 0.001},
        },
        recipe_type,
    )
    model = task.build(recipe, build_model(recipe, source.num_classes))
    model.compile(optimizer=keras.optimizers.SGD(0.001, momentum=0.9), **task.objective(recipe))
    data = train_dataset(
        source,
        batch_size=args.batch,
        scale=recipe.data.scale,
        crop=recipe.data.crop,
        seed=0,
        cache=cache,
        repeat=True,
        transform=task.train_transform(recipe, None),
    )
    data = task.batches(data)
    model.fit(
        data, steps_per_epoch=args.steps, epochs=1, verbose=0, shuffle=False
    )  # warm-up: traces

    def run() -> float:
        start = time.perf_counter()
        model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0, shuffle=False)
        return (time.perf_counter() - start) / args.steps

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="D")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=40, help="per class (3 classes)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.width, args.crop, args.batch = 1 / 16, 32, 4
        args.steps, args.rounds, args.images = 2, 2, 4
    root = tempfile.mkdtemp()
    images, annotations = pasted_objects(
        root, per_class=args.images, size=(args.crop * 3 // 2, args.crop * 2)
    )
    print(
        f"{args.config} at width {args.width:g}, {args.crop}x{args.crop} crops, batch "
        f"{args.batch}, {args.steps} steps a round, {args.rounds} rounds (ABBA), "
        f"{keras.backend.backend()}"
    )
    for cache in (False, True):
        classify = trainer(CLASSIFICATION, TrainRecipe, image_folder(images), args, cache)
        localize = trainer(
            LOCALIZATION, LocalizationRecipe, box_folder(images, annotations), args, cache
        )
        times = {"classification": [], "localisation": []}
        for round_ in range(args.rounds):
            order = [classify, localize] if round_ % 2 == 0 else [localize, classify]
            for run in order:
                name = "classification" if run is classify else "localisation"
                times[name].append(run())
        medians = {name: statistics.median(values) for name, values in times.items()}
        ratio = medians["localisation"] / medians["classification"]
        print(
            f"data.cache={str(cache).lower():5}  classification "
            f"{medians['classification'] * 1e3:7.1f} ms/step  localisation "
            f"{medians['localisation'] * 1e3:7.1f} ms/step  "
            f"ratio localisation / classification: {ratio:.2f}x"
        )


if __name__ == "__main__":
    main()
