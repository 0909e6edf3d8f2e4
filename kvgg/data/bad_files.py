"""Images that cannot be decoded: skipped and reported during an epoch, or listed ahead.

Datasets in the wild hold truncated JPEGs, empty files and files that are not images at
all. The pipelines decode each image under a guard: an undecodable one is skipped, counted
in its source's :class:`BadFiles` log and reported through the ``kvgg.data`` logger (the
first few by path), and the epoch goes on; in strict mode the run stops at once with the
path (inside TensorFlow an error whose message holds the path; :func:`strict_errors`
turns it into a plain :class:`UndecodableImageError`). :func:`check_source` scans a whole
source ahead of training.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from dataclasses import dataclass, field

from kvgg.models.configs import STRIDE

logger = logging.getLogger("kvgg.data")

NAMED_IN_LOG = 10
STRICT_MESSAGE = "Undecodable image (strict mode): "
_STRICT_PATH = re.compile(re.escape(STRICT_MESSAGE) + r"([^\n]*)\]")


class UndecodableImageError(ValueError):
    """Strict mode met an image that cannot be decoded; ``path`` names it."""

    def __init__(self, path: str):
        self.path = path
        super().__init__(
            f"Undecodable image (strict mode): {path} (list every bad file with "
            "'kvgg data check SOURCE', or leave strict mode to skip them)"
        )


@contextlib.contextmanager
def strict_errors():
    """Turn the TensorFlow error a strict-mode pipeline raises at its first undecodable
    image into an :class:`UndecodableImageError` (a ValueError) with a one-line message.

    Example:
        >>> import tempfile
        >>> from kvgg.data import image_folder
        >>> from kvgg.data.pipeline import image_dataset
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> _ = (images / "red" / "red_0000.jpg").write_bytes(b"")  # an empty file
        >>> with strict_errors():
        ...     for image, label in image_dataset(image_folder(images), strict=True):
        ...         pass
        Traceback (most recent call last):
        ...
        kvgg.data.bad_files.UndecodableImageError: Undecodable image ...: .../red_0000.jpg ...
    """
    try:
        yield
    except Exception as error:
        match = _STRICT_PATH.search(getattr(error, "message", None) or str(error))
        if match is None or isinstance(error, UndecodableImageError):
            raise
        raise UndecodableImageError(match.group(1)) from None


@dataclass
class BadFiles:
    """Files left out so far: their count and the first paths (in order met).

    ``one`` and ``many`` name what was left out in the log and in ``str()``: undecodable
    images by default; e.g. images whose box annotation is missing or bad.
    """

    count: int = 0
    paths: list[str] = field(default_factory=list)
    one: str = "an undecodable image"
    many: str = "undecodable images"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, path: str) -> None:
        """Count one bad file; log its path while fewer than ``NAMED_IN_LOG`` were named."""
        with self._lock:
            self.count += 1
            if len(self.paths) < NAMED_IN_LOG:
                self.paths.append(path)
                logger.warning("Skipped %s: %s", self.one, path)
            elif self.count == NAMED_IN_LOG + 1:
                logger.warning("More %s; counting them silently (BadFiles).", self.many)

    def __str__(self) -> str:
        if not self.count:
            return f"no {self.many}"
        more = f" and {self.count - len(self.paths)} more" if self.count > len(self.paths) else ""
        return f"{self.count} {self.many} skipped: {', '.join(self.paths)}{more}"


@dataclass(frozen=True)
class Finding:
    """One file flagged by :func:`check_source`: ``bad`` ones cannot be decoded at all."""

    path: str
    problem: str
    bad: bool


def check_source(source, *, progress: bool = True) -> list[Finding]:
    """Scan every image of a file source with the pipeline's own decoder.

    Reports undecodable or unreadable files (empty, truncated, not an image, gone) as
    bad, and decodable oddities that the pipeline converts (grayscale, CMYK, RGBA, a PNG,
    GIF or WebP named .jpg, images smaller than 32 pixels) as notes.

    Args:
        source: a `~kvgg.data.Source` (image folder, labels file, VOC, Caltech, TFRecord
            shards); open a spec string with :func:`~kvgg.data.open_source` first.
        progress: show a progress bar.

    Returns:
        The findings, in dataset order; empty when every image is fine.

    Example:
        >>> import tempfile
        >>> from kvgg.data import image_folder
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> _ = (images / "red" / "red_0000.jpg").write_bytes(b"")  # an empty file
        >>> for finding in check_source(image_folder(images), progress=False):
        ...     print(finding.path.split("/")[-1], finding.problem, finding.bad)
        red_0000.jpg empty file (0 bytes) True
    """
    from tqdm import tqdm

    findings = []
    # File sources give paths, read here: a file unreadable or gone since listing is a
    # finding, not a crash of the whole scan.
    items = source.named_dataset(read=not source.stores_files).as_numpy_iterator()
    for image, _, name in tqdm(items, total=len(source), desc="check", disable=not progress):
        if not isinstance(image, bytes):
            continue  # in-memory images were decoded when loaded
        path = name.decode()
        if source.stores_files:
            try:
                with open(path, "rb") as file:
                    image = file.read()
            except OSError as error:
                findings.append(Finding(path, f"cannot be read: {error.strerror}", True))
                continue
        try:
            decoded = decode_image_bytes(image, path)
        except ValueError as error:
            findings.append(Finding(path, str(error), True))
            continue
        problem = _header_problem(image, path)
        if problem:
            findings.append(Finding(path, problem, False))
        elif min(decoded.shape[:2]) < STRIDE:
            findings.append(
                Finding(path, f"tiny image ({decoded.shape[1]}x{decoded.shape[0]})", False)
            )
    return findings


def decode_image_bytes(data: bytes, path: str = ""):
    """Decode one encoded image by the rule every part of kvgg applies: `looks_decodable`,
    then the pipelines' decoder. `kvgg data check`, the training and evaluation pipelines,
    colour statistics and `kvgg predict` accept exactly the same files.

    Args:
        data: the file's bytes.
        path: the file's name (its suffix refines the reason given).

    Returns:
        A uint8 (H, W, 3) RGB array.

    Raises:
        ValueError: why the bytes are refused (e.g. "empty file (0 bytes)").

    Example:
        >>> decode_image_bytes(b"", "x.jpg")
        Traceback (most recent call last):
        ...
        ValueError: empty file (0 bytes)
    """
    import tensorflow as tf

    from kvgg.data.transforms import decode_rgb

    encoded = tf.constant(data)
    if not bool(looks_decodable(encoded)):
        raise ValueError(_header_problem(data, path) or "truncated or damaged image")
    try:
        return decode_rgb(encoded).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise ValueError(_header_problem(data, path) or _first_line(error.message)) from None


def looks_decodable(encoded):
    """Graph-safe check of encoded bytes: they start like a JPEG, PNG, GIF, BMP or WebP file
    and, for a JPEG, hold an end-of-image marker among the last 32 bytes (truncated files
    lack it). Anything else wrong is left to the decoder.

    Args:
        encoded: scalar tf.string.

    Returns:
        A scalar tf.bool.

    Example:
        >>> import tensorflow as tf
        >>> bool(looks_decodable(tf.constant(b"")))
        False
    """
    import tensorflow as tf

    # Few ops on purpose: this runs for every image of every epoch.
    prefix = tf.strings.substr(encoded, 0, 2)  # two bytes tell the four formats apart
    known = tf.reduce_any(tf.equal(prefix, _PREFIXES))
    tail = tf.strings.substr(encoded, tf.maximum(tf.strings.length(encoded) - 32, 0), 32)
    has_end = tf.size(tf.strings.split(tail, sep=b"\xff\xd9")) > 1  # contains the marker
    return known & ((prefix != _PREFIXES[0]) | has_end)


_SIGNATURES = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG": "PNG",
    b"GIF8": "GIF",
    b"BM": "BMP",
    b"RIFF": "WebP",  # tf.io.decode_image decodes WebP; other RIFF files fail the decoder
}
_PREFIXES = [sig[:2] for sig in _SIGNATURES]  # JPEG first


def _header_problem(data: bytes, path: str) -> str | None:
    """What the bytes' header says is unusual about the file, or None."""
    if not data:
        return "empty file (0 bytes)"
    kind = next((k for sig, k in _SIGNATURES.items() if data.startswith(sig)), None)
    if kind == "WebP" and data[8:12] != b"WEBP":
        kind = None  # a RIFF file of another kind (WAV, AVI)
    if kind is None:
        return "not an image (unknown file signature)"
    suffix = path.rsplit(".", 1)[-1].lower()
    if kind != "JPEG" and suffix in ("jpg", "jpeg"):
        return f"{kind} data in a .{suffix} file"
    if kind == "JPEG":
        if b"\xff\xd9" not in data[-32:]:  # where `looks_decodable` looks
            return "truncated JPEG (no end-of-image marker)"
        components = _jpeg_components(data)
        if components == 1:
            return "grayscale JPEG"
        if components == 4:
            return "CMYK JPEG"
    if kind == "PNG" and len(data) > 25 and data[25] in (4, 6):
        return "PNG with alpha channel" if data[25] == 6 else "grayscale PNG with alpha"
    return None


def _jpeg_components(data: bytes) -> int | None:
    """Number of colour components in the first start-of-frame marker."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return data[i + 9]
        i += 2 + length
    return None


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "cannot be decoded"
