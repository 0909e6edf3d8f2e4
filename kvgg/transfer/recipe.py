"""Transfer recipes (paper Appendix B) as typed dataclasses, read by `load_transfer_recipe`.

The sections are named ``*Config`` like the training recipe's (`kvgg.train.ModelConfig`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from kvgg.recipe import Check, ExistingPath, Invalid, load
from kvgg.transfer.features import DEFAULT_BATCH_SIZE, DEFAULT_COMBINE, DEFAULT_SCALES
from kvgg.transfer.svm import DEFAULT_C_VALUES

Dataset = Literal["voc2007", "voc2012", "voc2012_action", "caltech101", "caltech256"]


@dataclass
class TransferDataConfig:
    """Which benchmark, where it is, and which splits.

    Attributes:
        dataset: ``voc2007``, ``voc2012``, ``voc2012_action`` (Table 12: splits of
            ``ImageSets/Action``), ``caltech101`` or ``caltech256``.
        root: the ``VOCdevkit`` folder, or the folder holding ``101_ObjectCategories`` /
            ``256_ObjectCategories``.
        train: VOC split the SVMs are trained on.
        test: VOC split they are applied to: scored when it has annotations, and written in
            the evaluation server's format in any case.
        check_train: VOC split for an extra local check, trained on it and scored on
            ``check_test`` (VOC-2012, whose test set only the server scores); null for none.
        check_test: VOC split scored by the local check.
        seeds: Caltech: one random train/test split per seed (the paper: 3).
        split_dir: Caltech: where the split files are saved (default: beside the data).
    """

    dataset: Dataset
    root: ExistingPath
    train: str = "trainval"
    test: str = "test"
    check_train: str | None = None
    check_test: str = "val"
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    split_dir: str | None = None

    def __post_init__(self):
        if not self.seeds:
            raise Invalid("seeds", "needs at least one seed")


@dataclass
class FeatureConfig:
    """How descriptors are computed (see `kvgg.transfer.extract_features`).

    Attributes:
        scales: smallest-side sizes Q (VOC: 256..768 averaged; Caltech: 256..512 stacked).
        combine: ``average`` or ``stack`` the per-scale descriptors.
        flip: average each descriptor with the mirrored image's.
        batch_size: images per forward pass.
        cache_dir: the resumable on-disk feature cache; null for
            ``$XDG_CACHE_HOME/kvgg/features`` (``~/.cache/kvgg/features``).
    """

    scales: list[int] = field(default_factory=lambda: list(DEFAULT_SCALES))
    combine: Literal["average", "stack"] = DEFAULT_COMBINE
    flip: bool = True
    batch_size: int = DEFAULT_BATCH_SIZE
    cache_dir: str | None = None

    def __post_init__(self):
        if not self.scales or min(self.scales) < 1:
            raise Invalid("scales", "must be a non-empty list of positive sizes")
        if self.batch_size < 1:
            raise Invalid("batch_size", "must be positive")


@dataclass
class SVMConfig:
    """One-vs-rest linear SVMs (see `kvgg.transfer.fit_one_vs_rest`).

    Attributes:
        c_values: candidates for the constant C, chosen on the held-out part.
        c: a fixed C instead (skips the selection).
        holdout: fraction of the training images held out to choose C (the paper: 20%).
        seed: seed of the held-out split.
    """

    c_values: list[float] = field(default_factory=lambda: list(DEFAULT_C_VALUES))
    c: float | None = None
    holdout: float = 0.2
    seed: int = 0

    def __post_init__(self):
        if not 0 < self.holdout < 1:
            raise Invalid("holdout", "must be between 0 and 1")
        if min(self.c_values, default=0) <= 0 or (self.c is not None and self.c <= 0):
            raise Invalid("c_values", "C must be positive")


def _model_file(path) -> None:
    if not Path(path).expanduser().exists():
        raise ValueError("no such file or directory (leave a model out: --set models.KEY=null)")


ModelFile = Annotated[str, Check(_model_file, files=True)]


@dataclass
class TransferRecipe:
    """A transfer experiment: models -> features -> linear SVMs -> Table 11 numbers.

    Attributes:
        name: the experiment's name (also the default output folder's).
        data: the benchmark (`TransferDataConfig`).
        models: row label -> ``.keras`` classifier, e.g. ``{D: vgg16.keras, E: vgg19.keras}``;
            a label set to null (``--set models.E=null``) is left out, with its fusion row.
        fuse: labels of `models` whose descriptors are stacked into one more row
            (the paper's "D & E"); empty for none.
        features: descriptor settings (`FeatureConfig`).
        svm: classifier settings (`SVMConfig`).
        out_dir: where results, reports and submission files go.
    """

    name: str
    data: TransferDataConfig
    models: dict[str, ModelFile | None]
    fuse: list[str] = field(default_factory=list)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    svm: SVMConfig = field(default_factory=SVMConfig)
    out_dir: str | None = None

    def __post_init__(self):
        left_out = {label for label, path in self.models.items() if path is None}
        self.models = {label: path for label, path in self.models.items() if path is not None}
        if left_out:  # fusion of what is left, if two or more are
            fused = [label for label in self.fuse if label not in left_out]
            self.fuse = fused if len(fused) > 1 else []
        if not self.models:
            raise Invalid("models", "needs at least one model file")
        unknown = [label for label in self.fuse if label not in self.models]
        if unknown:
            raise Invalid("fuse", f"names {unknown}, which are not keys of models")
        if len(self.fuse) == 1:
            raise Invalid("fuse", "needs two or more models to stack")


def load_transfer_recipe(path: str | Path, overrides: Sequence[str] = ()) -> TransferRecipe:
    """Read a transfer recipe YAML file (``recipes/transfer/*.yaml``), with ``key=value``
    overrides.

    Example:
        Not run as a doctest: the recipe's paths (VOC, the models) must exist.

        >>> recipe = load_transfer_recipe("recipes/transfer/voc2007.yaml",  # doctest: +SKIP
        ...                               ["models.D=runs/vgg16/model.keras"])
    """
    return load(path, TransferRecipe, overrides)
