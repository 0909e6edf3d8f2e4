"""`fit`: train a recipe into a run directory, resuming where it stopped (paper Sec. 3.1)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras

from kvgg import precision
from kvgg.io import load_model, read_info
from kvgg.localize import training as localization
from kvgg.recipe import to_dict
from kvgg.train import distribute
from kvgg.train.callbacks import NanGuard, ProgressBar, RunRecorder
from kvgg.train.config import TrainRecipe, load_train_recipe
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
        best_val_top1: best validation top-1 accuracy (the epoch saved as model.keras); for
            a localisation run, the best validation box accuracy.
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
    recipe: TrainRecipe | str | Path,
    *,
    overrides: Sequence[str] = (),
    smoke: bool = False,
    run_dir: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> FitResult:
    """Train a recipe; re-running it on the same run directory resumes the run.

    A re-run with other settings than the run's stops with an error naming them, unless
    they are given in ``overrides`` and the run is not finished (see
    `RunDirectory.check_same_experiment`): a setting silently ignored would mislabel it.

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
        >>> import tempfile
        >>> from kvgg.recipe import parse
        >>> recipe = parse({"name": "demo", "model": {"config": "A", "width": 1 / 16},
        ...                 "data": {"train": "digits", "val": "digits:test", "scale": 32,
        ...                          "crop": 32, "flip": False},
        ...                 "schedule": {"epochs": 1},  # a smoke run: 2 steps, 1 val batch
        ...                 "run": {"steps_per_epoch": 2, "val_steps": 1}}, TrainRecipe)
        >>> result = fit(recipe, run_dir=tempfile.mkdtemp(), echo=lambda line: None)
        >>> result.epochs, result.stop_reason, (result.run_dir / "model.keras").is_file()
        (1, 'epochs', True)
    """
    explicit = None  # a TrainRecipe built in code: every setting is meant
    if not isinstance(recipe, TrainRecipe):
        recipe = load_train_recipe(recipe, overrides, smoke=smoke)
        explicit = {item.split("=", 1)[0].strip() for item in overrides}
    elif overrides or smoke:
        raise ValueError("`overrides` and `smoke` apply to recipe files, not to a TrainRecipe.")
    run = RunDirectory(run_dir or recipe.run_dir)
    run.check_same_experiment(recipe, explicit)
    saved = run.resume_state()
    if saved and (saved["schedule"]["finished"] or saved["epoch"] >= recipe.schedule.epochs):
        echo(f"{run.path} already finished after {saved['epoch']} epochs; nothing to do.")
        return _result(run, saved["history"], saved["schedule"], 1)

    replication = distribute.replicate(recipe.run.distribute)
    keras.utils.set_random_seed(recipe.run.seed)
    train_source, val_source = _open_sources(recipe)
    stats = _color_stats(recipe.data.color_stats)
    train_data, val_data, steps = _datasets(recipe, train_source, val_source, stats, replication)

    jit_compile = precision.resolve_jit_compile(recipe.run.jit_compile)
    with replication.scope():
        with precision.dtype_policy(recipe.run.precision):
            model = _build(recipe, train_source.num_classes, stats)
        if saved is None:
            _initialise(model, recipe, echo)
        model.compile(
            optimizer=precision.training_optimizer(
                keras.optimizers.SGD(
                    learning_rate=recipe.optimizer.lr,
                    momentum=recipe.optimizer.momentum,
                    nesterov=recipe.optimizer.nesterov,
                ),
                recipe.run.precision,
            ),
            **_objective(recipe),
            jit_compile=jit_compile,
        )
        # Creating the optimiser's variables now, not inside the first traced train step,
        # saves TensorFlow a second trace of that step; resuming needs them to load into.
        model.optimizer.build(model.trainable_variables)
        if saved is not None:
            _load_checkpoint(model, run.last, recipe.run.precision, echo)

    schedule = PlateauSchedule(
        recipe.schedule,
        initial_lr=recipe.optimizer.lr,
        state=_resumed_schedule(run, recipe, echo),
        monitor=localization.MONITOR if recipe.localization else "val_top1",
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
        f"{recipe.optimizer.batch_size} per epoch{_compute(recipe.run.precision, jit_compile)}, "
        f"{replication.description}" + (f", from epoch {initial_epoch + 1}" if saved else "")
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
    if guard.reason is not None:
        epochs = len(recorder.history)
        kept = f"epoch {epochs} in {run.last}" if run.last.is_file() else "none was written"
        raise TrainingDiverged(
            f"Training stopped: {guard.reason}. The last good checkpoint ({kept}) is "
            f"intact. Lower optimizer.lr (now {recipe.optimizer.lr}) or check the data."
        )
    result = _result(
        run, recorder.history, schedule.state.to_dict(), replication.num_replicas, model
    )
    echo(
        f"Done after {result.epochs} epochs ({result.stop_reason}); best validation "
        f"{'box accuracy' if recipe.localization else 'top-1'} {result.best_val_top1:.2%}"
        + (f", saved in {run.best}" if run.best.is_file() else "; no model.keras was saved")
    )
    return result


def _compute(run_precision: str, jit_compile: bool) -> str:
    """ ", mixed_bfloat16 with XLA" and the like; nothing for float32 without XLA."""
    parts = [run_precision] if run_precision != "float32" else []
    parts += ["with XLA" if parts else "XLA"] if jit_compile else []
    return "".join(f", {part}" if i == 0 else f" {part}" for i, part in enumerate(parts))


def _load_checkpoint(model, path, run_precision, echo) -> None:
    """Load ``last.keras`` (weights and optimiser state) into the compiled, built `model`.

    A run resumed under another precision family (loss-scaled float16 or not) has an
    optimiser of another structure: its weights load as usual and the SGD state inside
    the saved optimiser is copied over.
    """
    saved = read_info(path).get("recipe", {}).get("run", {}).get("precision", "float32")
    if (saved == "mixed_float16") == (run_precision == "mixed_float16"):
        model.load_weights(path)
        return
    checkpoint = load_model(path, compile=True)
    model.set_weights(checkpoint.get_weights())
    precision.copy_optimizer_state(checkpoint.optimizer, model.optimizer)
    echo(f"Resuming a {saved} run in {run_precision}: weights and SGD state carried over.")


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
    best = max(
        (row.get("val_top1", row.get(localization.MONITOR, -math.inf)) for row in history),
        default=math.nan,
    )
    return FitResult(
        run_dir=run.path,
        epochs=len(history),
        best_val_top1=best,
        stop_reason="plateau" if schedule_state["finished"] else "epochs",
        history=history,
        replicas=replicas,
        model=model,
    )


def _objective(recipe) -> dict:
    """The loss and metrics of ``model.compile``: the box loss for localisation runs."""
    if recipe.localization:
        loss, metrics = localization.objective()
        return {"loss": loss, "weighted_metrics": metrics}  # crops without a box weigh 0
    return {
        "loss": keras.losses.SparseCategoricalCrossentropy(),
        "metrics": [
            keras.metrics.SparseCategoricalAccuracy(name="top1"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"),
        ],
    }


def _open_sources(recipe):
    from kvgg.data import open_source

    if recipe.localization:
        return localization.open_sources(recipe)
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
        _check_decodable(source, f"data.{key}", spec)
        sources.append(source)
    train, val = sources
    if train.class_names != val.class_names:
        raise ValueError(
            f"data.train and data.val have different classes ({train.num_classes} vs "
            f"{val.num_classes}; first names {train.class_names[:3]} vs {val.class_names[:3]})."
        )
    return train, val


def _check_decodable(source, key: str, spec) -> None:
    """Refuse a source of which no image decodes: its repeated dataset would never yield
    a batch, and training would wait forever."""
    from kvgg.data.pipeline import require_decodable

    try:
        require_decodable(source)
    except ValueError as error:
        raise ValueError(f"{key}: {error} Received: {key}={spec!r}") from None


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

    if recipe.localization:
        return localization.datasets(recipe, train_source, val_source, stats)
    data, batch = recipe.data, recipe.optimizer.batch_size
    workers, index = replication.num_workers, replication.worker_index
    # Several workers: each reads and decodes its own share of every epoch's files (not
    # every file, as tf.data's DATA auto-sharding would).
    shard = (workers, index) if workers > 1 else None
    # JAX takes each process's part of the global batch; tf.distribute splits the batch.
    local_batch = batch // workers if keras.backend.backend() == "jax" else batch
    if shard and batch % workers:
        raise ValueError(
            f"optimizer.batch_size ({batch}) must be a multiple of the number of workers "
            f"({workers}). Received: optimizer.batch_size={batch}"
        )
    train = train_dataset(
        train_source,
        batch_size=local_batch,
        scale=data.scale,
        crop=data.crop,
        flip=data.flip,
        color_stats=stats,
        seed=recipe.run.seed,
        cache=data.cache,
        repeat=True,
        shard=shard,
    )
    val = eval_dataset(val_source, batch_size=batch, scale=data.eval_scale, crop=data.crop)
    if shard and keras.backend.backend() == "jax":
        val = val.rebatch(local_batch).shard(workers, index)  # as Keras would have
    elif shard:
        train = train.with_options(_auto_shard(tf.data.experimental.AutoShardPolicy.OFF))
        val = val.with_options(_auto_shard(tf.data.experimental.AutoShardPolicy.DATA))
    steps = recipe.run.steps_per_epoch or math.ceil(len(train_source) / batch)
    return train, val, steps


def _auto_shard(policy):
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy
    return options


def _build(recipe, num_classes, stats):
    import kvgg

    model = recipe.model
    extra = {"mean": [float(m) for m in stats.mean]} if stats is not None else {}
    classifier = kvgg.build(
        model.vgg_config,
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
    return localization.localizer(classifier, recipe) if recipe.localization else classifier


def _initialise(model, recipe, echo):
    from kvgg.train.initial_weights import init_from, warm_start

    if recipe.model.warm_start:
        copied = warm_start(model, source=recipe.model.warm_start)
        echo(f"Warm start from {recipe.model.warm_start}: copied {', '.join(copied)}")
    if recipe.model.init_from:
        copied = init_from(model, recipe.model.init_from)
        echo(f"Initialised from {recipe.model.init_from}: {len(copied)} layers")
