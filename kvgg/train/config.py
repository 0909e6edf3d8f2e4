"""The training recipe: typed sections (model, data, optimizer, schedule, run) read from YAML.

Every field has the paper's value as its default where the paper gives one (Sec. 3.1), so
a recipe file only states what differs. `kvgg.train.recipes.load_train_recipe` reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kvgg.models.configs import INPUT_SIZE, STRIDE
from kvgg.precision import Precision
from kvgg.recipe import DataSource, ExistingPath, Invalid


@dataclass
class ModelConfig:
    """Arguments of `kvgg.build`, plus where the initial weights come from.

    Args:
        config: "A", "A-LRN", "B", "C", "D", "E" or an alias ("vgg16"); with `stages`, the
            name of a configuration outside Table 1 (e.g. "B-5x5").
        stages: a configuration outside Table 1: per stage, a list of ``[kernel, filters]``
            convolutions, each stage ending with a 2x2 max-pool (`kvgg.models.custom_config`).
        width: multiplier on every hidden width (1/4: a small VGG for 32x32 datasets).
        batch_norm: batch normalisation after every convolution (VGG-BN).
        dropout: dropout after FC-1 and FC-2 (paper: 0.5).
        init: ``glorot_uniform`` (or any Keras initializer name), or a number: the std
            of the paper's zero-mean normal init (text: variance 1e-2, std 0.1; released
            Caffe models: 0.01).
        weight_decay: Caffe semantics, ``weight_decay * w`` added to each gradient
            (paper: 5e-4); kvgg.build turns it into ``L2(weight_decay / 2)``.
        fc_units: units of FC-1/FC-2; default ``4096 * width``.
        warm_start: net A to start from, the paper's way: its first four conv layers and
            its three FC layers are copied (a ``.keras`` file or a run directory).
        init_from: weights to start from by layer name (``.keras``, ``.weights.h5`` or a
            run directory, whose ``model.keras`` is used): the parent run of a chain.
    """

    config: str = "D"
    stages: tuple[tuple[tuple[int, int], ...], ...] | None = None
    width: float = 1.0
    batch_norm: bool = False
    dropout: float = 0.5
    init: str | float = "glorot_uniform"
    weight_decay: float = 5e-4
    fc_units: int | None = None
    warm_start: ExistingPath | None = None
    init_from: ExistingPath | None = None

    def __post_init__(self):
        from kvgg.models import custom_config, get_config

        if self.stages is not None:
            try:
                custom_config(self.config, self.stages)
            except ValueError as error:
                reason = str(error).split(" Received:")[0].rstrip(".")
                raise Invalid("stages", f"is invalid: {reason[0].lower()}{reason[1:]}") from None
        else:
            try:
                get_config(self.config)
            except ValueError:
                raise Invalid(
                    "config",
                    "is not a configuration of Table 1 (A ... E); give model.stages "
                    "for another one",
                ) from None
        if not self.width > 0:
            raise Invalid("width", "must be positive")
        if self.fc_units is not None and self.fc_units < 1:
            raise Invalid("fc_units", "must be a positive integer (or null for 4096 * width)")
        if not 0 <= self.dropout < 1:
            raise Invalid("dropout", "must be in [0, 1)")
        if isinstance(self.init, float) and not self.init > 0:
            raise Invalid("init", "as a number (the normal init's std) must be positive")
        if self.weight_decay < 0:
            raise Invalid("weight_decay", "must be >= 0")
        if self.warm_start and self.init_from:
            raise Invalid("init_from", "cannot be combined with model.warm_start; pick one")

    @property
    def vgg_config(self):
        """The `kvgg.models.VGGConfig` to build: Table 1's column, or the custom `stages`."""
        from kvgg.models import custom_config, get_config

        if self.stages is not None:
            return custom_config(self.config, self.stages)
        return get_config(self.config)


@dataclass
class DataConfig:
    """Where the images come from and how they are augmented (paper Sec. 3.1).

    Args:
        train: the training source, any `kvgg.data.open_source` spec: a mapping
            (``{kind: folder, path: ...}``) or a string (``digits``, ``folder:PATH``).
        val: the validation source (its top-1 accuracy drives the schedule).
        scale: the training scale S (smallest side after isotropic rescaling), or
            ``[S_min, S_max]`` for scale jittering (a scale drawn per image).
        crop: side of the random training crop (paper: 224).
        flip: random horizontal flips.
        color_stats: the colour shift's statistics (AlexNet PCA lighting): ``imagenet``,
            a JSON file written by ``kvgg data stats``, or null for no colour shift. Its
            mean is also what the model subtracts; without it, ImageNet's mean.
        val_scale: validation images are rescaled to this smallest side, then
            centre-cropped to ``crop``; default: S (the middle of the range when jittering).
        cache: keep the encoded training images in memory after the first epoch
            (saves the disk reads; datasets that fit in memory).
    """

    train: DataSource = "digits"
    val: DataSource = "digits:test"
    scale: int | tuple[int, int] = 256
    crop: int = INPUT_SIZE
    flip: bool = True
    color_stats: str | None = None
    val_scale: int | None = None
    cache: bool = False

    def __post_init__(self):
        if self.crop < STRIDE:
            raise Invalid("crop", f"must be at least {STRIDE} (five 2x2 max-pools)")
        smallest = self.scale[0] if isinstance(self.scale, tuple) else self.scale
        if isinstance(self.scale, tuple) and self.scale[0] > self.scale[1]:
            raise Invalid("scale", "must be [S_min, S_max] with S_min <= S_max")
        if smallest < self.crop:
            raise Invalid(
                "crop",
                f"must not exceed the (smallest) training scale S = {smallest}: the crop is "
                "taken from the rescaled image",
            )
        if self.val_scale is not None and self.val_scale < self.crop:
            raise Invalid("val_scale", f"must be at least the crop size ({self.crop})")

    @property
    def eval_scale(self) -> int:
        """The validation scale: `val_scale`, else S (the middle of a jittering range)."""
        if self.val_scale is not None:
            return self.val_scale
        if isinstance(self.scale, tuple):
            return (self.scale[0] + self.scale[1]) // 2
        return self.scale


