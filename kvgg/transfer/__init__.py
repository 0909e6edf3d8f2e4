"""Transfer (paper Appendix B): VGG descriptors, linear SVMs, VOC mAP and Caltech recall.

Example:
    Not run as a doctest: it needs PASCAL VOC on disk and ImageNet-trained models.

    >>> from kvgg.transfer import load_transfer_recipe, run_transfer
    >>> results = run_transfer("recipes/transfer/voc2007.yaml", ["models.D=vgg16.keras"])
    ... # doctest: +SKIP
"""

from kvgg.transfer.experiment import run_transfer, write_voc_results
from kvgg.transfer.features import (
    CALTECH_SCALES,
    DEFAULT_BATCH_SIZE,
    DEFAULT_COMBINE,
    DEFAULT_SCALES,
    VOC_SCALES,
    default_cache_dir,
    descriptor_model,
    extract_features,
    extract_features_file,
    fuse,
    l2_normalize,
    model_fingerprint,
    save_features,
)
from kvgg.transfer.metrics import (
    mean_class_recall,
    precision_recall,
    voc_average_precision,
    voc_mean_average_precision,
)
from kvgg.transfer.recipe import TransferRecipe, load_transfer_recipe
from kvgg.transfer.report import PAPER_TABLE_11, format_markdown, table_11, write_report
from kvgg.transfer.svm import LinearSVMs, fit_one_vs_rest

__all__ = [
    "CALTECH_SCALES",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_COMBINE",
    "DEFAULT_SCALES",
    "PAPER_TABLE_11",
    "VOC_SCALES",
    "LinearSVMs",
    "TransferRecipe",
    "default_cache_dir",
    "descriptor_model",
    "extract_features",
    "extract_features_file",
    "fit_one_vs_rest",
    "format_markdown",
    "fuse",
    "l2_normalize",
    "load_transfer_recipe",
    "mean_class_recall",
    "model_fingerprint",
    "precision_recall",
    "run_transfer",
    "save_features",
    "table_11",
    "voc_average_precision",
    "voc_mean_average_precision",
    "write_report",
    "write_voc_results",
]
