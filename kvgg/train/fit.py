"""`fit`: train a recipe into a run directory, resuming where it stopped (paper Sec. 3.1)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras

from kvgg import precision
from kvgg.io import load_model, read_info
from kvgg.recipe import to_dict
from kvgg.train import distribute
from kvgg.train.callbacks import NanGuard, ProgressBar, RunRecorder
from kvgg.train.config import TrainRecipe
from kvgg.train.recipes import load_train_recipe, task_for_recipe
from kvgg.train.run_dir import RunDirectory, environment
from kvgg.train.schedule import PlateauSchedule, PlateauState
from kvgg.train.task import Task


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the run directory keeps the last good epoch."""


@dataclass
class FitResult:
    """What a finished `fit` reports.

    Args:
        run_dir: the run directory.
        epochs: epochs completed in all (across resumes).
        monitor: the validation metric that picked ``model.keras`` (the task's: e.g.
            ``"val_top1"``, ``"val_box_accuracy"``).
        best: its best value (the epoch saved as model.keras); NaN before any epoch.
        stop_reason: ``"epochs"`` (max epochs reached) or ``"plateau"`` (the schedule's
            last plateau).
        history: one dict per epoch, as in history.csv.
        replicas: model replicas used.
        model: the trained model as of the last epoch (what ``last.keras`` holds); None
            when the run had already finished and nothing was trained.
    """

    run_dir: Path
    epochs: int
    monitor: str
    best: float
    stop_reason: str
    history: list[dict]
    replicas: int = 1
    model: keras.Model | None = None


