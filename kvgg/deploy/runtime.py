"""Run an exported model in its own runtime, chosen by the path: ``.onnx`` (ONNX Runtime),
``.xml`` (OpenVINO), ``.tflite`` (LiteRT), a SavedModel folder (TensorFlow).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kvgg.deploy.formats import LITERT_METADATA, METADATA_ASSET, OPENVINO_SECTION
from kvgg.deploy.graph import INPUT_NAME
from kvgg.deploy.metadata import DENSE_SCORES, decode

EXPORTED_SUFFIXES = (".onnx", ".xml", ".tflite")


def is_exported(path: str | os.PathLike) -> bool:
    """Whether ``path`` names an exported model rather than a ``.keras`` file or run folder.

    Example:
        >>> is_exported("vgg.onnx"), is_exported("vgg.keras")
        (True, False)
    """
    path = Path(path)
    return path.suffix in EXPORTED_SUFFIXES or (path / "saved_model.pb").is_file()


class ExportedModel:
    """An exported kvgg model in its runtime: call it on images, read its metadata.

    Attributes:
        path: the artifact.
        runtime: ``"onnxruntime"``, ``"openvino"``, ``"tensorflow"`` or ``"litert"``.
        metadata: what kvgg stored in it (`kvgg.deploy.metadata.artifact_metadata`).
    """

    def __init__(self, path: Path, runtime: str, run: Callable, metadata: dict):
        self.path, self.runtime, self.metadata, self._run = path, runtime, metadata, run

    def __call__(self, images) -> dict[str, np.ndarray]:
        """Outputs by name for a batch of RGB images in [0, 255], (B, H, W, 3)."""
        return self._run(np.ascontiguousarray(images, dtype=np.float32))

    def __repr__(self) -> str:
        return f"ExportedModel({str(self.path)!r}, runtime={self.runtime!r})"

    # What kvgg's evaluation protocol reads of a classifier (`kvgg.evaluate`), for a dense
    # export: its name, trained input and output shapes, and the class-score map.

    @property
    def name(self) -> str:
        return self.path.stem if self.path.suffix else self.path.name

    @property
    def input_shape(self) -> tuple:
        height, width = self.metadata.get("trained_input_size", [None, None])
        return (None, height, width, 3)

    @property
    def output_shape(self) -> tuple:
        return (None, len(self.metadata.get("class_names", [])))

    @property
    def window(self) -> tuple[int, int]:
        """The map's window in block-5 cells: FC-1's kernel (7x7 for a 224x224 classifier)."""
        from kvgg.models.configs import STRIDE

        return tuple(side // STRIDE for side in self.input_shape[1:3])

    def score_map(self, images) -> np.ndarray:
        """The class-score map (B, rows, cols, classes) of a dense classifier export."""
        return self(images)[DENSE_SCORES]


def load_exported(path: str | os.PathLike, *, threads: int | None = None) -> ExportedModel:
    """Open an exported model in the runtime its path names.

    Args:
        path: a ``.onnx``, ``.xml`` (OpenVINO, with its ``.bin``) or ``.tflite`` file, or
            a SavedModel folder, written by `kvgg.export`.
        threads: CPU threads the runtime may use (default: the runtime's own choice).

    Raises:
        ValueError: a file of another kind, or one the runtime cannot read.
        FileNotFoundError: nothing at ``path``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No exported model at {str(path)!r}.")
    if path.is_dir() and not (path / "saved_model.pb").is_file():
        raise ValueError(f"{str(path)!r} is a folder without a saved_model.pb.")
    loader = _LOADERS.get("saved_model" if path.is_dir() else path.suffix)
    if loader is None:
        raise ValueError(
            f"{str(path)!r} is not an exported model: expected .onnx, .xml, .tflite or a "
            "SavedModel folder."
        )
    try:
        return loader(path, threads)
    except ImportError as error:
        raise ValueError(
            f"Running {str(path)!r} needs {error.name}: pip install 'kvgg[export]'."
        ) from error
    except (ValueError, OSError):
        raise
    except Exception as error:  # runtimes raise their own types for foreign/damaged files
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"Could not load {str(path)!r}: {first}") from error


