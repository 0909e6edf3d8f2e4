"""The paper's test protocol (Sec. 3.2): dense, multi-crop, multi-scale, fusion, metrics.

Example:
    >>> import tempfile, kvgg
    >>> from kvgg.evaluate import evaluate
    >>> from kvgg.localize.demo import pasted_objects
    >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 3 classes
    >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
    >>> report = evaluate(model, f"folder:{images}", scales=(32,), progress=False)  # dense
    >>> report.images, 0 <= report.top1_error <= 100
    (6, True)
"""

from kvgg.evaluate.dense import DenseScorer
from kvgg.evaluate.files import (
    evaluate_files,
    load_classifier,
    predict_files,
    score_map_files,
    score_map_paths,
)
from kvgg.evaluate.forward import Forward
from kvgg.evaluate.metrics import per_class_accuracy, top_k_error
from kvgg.evaluate.multicrop import MultiCropScorer, grid_crops
from kvgg.evaluate.predict import draw_score_map, load_image, predict
from kvgg.evaluate.report import METHODS, Report, evaluate
from kvgg.evaluate.scales import (
    JITTERED_SCALES,
    default_flip,
    default_scales,
    parse_scales,
    preset_scales,
)

__all__ = [
    "JITTERED_SCALES",
    "METHODS",
    "DenseScorer",
    "Forward",
    "MultiCropScorer",
    "Report",
    "default_flip",
    "default_scales",
    "draw_score_map",
    "evaluate",
    "evaluate_files",
    "grid_crops",
    "load_classifier",
    "load_image",
    "per_class_accuracy",
    "predict",
    "predict_files",
    "parse_scales",
    "preset_scales",
    "score_map_files",
    "score_map_paths",
    "top_k_error",
]
