"""`fit`: train a recipe into a run directory, resuming where it stopped (paper Sec. 3.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import keras

from kvgg.io import read_info
from kvgg.recipe import to_dict
from kvgg.train import distribute
from kvgg.train.callbacks import NanGuard, ProgressBar, RunRecorder
from kvgg.train.config import TrainRecipe, load_recipe
from kvgg.train.run_dir import RunDirectory, environment
from kvgg.train.schedule import PlateauSchedule, PlateauState


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the run directory keeps the last good epoch."""


@dataclass
class FitResult:
    """What a finished `fit` reports.

    Args:
        run_dir: the run directory.
        epochs: epochs completed in all (across resumes).
        best_val_top1: best validation top-1 accuracy (the epoch saved as model.keras).
        stop_reason: ``"epochs"`` (max epochs reached) or ``"plateau"`` (the schedule's
            last plateau).
        history: one dict per epoch, as in history.csv.
        replicas: model replicas used.
        model: the trained model as of the last epoch (what ``last.keras`` holds); None
            when the run had already finished and nothing was trained.
    """

    run_dir: Path
    epochs: int
    best_val_top1: float
    stop_reason: str
    history: list[dict]
    replicas: int = 1
    model: keras.Model | None = None


def fit(
    recipe,
    *,
    overrides=(),
    smoke: bool = False,
    run_dir=None,
    echo=print,
) -> FitResult:
    """Train a recipe; re-running it on the same run directory resumes the run.

    Before anything is written, the recipe, its data sources and its initial weights are
    checked, so a bad input leaves no run directory behind. Each completed epoch updates
    ``last.keras`` (weights, optimiser and schedule state), ``model.keras`` (best
    validation top-1) and ``history.csv`` atomically. A NaN loss stops the run with
    `TrainingDiverged`; the files of the last good epoch stay as they were.

    Args:
        recipe: a `TrainRecipe` or the path of a YAML recipe.
        overrides: ``["optimizer.lr=0.001", ...]`` applied to a recipe file.
        smoke: apply the recipe's ``smoke`` overrides (a tiny local run).
        run_dir: overrides the recipe's run directory.
        echo: prints the progress lines (one per epoch); ``lambda line: None`` silences.

    Returns:
        A `FitResult`.

    Example:
        >>> result = fit("recipes/quickstart.yaml", overrides=["schedule.epochs=1"],
        ...              run_dir="/tmp/quick")  # doctest: +SKIP
        >>> result.best_val_top1 > 0.5  # doctest: +SKIP
        True
    """
    if not isinstance(recipe, TrainRecipe):
        recipe = load_recipe(recipe, overrides, smoke=smoke)
    elif overrides or smoke:
        raise ValueError("`overrides` and `smoke` apply to recipe files, not to a TrainRecipe.")
    run = RunDirectory(run_dir or recipe.run_dir)
    run.check_same_experiment(recipe)
    saved = run.resume_state()
    if saved and (saved["schedule"]["finished"] or saved["epoch"] >= recipe.schedule.epochs):
        echo(f"{run.path} already finished after {saved['epoch']} epochs; nothing to do.")
        return _result(run, saved["history"], saved["schedule"], 1)

    replication = distribute.replicate(recipe.run.distribute)
    keras.utils.set_random_seed(recipe.run.seed)
    train_source, val_source = _open_sources(recipe)
    stats = _color_stats(recipe.data.color_stats)
    train_data, val_data, steps = _datasets(recipe, train_source, val_source, stats, replication)

    with replication.scope():
        model = _build(recipe, train_source.num_classes, stats)
        if saved is None:
            _initialise(model, recipe, echo)
        model.compile(
            optimizer=keras.optimizers.SGD(
                learning_rate=recipe.optimizer.lr,
                momentum=recipe.optimizer.momentum,
                nesterov=recipe.optimizer.nesterov,
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="top1"),
                keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"),
            ],
            jit_compile=recipe.run.jit_compile,
        )
        # Creating the optimiser's variables now, not inside the first traced train step,
        # saves TensorFlow a second trace of that step; resuming needs them to load into.
        model.optimizer.build(model.trainable_variables)
        if saved is not None:
            model.load_weights(run.last)

    schedule = PlateauSchedule(
        recipe.schedule, initial_lr=recipe.optimizer.lr, state=_resumed_schedule(run, recipe, echo)
    )
    history = saved["history"] if saved else []
    initial_epoch = saved["epoch"] if saved else 0
    if replication.is_chief:
        run.start(recipe, environment(replication))
    info = {"config": recipe.model.config, "recipe": to_dict(recipe), "scale": recipe.data.scale}
    recorder = RunRecorder(
        run,
        schedule,
        history,
        train_source.class_names,
        info,
        recipe.schedule.epochs,
        write=replication.is_chief,
        echo=echo,
    )
    guard = NanGuard()
    verb = "Resuming" if saved else "Training"
    echo(
        f"{verb} {recipe.name} ({model.name}, {model.count_params():,} parameters) in {run.path}: "
        f"{len(train_source)} training images, {len(val_source)} validation, {steps} steps of "
        f"{recipe.optimizer.batch_size} per epoch, {replication.description}"
        + (f", from epoch {initial_epoch + 1}" if saved else "")
    )
    model.fit(
        train_data,
        epochs=recipe.schedule.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps,
        validation_data=val_data,
        validation_steps=recipe.run.val_steps,
        callbacks=[
            guard,
            schedule,
            recorder,
            *_tensorboard(run, echo),
            ProgressBar(steps, recipe.schedule.epochs),
        ],
        shuffle=False,  # the dataset shuffles itself
        verbose=0,
    )
    if guard.where is not None:
        epoch, batch = guard.where
        kept = f"epoch {epoch - 1} in {run.last}" if epoch > 1 else "no epoch yet"
        raise TrainingDiverged(
            f"The loss became NaN or infinite at epoch {epoch}, batch {batch}; training "
            f"stopped. The last good checkpoint ({kept}) is intact. Lower optimizer.lr "
            f"(now {recipe.optimizer.lr}) or check the data."
        )
    result = _result(
        run, recorder.history, schedule.state.to_dict(), replication.num_replicas, model
    )
    echo(
        f"Done after {result.epochs} epochs ({result.stop_reason}); best validation top-1 "
        f"{result.best_val_top1:.2%}, saved in {run.best}"
    )
    return result