def fit(
    recipe: TrainRecipe | str | Path,
    *,
    task: Task | None = None,
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
    ``last.keras`` (weights, optimiser and schedule state), ``model.keras`` (the best
    epoch by the task's monitored metric, in float32, loadable by a bare
    ``keras.saving.load_model``) and ``history.csv`` atomically. A NaN loss stops the run with
    `TrainingDiverged`; the files of the last good epoch stay as they were.

    Args:
        recipe: a `TrainRecipe` (or a task's recipe type) or the path of a YAML recipe.
        task: the `kvgg.train.task.Task` to train; default: the one installed for the
            recipe (classification, or localisation for a ``localization:`` section).
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
        >>> result.epochs, result.monitor, (result.run_dir / "model.keras").is_file()
        (1, 'val_top1', True)
    """
    explicit = None  # a recipe built in code: every setting is meant
    recipe_file = recipe if isinstance(recipe, str | Path) else None
    if isinstance(recipe, str | Path):
        recipe = load_train_recipe(recipe, overrides, smoke=smoke, task=task)
        explicit = {item.split("=", 1)[0].strip() for item in overrides}
    elif overrides or smoke:
        raise ValueError("`overrides` and `smoke` apply to recipe files, not to a TrainRecipe.")
    task = task or task_for_recipe(recipe)
    task.check_recipe(recipe)
    run = RunDirectory(run_dir or recipe.run_dir)
    run.check_outputs([recipe_file, recipe.model.init_from, recipe.data.color_stats])
    run.check_same_experiment(recipe, explicit)
    saved = run.resume_state()
    if saved and (saved["schedule"]["finished"] or saved["epoch"] >= recipe.schedule.epochs):
        echo(f"{run.path} already finished after {_epochs(saved['epoch'])}; nothing to do.")
        return _result(run, task, saved["history"], saved["schedule"], 1)

    replication = distribute.replicate(recipe.run.distribute)
    keras.utils.set_random_seed(recipe.run.seed)
    train_source, val_source = task.open_sources(recipe)
    stats = _color_stats(recipe.data.color_stats)
    train_data, val_data, steps = _datasets(
        recipe, task, train_source, val_source, stats, replication
    )

    jit_compile = precision.resolve_jit_compile(recipe.run.jit_compile)
    with replication.scope():
        with precision.dtype_policy(recipe.run.precision):
            model = task.build(recipe, build_model(recipe, train_source.num_classes, stats))
        if saved is None:
            _initialise(model, recipe, echo)
        model.compile(
            optimizer=precision.training_optimizer(_sgd(recipe), recipe.run.precision),
            **task.objective(recipe),
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
        monitor=task.monitor,
    )
    history = saved["history"] if saved else []
    initial_epoch = saved["epoch"] if saved else 0
    if replication.is_chief:
        run.start(recipe, environment(replication))
    recorder = RunRecorder(
        run,
        schedule,
        history,
        train_source.class_names,
        {"config": recipe.model.config, "recipe": to_dict(recipe), "scale": recipe.data.scale},
        recipe.schedule.epochs,
        task=task,
        saved_objective=_saved_objective(task, recipe),
        write=replication.is_chief,
        echo=echo,
    )
    guard = NanGuard()
    callbacks = [guard, schedule, recorder, *_tensorboard(run, echo)]
    callbacks.append(ProgressBar(steps, recipe.schedule.epochs))
    verb = "Resuming" if saved else "Training"
    echo(
        f"{verb} {recipe.name} ({task.name}, {model.name}, {model.count_params():,} parameters) "
        f"in {run.path}: {len(train_source)} training images, {len(val_source)} validation, "
        f"{steps} steps of {recipe.optimizer.batch_size} per epoch"
        f"{_compute(recipe.run.precision, jit_compile)}, {replication.description}"
        + (f", from epoch {initial_epoch + 1}" if saved else "")
    )
    with warnings.catch_warnings():
        # The validation data end when read (undecodable images dropped, so their length
        # is unknown beforehand); Keras warns that they "ran out". The training data
        # repeat forever, so no real shortage hides behind this.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(
            train_data,
            epochs=recipe.schedule.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps,
            validation_data=val_data,
            validation_steps=recipe.run.val_steps,
            callbacks=callbacks,
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
        run, task, recorder.history, schedule.state.to_dict(), replication.num_replicas, model
    )
    why = "the schedule's last plateau" if result.stop_reason == "plateau" else "schedule.epochs"
    echo(
        f"Done after {_epochs(result.epochs)} ({why}); best {task.monitor_label} "
        f"{result.best:.2%}"
        + (f", saved in {run.best}" if run.best.is_file() else "; no model.keras was saved")
    )
    return result


def _epochs(count: int) -> str:
    """ "1 epoch", "15 epochs"."""
    return f"{count} epoch{'' if count == 1 else 's'}"


def _sgd(recipe) -> keras.optimizers.SGD:
    """The paper's optimiser: SGD with momentum (weight decay is in the layers)."""
    return keras.optimizers.SGD(
        learning_rate=recipe.optimizer.lr,
        momentum=recipe.optimizer.momentum,
        nesterov=recipe.optimizer.nesterov,
    )


def _saved_objective(task, recipe):
    """A maker of ``model.keras``'s compile arguments, or None when the task keeps no
    compile state there. Its optimiser is plain SGD at the recipe's learning rate: no
    per-weight state, so the file holds the weights once and loads without a warning."""
    if task.saved_objective(recipe) is None:
        return None
    return lambda: {
        "optimizer": keras.optimizers.SGD(learning_rate=recipe.optimizer.lr),
        **task.saved_objective(recipe),
    }


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


def _result(run, task, history, schedule_state, replicas, model=None) -> FitResult:
    best = max((row[task.monitor] for row in history if task.monitor in row), default=math.nan)
    return FitResult(
        run_dir=run.path,
        epochs=len(history),
        monitor=task.monitor,
        best=best,
        stop_reason="plateau" if schedule_state["finished"] else "epochs",
        history=history,
        replicas=replicas,
        model=model,
    )


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


def _datasets(recipe, task, train_source, val_source, stats, replication):
    """(train batches, validation batches, steps per epoch): one path for every task."""
    import tensorflow as tf

    from kvgg.data import eval_dataset, train_dataset

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
        transform=task.train_transform(recipe, stats),
    )
    val = eval_dataset(
        val_source,
        batch_size=batch,
        scale=data.eval_scale,
        crop=data.crop,
        transform=task.eval_transform(recipe),
    )
    train, val = task.batches(train), task.batches(val)
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


def build_model(recipe, num_classes: int, stats=None) -> keras.Model:
    """The classifier of ``recipe.model``, the net every task starts from, as `fit`
    builds it: the recipe's crop as input size, its FC width, dropout, initialiser and
    weight decay, and the mean of the colour statistics ``stats`` inside.

    Example:
        >>> from kvgg.train import load_train_recipe
        >>> recipe = load_train_recipe("recipes/quickstart.yaml")
        >>> f"{build_model(recipe, num_classes=10).count_params():,}"
        '678,506'
    """
    import kvgg

    model = recipe.model
    extra = {"mean": [float(m) for m in stats.mean]} if stats is not None else {}
    return kvgg.build(
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


def _initialise(model, recipe, echo):
    from kvgg.train.initial_weights import init_from, warm_start

    if recipe.model.warm_start:
        copied = warm_start(model, source=recipe.model.warm_start)
        echo(f"Warm start from {recipe.model.warm_start}: copied {', '.join(copied)}")
    if recipe.model.init_from:
        copied = init_from(model, recipe.model.init_from)
        echo(f"Initialised from {recipe.model.init_from}: {len(copied)} layers")
