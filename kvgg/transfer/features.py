"""VGG descriptors for transfer (paper Appendix B): dense FC-2 features, pooled, flipped,
over several scales.

Per image and scale Q: rescale so the smallest side is Q, run the fully-convolutional net
up to FC-2's ReLU on the whole image, average the 4096-D map over space, and average that
with the same for the mirrored image. The per-scale vectors are then averaged (VOC) or
stacked (Caltech) and L2-normalised. Per-scale vectors are cached on disk (see
`kvgg.transfer.cache`), so an interrupted extraction resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from kvgg.data.sources import Source
from kvgg.evaluate.common import MAX_PIXELS, check_pixels
from kvgg.evaluate.metrics import check_finite
from kvgg.io import write_npz, write_text
from kvgg.transfer.cache import FeatureStore

COMBINE_METHODS = ("average", "stack")
VOC_SCALES = (256, 384, 512, 640, 768)
CALTECH_SCALES = (256, 384, 512)
# Defaults of the library functions, the `kvgg features` command and transfer recipes:
# the paper's VOC setting (descriptors averaged over Q in 256..768).
DEFAULT_SCALES = VOC_SCALES
DEFAULT_COMBINE = "average"
DEFAULT_BATCH_SIZE = 4  # images per forward pass (whole images at Q up to 768, not crops)
CHUNK_SECONDS = 60.0  # also write a cache chunk at least this often


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/kvgg/features`` (``~/.cache/kvgg/features`` by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "kvgg" / "features"


def descriptor_model(model: keras.Model) -> keras.Model:
    """The classifier cut after FC-2's ReLU, applied densely, then averaged over space.

    Args:
        model: a kvgg VGG classifier (with its FC head), e.g. from `kvgg.io.load_model`.

    Returns:
        A model taking ``(batch, H, W, 3)`` RGB in [0, 255] of any size at least the
        classifier's input size, returning ``(batch, fc_units)`` descriptors.

    Example:
        >>> import kvgg
        >>> descriptor_model(kvgg.build("D", width=1 / 16, input_shape=(32, 32, 3))).output_shape
        (None, 256)
    """
    from kvgg.models.surgery import fully_convolutional

    dense = fully_convolutional(model, until="fc2")
    pooled = keras.layers.GlobalAveragePooling2D(name="descriptor_pool")(dense.output)
    return keras.Model(dense.input, pooled, name=f"{model.name}_descriptor")


def model_fingerprint(model: keras.Model) -> str:
    """A short hash of a model's architecture and weights (the feature cache's key).

    Saving the same model again gives the same fingerprint; any change of a weight does not.

    Example:
        >>> import kvgg
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3))
        >>> fingerprint = model_fingerprint(model)
        >>> len(fingerprint), fingerprint == model_fingerprint(model)
        (24, True)
    """
    digest = hashlib.blake2b(digest_size=12)
    digest.update(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()


def extract_features(
    model: keras.Model,
    source: Source,
    *,
    scales: Sequence[int] = DEFAULT_SCALES,
    combine: str = DEFAULT_COMBINE,
    flip: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cache_dir: str | Path | None = None,
    chunk_size: int = 64,
    progress: bool = True,
) -> np.ndarray:
    """L2-normalised VGG descriptors of every image of a source, in the source's order.

    Args:
        model: a kvgg VGG classifier (its FC-3 is dropped; FC-2 gives the descriptor).
        source: a `kvgg.data.Source` (e.g. ``kvgg.data.open_source("voc:...")``).
        scales: the smallest-side sizes Q (the paper: VOC 256..768, Caltech 256..512);
            each must be at least the classifier's input size.
        combine: ``"average"`` the per-scale descriptors (VOC) or ``"stack"`` them into one
            ``len(scales) * 4096``-D vector (Caltech).
        flip: also describe the mirrored image and average the two.
        batch_size: images per forward pass; images are grouped by rescaled shape.
        cache_dir: directory of the on-disk cache (resumable); None keeps features in
            memory only.
        chunk_size: images per cache chunk (also written at least once a minute).
        progress: show a progress bar per scale.

    Returns:
        float32 array (len(source), D), each row of unit L2 norm.

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 6 images
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> x = extract_features(model, kvgg.data.image_folder(images), scales=(32, 48),
        ...                      combine="stack", progress=False)  # Caltech: CALTECH_SCALES
        >>> x.shape, np.linalg.norm(x, axis=1).round(4).tolist()  # FC-2 is 256-D here
        ((6, 512), [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    """
    scales = _checked_scales(scales, model)
    if combine not in COMBINE_METHODS:
        raise ValueError(f"`combine` must be one of {COMBINE_METHODS}. Received: {combine!r}")
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be positive. Received: batch_size={batch_size!r}")
    network = descriptor_model(model)
    keys = image_keys(source)
    root = None
    if cache_dir is not None:
        root = Path(cache_dir).expanduser() / model_fingerprint(network)
        _write_cache_info(root, model)
    per_scale = []
    for scale in scales:
        store = FeatureStore(None if root is None else root / f"q{scale}-{_flip_name(flip)}")
        missing = _first_missing(keys, store)
        if missing:
            _extract_missing(
                network,
                source,
                keys,
                missing,
                store,
                scale=scale,
                flip=flip,
                batch_size=batch_size,
                chunk_size=chunk_size,
                progress=progress,
            )
        per_scale.append(store.get(keys))
    features = np.mean(per_scale, axis=0) if combine == "average" else np.hstack(per_scale)
    check_finite(features, f"descriptors of {model.name!r}")  # NaN would train NaN SVMs
    return l2_normalize(features)


def l2_normalize(features) -> np.ndarray:
    """Scale every row to unit Euclidean norm (all-zero rows stay zero)."""
    features = np.asarray(features, np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def fuse(*features) -> np.ndarray:
    """Fusion of several nets' descriptors by stacking (paper: D & E), L2-normalised.

    Example:
        >>> both = fuse(np.ones((2, 3)), np.zeros((2, 5)))  # e.g. net D's and net E's
        >>> both.shape, np.linalg.norm(both, axis=1).round(6).tolist()
        ((2, 8), [1.0, 1.0])
    """
    return l2_normalize(np.hstack(features))


def image_keys(source) -> list[str]:
    """A content hash per image of `source` (the feature cache's keys), in order.

    A source with a ``cache_keys()`` method (regions of files, e.g. VOC action boxes)
    gives its own keys, without decoding its images.
    """
    import tensorflow as tf

    if hasattr(source, "cache_keys"):
        return source.cache_keys()
    keys = []
    for image, _ in source.dataset().prefetch(tf.data.AUTOTUNE).as_numpy_iterator():
        digest = hashlib.blake2b(digest_size=16)
        if isinstance(image, bytes):
            digest.update(image)
        else:
            digest.update(repr(image.shape).encode())
            digest.update(np.ascontiguousarray(image).tobytes())
        keys.append(digest.hexdigest())
    return keys


def save_features(path, features, *, labels, image_ids, settings: dict) -> Path:
    """Write features, labels, image ids and the settings to a NumPy ``.npz`` (atomically).

    The archive holds ``features`` (N, D) float32, ``labels``, ``image_ids`` (strings),
    ``class_names`` and ``settings`` (a JSON string): ``np.load(path)["features"]``.

    Example:
        >>> import tempfile
        >>> path = save_features(Path(tempfile.mkdtemp()) / "voc07.npz", np.ones((2, 4)),
        ...                      labels=[3, 7], image_ids=["000001", "000002"],
        ...                      settings={"scales": [256]})
        >>> np.load(path)["features"].shape, np.load(path)["image_ids"].tolist()
        ((2, 4), ['000001', '000002'])
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"Feature files end in .npz. Received: path={str(path)!r}")
    settings = dict(settings)
    class_names = settings.pop("class_names", [])
    return write_npz(
        path,
        features=np.asarray(features, np.float32),
        labels=np.asarray(labels),
        image_ids=np.array([str(i) for i in image_ids]),
        class_names=np.array(class_names, dtype=str),
        settings=np.array(json.dumps(settings)),
    )


def extract_features_file(
    model_path: str | Path,
    data: Source | str | dict,
    out: str | Path,
    *,
    scales: Sequence[int] = DEFAULT_SCALES,
    combine: str = DEFAULT_COMBINE,
    flip: bool | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Extract descriptors of a source with a saved model and write them to ``.npz``.

    Args:
        model_path: a `.keras` classifier or a `kvgg fit` run directory.
        data: a source spec for `kvgg.data.open_source` (``voc:PATH?year=2007&split=test``,
            ``caltech:PATH?kind=101&seed=0``, an image folder, ...).
        out: the ``.npz`` to write (see `save_features` for its content).
        scales: as in `extract_features`.
        combine: as in `extract_features`.
        flip: as in `extract_features`; default: as the model was trained
            (`kvgg.evaluate.default_flip`: its recipe's ``data.flip``, else flips).
        batch_size: as in `extract_features`.
        progress: as in `extract_features`.
        cache_dir: the resumable feature cache (default `default_cache_dir`).

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.io import save_model
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> folder = Path(tempfile.mkdtemp())
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> path = save_model(model, folder / "a.keras")
        >>> out = extract_features_file(path, f"folder:{images}", folder / "f.npz", scales=(32,),
        ...                             cache_dir=folder / "cache", progress=False)
        >>> sorted(np.load(out).files)
        ['class_names', 'features', 'image_ids', 'labels', 'settings']
    """
    from kvgg.data import open_source
    from kvgg.data.spec import source_files
    from kvgg.evaluate.files import load_classifier
    from kvgg.evaluate.scales import default_flip
    from kvgg.io import check_outputs, resolve_model_file

    source = open_source(data)
    check_outputs([out], [resolve_model_file(model_path), *source_files(source)])
    model, _, info = load_classifier(model_path)
    if flip is None:
        flip = default_flip(info)
    features = extract_features(
        model,
        source,
        scales=scales,
        combine=combine,
        flip=flip,
        batch_size=batch_size,
        cache_dir=cache_dir or default_cache_dir(),
        progress=progress,
    )
    settings = {
        "model": str(model_path),
        "fingerprint": model_fingerprint(descriptor_model(model)),
        "data": str(data),
        "layer": "fc2",
        "scales": list(scales),
        "combine": combine,
        "flip": flip,
        "class_names": source.class_names,
    }
    return save_features(
        out, features, labels=source.labels, image_ids=image_names(source), settings=settings
    )


def image_names(source) -> list[str]:
    """Identifiers of the images of `source`: its image ids, file names, else indices."""
    for attribute in ("image_ids", "files", "paths"):
        names = getattr(source, attribute, None)
        if names is not None and len(names) == len(source):
            return [str(name) for name in names]
    return [str(i) for i in range(len(source))]


def _extract_missing(
    network, source, keys, missing, store, *, scale, flip, batch_size, chunk_size, progress
):
    """Describe the images `missing` (indices) at one scale into `store`, in shape batches.

    Finished images are flushed to the store's chunks as they accumulate and on any exit,
    so an interruption loses at most the batch in flight.
    """
    from tqdm.auto import tqdm

    images = _rescaled_images(source, missing, scale)
    names = image_names(source)
    buckets: dict[tuple, list] = {}
    bar = tqdm(total=len(missing), desc=f"features Q={scale}", unit="img", disable=not progress)
    last_flush, unsaved, done = time.monotonic(), 0, 0

    def run(shape):
        nonlocal last_flush, unsaved
        indices, batch = zip(*buckets.pop(shape), strict=True)
        store.add([keys[i] for i in indices], _describe(network, np.stack(batch), flip))
        bar.update(len(indices))
        unsaved += len(indices)
        if unsaved >= chunk_size or time.monotonic() - last_flush > CHUNK_SECONDS:
            store.flush()
            last_flush, unsaved = time.monotonic(), 0

    try:
        for index, image in images:
            done += 1
            buckets.setdefault(image.shape, []).append((index, image))
            if len(buckets[image.shape]) == batch_size:
                run(image.shape)
            elif sum(len(b) for b in buckets.values()) >= 4 * batch_size:
                run(max(buckets, key=lambda s: len(buckets[s])))
        while buckets:
            run(next(iter(buckets)))
    except _DecodeError as error:
        raise ValueError(
            f"Could not decode image {names[missing[done]]!r} (number {missing[done]} of "
            f"{source.name!r}): {error}"
        ) from None
    finally:
        store.flush()
        bar.close()


class _DecodeError(Exception):
    pass


def _rescaled_images(source, indices, scale):
    """Yield (index, float32 image rescaled to smallest side `scale`) for `indices`, in order."""
    import tensorflow as tf

    from kvgg.data.transforms import decode_rgb, rescale

    wanted = np.zeros(len(source), bool)
    wanted[indices] = True
    wanted = tf.constant(wanted)
    dataset = source.dataset()
    encoded = dataset.element_spec[0].dtype == tf.string

    def prepare(index, image, label):
        return index, rescale(decode_rgb(image) if encoded else image, scale)

    dataset = (
        dataset.enumerate()
        .filter(lambda index, element: wanted[index])
        .map(lambda index, element: prepare(index, *element), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(2)
    )
    iterator = dataset.as_numpy_iterator()
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except tf.errors.InvalidArgumentError as error:
            raise _DecodeError(error.message.splitlines()[0]) from None


def _describe(network, batch, flip):
    if flip:
        batch = np.concatenate([batch, batch[:, :, ::-1]])
    # predict_on_batch: inference mode on every backend (no autograd tape under torch).
    out = np.asarray(network.predict_on_batch(batch))
    if flip:
        half = len(out) // 2
        out = (out[:half] + out[half:]) / 2
    return out


def _first_missing(keys, store) -> list[int]:
    """Indices of the images to compute: not in the store, and each repeated image once."""
    seen, missing = set(), []
    for index, key in enumerate(keys):
        if key not in store and key not in seen:
            seen.add(key)
            missing.append(index)
    return missing


def _checked_scales(scales, model):
    scales = [int(q) for q in scales]
    minimum = min(d for d in model.input_shape[1:3] if d is not None)
    if not scales or any(q < minimum for q in scales):
        raise ValueError(
            f"Every scale must be at least the model's input size ({minimum}) for its FC-1 "
            f"window to fit. Received: scales={scales}"
        )
    check_pixels(scales, MAX_PIXELS)  # a Q x Q view at the least
    return scales


def _flip_name(flip):
    return "flip" if flip else "noflip"


def _write_cache_info(root: Path, model):
    info = root / "model.json"
    if not info.exists():
        write_text(info, json.dumps({"model": model.name, "layer": "fc2"}) + "\n")