def _resumed_schedule(run, recipe, echo) -> PlateauState | None:
    """The saved schedule state; a changed optimizer.lr in the recipe replaces the saved lr."""
    saved = run.resume_state()
    if saved is None:
        return None
    state = PlateauState.from_dict(saved["schedule"])
    saved_lr = read_info(run.last).get("recipe", {}).get("optimizer", {}).get("lr")
    if saved_lr is not None and saved_lr != recipe.optimizer.lr:
        echo(f"optimizer.lr changed from {saved_lr} to {recipe.optimizer.lr}: resuming with it.")
        state.lr = recipe.optimizer.lr
    return state


def _tensorboard(run, echo) -> list:
    try:
        import tensorboard  # noqa: F401  (tf.summary needs it)
    except ImportError:
        echo("TensorBoard logs skipped: `pip install tensorboard` to get them.")
        return []
    return [keras.callbacks.TensorBoard(run.tensorboard, write_graph=False)]


def _result(run, history, schedule_state, replicas, model=None) -> FitResult:
    best = max((row.get("val_top1", -math.inf) for row in history), default=math.nan)
    return FitResult(
        run_dir=run.path,
        epochs=len(history),
        best_val_top1=best,
        stop_reason="plateau" if schedule_state["finished"] else "epochs",
        history=history,
        replicas=replicas,
        model=model,
    )


def _open_sources(recipe):
    from kvgg.data import open_source

    sources = []
    for key in ("train", "val"):
        spec = getattr(recipe.data, key)
        try:
            source = open_source(spec)
        except (ValueError, FileNotFoundError, NotADirectoryError) as error:
            raise ValueError(f"data.{key}: {error} Received: data.{key}={spec!r}") from None
        if source.labels.ndim != 1:
            raise ValueError(
                f"data.{key}: {source.name} is multi-label; kvgg fit trains single-label "
                f"classifiers (use kvgg transfer for VOC). Received: data.{key}={spec!r}"
            )
        sources.append(source)
    train, val = sources
    if train.class_names != val.class_names:
        raise ValueError(
            f"data.train and data.val have different classes ({train.num_classes} vs "
            f"{val.num_classes}; first names {train.class_names[:3]} vs {val.class_names[:3]})."
        )
    return train, val


def _color_stats(spec):
    from kvgg.data.stats import IMAGENET_STATS, ColorStats

    if spec is None:
        return None
    if spec == "imagenet":
        return IMAGENET_STATS
    try:
        return ColorStats.load(spec)
    except (ValueError, FileNotFoundError) as error:
        raise ValueError(f"data.color_stats: {error} Received: data.color_stats={spec!r}") from None


def _datasets(recipe, train_source, val_source, stats, replication):
    import tensorflow as tf

    from kvgg.data import eval_dataset, train_dataset

    data, batch = recipe.data, recipe.optimizer.batch_size
    train = train_dataset(
        train_source,
        batch_size=batch,
        scale=data.scale,
        crop=data.crop,
        flip=data.flip,
        color_stats=stats,
        seed=recipe.run.seed,
        cache=data.cache,
        repeat=True,
    )
    val = eval_dataset(val_source, batch_size=batch, scale=data.eval_scale, crop=data.crop)
    if replication.mode == "multi_worker":
        options = tf.data.Options()
        shard_by = tf.data.experimental.AutoShardPolicy.DATA
        options.experimental_distribute.auto_shard_policy = shard_by
        train, val = train.with_options(options), val.with_options(options)
    steps = recipe.run.steps_per_epoch or math.ceil(len(train_source) / batch)
    return train, val, steps


def _build(recipe, num_classes, stats):
    import kvgg

    model = recipe.model
    extra = {"mean": [float(m) for m in stats.mean]} if stats is not None else {}
    return kvgg.build(
        model.config,
        num_classes=num_classes,
        input_shape=(recipe.data.crop, recipe.data.crop, 3),
        dropout=model.dropout,
        width=model.width,
        fc_units=model.fc_units,
        batch_norm=model.batch_norm,
        kernel_initializer=model.init,
        weight_decay=model.weight_decay,
        **extra,
    )


def _initialise(model, recipe, echo):
    from kvgg.models.surgery import warm_start
    from kvgg.train.initial_weights import init_from

    if recipe.model.warm_start:
        copied = warm_start(model, recipe.model.warm_start)
        echo(f"Warm start from {recipe.model.warm_start}: copied {', '.join(copied)}")
    if recipe.model.init_from:
        copied = init_from(model, recipe.model.init_from)
        echo(f"Initialised from {recipe.model.init_from}: {len(copied)} layers")
