"""The choices of `kvgg export`, in a module that imports nothing (the CLI reads them at
start-up without loading TensorFlow)."""

FORMATS = {  # format -> the suffix of its artifact ("" for a SavedModel's folder)
    "onnx": ".onnx",
    "openvino": ".xml",
    "saved_model": "",
    "litert": ".tflite",
}
PRECISIONS = ("float32", "bfloat16")  # what a runtime computes in (bfloat16: OpenVINO's CPU)


def check_precision(precision: str) -> str:
    """`precision` if it is one of `PRECISIONS`, else a ValueError naming it.

    Example:
        >>> check_precision("bfloat16")
        'bfloat16'
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"--precision must be one of {', '.join(PRECISIONS)}. Received: {precision!r}"
        )
    return precision