def load_exported_classifier(path: str | os.PathLike) -> tuple[ExportedModel, list[str], dict]:
    """A dense classifier export for `kvgg evaluate` / `kvgg predict`: (model, class names,
    the evaluation defaults as a `.keras` file's metadata has them).

    Raises:
        ValueError: the artifact is not a dense classifier export (the paper's protocol
            scores whole images at several scales: it needs ``kvgg export --dense``).
    """
    model = load_exported(path)
    meta = model.metadata
    if not meta.get("dense") or DENSE_SCORES not in meta.get("outputs", []):
        raise ValueError(
            f"{str(path)!r} is not a dense classifier export: the paper's protocol scores "
            "whole images at several scales; export it with `kvgg export --dense`."
        )
    info = {
        "config": meta.get("config"),
        "scale": meta.get("scale"),
        "recipe": {"data": {"flip": meta.get("flip", True)}},
    }
    return model, list(meta["class_names"]), info


def onnx_session_options(threads: int | None = None):
    """ONNX Runtime's session options for an artifact: all graph optimisations (the
    default), ``threads`` intra-op threads (default: one per core), and no spin-waiting.

    Threads that spin while waiting for work hold cores that other work needs: on a
    shared 2-core CPU, VGG16 (width 1/2, batch 8) served 0.85x Keras's throughput with
    spinning and 0.98x without (`benchmarks/serve.py`, one interleaved run).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return options


def _onnx(path: Path, threads):
    import onnxruntime

    options = onnx_session_options(threads)
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    metadata = decode(session.get_modelmeta().custom_metadata_map)

    def run(images):
        return dict(zip(names, session.run(names, {INPUT_NAME: images}), strict=True))

    return ExportedModel(path, "onnxruntime", run, metadata)


def openvino_config(precision: str | None = None, threads: int | None = None) -> dict:
    """OpenVINO's CPU configuration for an artifact: the precision it was exported for
    (``f32`` unless ``"bfloat16"``: the CPU default is bf16 where the CPU has it),
    ``threads`` inference threads (default: OpenVINO's choice), and threads not pinned to
    cores.

    On a shared 2-core CPU, VGG16 (width 1/2, batch 8) served 0.89x Keras's throughput
    with pinned threads and 1.09x without (`benchmarks/serve.py`, one interleaved run).
    """
    config = {
        "INFERENCE_PRECISION_HINT": {"bfloat16": "bf16"}.get(precision, "f32"),
        "ENABLE_CPU_PINNING": False,
    }
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    return config


def _openvino(path: Path, threads):
    import openvino as ov

    core = ov.Core()
    model = core.read_model(path)
    info = model.get_rt_info()
    metadata = {}
    if OPENVINO_SECTION in info:
        strings = {
            key: model.get_rt_info([OPENVINO_SECTION, key]).astype(str)
            for key in info[OPENVINO_SECTION]
        }
        metadata = decode(strings)
    compiled = core.compile_model(model, "CPU", openvino_config(metadata.get("precision"), threads))
    names = [output.get_any_name() for output in compiled.outputs]
    request = compiled.create_infer_request()

    def run(images):
        results = request.infer({INPUT_NAME: images})
        return {
            name: np.array(results[output])
            for name, output in zip(names, compiled.outputs, strict=True)
        }

    return ExportedModel(path, "openvino", run, metadata)


def _saved_model(path: Path, threads):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    asset = path / "assets" / METADATA_ASSET
    metadata = json.loads(asset.read_text()) if asset.is_file() else {}

    def run(images):
        return {
            name: value.numpy()
            for name, value in serve(**{INPUT_NAME: tf.constant(images)}).items()
        }

    return ExportedModel(path, "tensorflow", run, metadata)


def _litert(path: Path, threads):
    from ai_edge_litert.interpreter import Interpreter

    data = path.read_bytes()
    interpreter = Interpreter(model_content=data, num_threads=threads)
    runner = interpreter.get_signature_runner("serving_default")

    def run(images):
        return {name: np.array(value) for name, value in runner(**{INPUT_NAME: images}).items()}

    return ExportedModel(path, "litert", run, _litert_metadata(data))


def _litert_metadata(data: bytes) -> dict:
    from tensorflow.lite.tools import flatbuffer_utils

    flat = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    for entry in flat.metadata or []:
        name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
        if name == LITERT_METADATA:
            return json.loads(bytes(flat.buffers[entry.buffer].data).decode())
    return {}


_LOADERS = {".onnx": _onnx, ".xml": _openvino, "saved_model": _saved_model, ".tflite": _litert}