@dataclass
class OptimizerConfig:
    """Mini-batch SGD with momentum (paper: batch 256, momentum 0.9, lr 1e-2).

    Args:
        lr: initial learning rate (1e-3 when fine-tuning from a parent run).
        momentum: SGD momentum.
        nesterov: Nesterov momentum (not the paper's).
        batch_size: the global batch, split across replicas; the learning rate is the
            same for the same global batch whatever the number of replicas.
    """

    lr: float = 1e-2
    momentum: float = 0.9
    nesterov: bool = False
    batch_size: int = 256

    def __post_init__(self):
        if not self.lr > 0:
            raise Invalid("lr", "must be positive")
        if not 0 <= self.momentum < 1:
            raise Invalid("momentum", "must be in [0, 1)")
        if self.batch_size < 1:
            raise Invalid("batch_size", "must be a positive integer")


@dataclass
class ScheduleConfig:
    """Divide the learning rate when validation top-1 accuracy stops improving.

    The paper divides it by 10 three times and stops; here a plateau reached after
    `max_reductions` reductions ends the run, as does reaching `epochs`.

    Args:
        epochs: most epochs to train (paper: 74).
        factor: multiplier applied to the learning rate at a plateau.
        patience: epochs without improvement that make a plateau.
        min_delta: smallest rise in validation accuracy that counts as improvement.
        max_reductions: reductions before the next plateau stops training (paper: 3).
    """

    epochs: int = 74
    factor: float = 0.1
    patience: int = 2
    min_delta: float = 0.0
    max_reductions: int = 3

    def __post_init__(self):
        if self.epochs < 1:
            raise Invalid("epochs", "must be a positive integer")
        if not 0 < self.factor < 1:
            raise Invalid("factor", "must be in (0, 1)")
        if self.patience < 1:
            raise Invalid("patience", "must be a positive integer")
        if self.min_delta < 0:
            raise Invalid("min_delta", "must be >= 0")
        if self.max_reductions < 0:
            raise Invalid("max_reductions", "must be >= 0")


@dataclass
class RunConfig:
    """Where and how the run executes.

    Args:
        dir: run directory (checkpoints, history, logs); default ``runs/<name>``.
        seed: seed of the initial weights and of the augmentation.
        distribute: ``auto`` (all local GPUs; every worker of TF_CONFIG), ``none``,
            ``mirrored`` (tf.distribute.MirroredStrategy, or keras.distribution.DataParallel
            on JAX) or ``multi_worker`` (MultiWorkerMirroredStrategy with TF_CONFIG).
        jit_compile: XLA compilation of the train step: true, false or ``auto`` (what
            measured fastest for the backend and device: `kvgg.precision.AUTO_JIT`).
        precision: ``float32``, ``mixed_bfloat16`` (GPUs from Ampere on, TPUs) or
            ``mixed_float16`` (with loss scaling): layers compute in 16 bits, variables,
            soft-max, loss and metrics stay float32 (`kvgg.precision`). Saved models
            predict in float32 whatever the run's precision.
        steps_per_epoch: cap on the steps of an epoch (smoke runs); default: one pass.
        val_steps: cap on validation batches; default: the whole validation set.
    """

    dir: str | None = None
    seed: int = 0
    distribute: Literal["auto", "none", "mirrored", "multi_worker"] = "auto"
    jit_compile: bool | Literal["auto"] = "auto"
    precision: Precision = "float32"
    steps_per_epoch: int | None = None
    val_steps: int | None = None

    def __post_init__(self):
        for name in ("steps_per_epoch", "val_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise Invalid(name, "must be a positive integer or null")


@dataclass
class TrainRecipe:
    """A training experiment: one YAML file under ``recipes/``.

    Args:
        name: the experiment's name (default run directory ``runs/<name>``).
        model: `ModelConfig`.
        data: `DataConfig`.
        optimizer: `OptimizerConfig`.
        schedule: `ScheduleConfig`.
        run: `RunConfig`.
        smoke: dotted overrides (``model.width: 0.0625``) that turn the recipe into a
            tiny local run (``kvgg fit RECIPE --smoke``), used by the tests.
    """

    name: str
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    run: RunConfig = field(default_factory=RunConfig)
    smoke: dict[str, Any] = field(default_factory=dict)

    @property
    def run_dir(self) -> str:
        """The run directory: ``run.dir``, else ``runs/<name>``."""
        return self.run.dir or f"runs/{self.name}"
