"""PASCAL VOC-2012 action classification (paper Appendix B, Table 12): people, boxes, actions.

The layout, inside ``VOCdevkit/VOC2012``::

    ImageSets/Action/{train,val,trainval,test}.txt    image id [person index] per line
    ImageSets/Action/<action>_<split>.txt             image id, person index, +1/-1
    Annotations/<id>.xml                              <object> person, <bndbox>, <actions>
    JPEGImages/<id>.jpg

Each sample is one person: an image and the person's box, with 11 binary action labels read
from the ``<actions>`` element of that ``<object>`` (the person index is its 1-based
position among the file's objects). A person without ``<actions>`` (the test set, whose
actions the evaluation server keeps) has unknown labels: a row of NaN, which training and
scoring leave out. `voc_action` gives the whole image (``region="image"``) or the person's
box region (``region="box"``, clipped to the image) as the sample's picture.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from kvgg.data.sources import FileSource
from kvgg.data.transforms import decode_rgb
from kvgg.data.voc_annotations import parse_annotation_xml
from kvgg.io import read_text_file

ACTIONS = (
    "jumping", "phoning", "playinginstrument", "reading", "ridingbike", "ridinghorse",
    "running", "takingphoto", "usingcomputer", "walking", "other",
)  # fmt: skip
"""The 11 action classes of VOC-2012, in the devkit's order."""

logger = logging.getLogger("kvgg.data")

ACTION_SPLITS = ("train", "val", "trainval", "test")
REGIONS = ("image", "box")


@dataclass(frozen=True)
class Person:
    """One person of an annotation file.

    Attributes:
        index: 1-based position of the ``<object>`` in the file (the devkit's person index).
        box: (xmin, ymin, xmax, ymax) in the file's 1-based pixel coordinates.
        actions: the names of the person's actions, or None when the file gives none.
    """

    index: int
    box: tuple[float, float, float, float]
    actions: tuple[str, ...] | None


def read_action_split(year_dir: str | Path, split: str) -> list[tuple[str, int | None]]:
    """The (image id, person index or None for all) pairs of ``ImageSets/Action/<split>.txt``.

    Example:
        >>> import tempfile
        >>> year_dir = Path(tempfile.mkdtemp()) / "VOC2012"
        >>> (year_dir / "ImageSets" / "Action").mkdir(parents=True)
        >>> lines = ["2010_000003 1", "2010_000003 2", "2010_000004"]  # no index: all people
        >>> _ = (year_dir / "ImageSets" / "Action" / "train.txt").write_text("\\n".join(lines))
        >>> read_action_split(year_dir, "train")
        [('2010_000003', 1), ('2010_000003', 2), ('2010_000004', None)]
    """
    return [(image_id, person) for _, image_id, person in _listed(year_dir, split)]


def split_file(year_dir: str | Path, split: str) -> Path:
    """The path of ``ImageSets/Action/<split>.txt``."""
    return Path(year_dir) / "ImageSets" / "Action" / f"{split}.txt"


def _listed(year_dir, split) -> list[tuple[int, str, int | None]]:
    """(line number, image id, person index or None) of each line of a split file."""
    if split not in ACTION_SPLITS:
        raise ValueError(f"VOC action split must be one of {ACTION_SPLITS}. Received: {split!r}")
    path = split_file(year_dir, split)
    if not path.is_file():
        raise FileNotFoundError(f"No VOC action image set file at '{path}'.")
    pairs = []
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) > 2 or (len(fields) == 2 and not fields[1].isdigit()):
            raise ValueError(
                f"'{path}' line {number}: expected 'image_id [person]'. Received: {line!r}"
            )
        pairs.append((number, fields[0], int(fields[1]) if len(fields) == 2 else None))
    if not pairs:
        raise ValueError(f"VOC action image set file '{path}' lists no images.")
    return pairs


def read_people(path: str | Path) -> list[Person]:
    """The people of one VOC-2012 annotation file, with their boxes and actions.

    Raises:
        FileNotFoundError: when the file is missing.
        ValueError: on bad XML, a bad box or an unknown action (naming the file).
    """
    root = parse_annotation_xml(Path(path))
    people = []
    for index, element in enumerate(root.iter("object"), start=1):
        if (element.findtext("name") or "").strip() != "person":
            continue
        box = element.find("bndbox")
        try:
            coords = tuple(float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError):
            raise ValueError(
                f"VOC annotation '{path}' has a bad bndbox for person {index}."
            ) from None
        if not (np.isfinite(coords).all() and coords[0] <= coords[2] and coords[1] <= coords[3]):
            raise ValueError(
                f"VOC annotation '{path}': person {index} has an empty or "
                f"non-finite box. Received: bndbox={coords}"
            )
        actions = element.find("actions")
        names = None
        if actions is not None:
            unknown = [child.tag for child in actions if child.tag not in ACTIONS]
            if unknown:
                raise ValueError(
                    f"VOC annotation '{path}': person {index} has an unknown action: {unknown[0]!r}"
                )
            names = tuple(child.tag for child in actions if (child.text or "").strip() == "1")
        people.append(Person(index, coords, names))
    return people


class VOCActionSource(FileSource):
    """VOC-2012 action samples (one per person) as a `kvgg.data.Source`.

    ``dataset()`` yields the encoded image (``region="image"``) or the decoded uint8 crop of
    the person's box, clipped to the image (``region="box"``), with the (11,) action labels.

    Attributes:
        region: "image" or "box".
        image_ids: per sample, the image id.
        person_indices: per sample, the person's 1-based object index.
        boxes: float (N, 4) (xmin, ymin, xmax, ymax) in 1-based pixels, as annotated.
        annotated: whether any sample has known actions (labels of the others are NaN).
    """

    def __init__(self, name, labels, paths, image_ids, person_indices, boxes, region):
        super().__init__(name, ACTIONS, labels, paths)
        self.image_ids = list(image_ids)
        self.person_indices = list(person_indices)
        self.boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self.region = region
        self.annotated = bool(np.isfinite(self.labels).all(axis=1).any())

    @property
    def known(self) -> np.ndarray:
        """bool (N,): samples whose actions are annotated."""
        return np.isfinite(self.labels).all(axis=1)

    def named_dataset(self, *, shuffle=False, seed=None, shuffle_buffer=10_000, read=True):
        if self.region == "image":
            return super().named_dataset(shuffle=shuffle, seed=seed, read=read)
        items = tf.data.Dataset.from_tensor_slices((self.paths, self.labels, self.boxes))
        if shuffle:
            items = items.shuffle(len(self.paths), seed=seed, reshuffle_each_iteration=True)
        return items.map(
            lambda path, label, box: (
                crop_box(decode_rgb(tf.io.read_file(path)), box),
                label,
                path,
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

    def cache_keys(self) -> list[str]:
        """Feature-cache keys: the file's bytes hashed with the region (and box) they show."""
        keys = []
        for path, box in zip(self.paths, self.boxes.tolist(), strict=True):
            digest = hashlib.blake2b(Path(path).read_bytes(), digest_size=16)
            if self.region == "box":  # whole images keep the plain file hash (shared cache)
                digest.update(repr(box).encode())
            keys.append(digest.hexdigest())
        return keys


def crop_box(image: tf.Tensor, box: tf.Tensor) -> tf.Tensor:
    """The region of a 1-based (xmin, ymin, xmax, ymax) box, clipped to the image.

    A box partly outside the image (annotations sometimes are) keeps its part inside; one
    entirely outside keeps a single pixel row/column at the border, never an empty image.

    Example:
        >>> crop_box(tf.zeros((10, 20, 3), "uint8"), tf.constant([-5.0, 3, 30, 8])).shape
        TensorShape([6, 20, 3])
    """
    shape = tf.shape(image)
    height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    left = tf.clip_by_value(tf.math.floor(box[0]) - 1, 0, width - 1)
    top = tf.clip_by_value(tf.math.floor(box[1]) - 1, 0, height - 1)
    right = tf.clip_by_value(tf.math.ceil(box[2]), left + 1, width)
    bottom = tf.clip_by_value(tf.math.ceil(box[3]), top + 1, height)
    top, left, bottom, right = (tf.cast(v, tf.int32) for v in (top, left, bottom, right))
    return image[top:bottom, left:right]


def voc_action(root: str | Path, split: str = "trainval", region: str = "image") -> VOCActionSource:
    """VOC-2012 action samples of a split: one per listed person, 11 action labels.

    Args:
        root: the ``VOCdevkit`` folder (holding ``VOC2012``) or the ``VOC2012`` folder.
        split: ``train``, ``val``, ``trainval`` or ``test`` (``ImageSets/Action/<split>.txt``).
        region: ``image`` (the whole image) or ``box`` (the person's box region).

    Returns:
        A `VOCActionSource` in the split file's order (all people of an image listed
        without a person index, in file order), each person once: a person listed again
        is named in a warning of the ``kvgg.data`` logger and counted once.

    Example:
        Not run as a doctest: it needs the PASCAL VOC 2012 download on disk.

        >>> train = voc_action("VOCdevkit", "train", region="box")  # doctest: +SKIP
        >>> train.labels.shape  # doctest: +SKIP
        (4588, 11)
    """
    if region not in REGIONS:
        raise ValueError(f"`region` must be one of {REGIONS}. Received: region={region!r}")
    root = Path(root)
    year_dir = root if root.name == "VOC2012" else root / "VOC2012"
    if not year_dir.is_dir():
        raise FileNotFoundError(f"No VOC2012 folder at '{year_dir}'.")
    samples, listed = [], {}  # listed: (image id, person) -> the line that listed it first
    for line, image_id, person in _listed(year_dir, split):
        image = year_dir / "JPEGImages" / f"{image_id}.jpg"
        if not image.is_file():
            raise FileNotFoundError(f"Image of action split '{split}' missing: '{image}'.")
        annotation = year_dir / "Annotations" / f"{image_id}.xml"
        people = read_people(annotation)
        chosen = [p for p in people if person is None or p.index == person]
        if not chosen:
            which = "no person" if person is None else f"no person {person}"
            raise ValueError(
                f"VOC annotation '{annotation}' has {which}, which ImageSets/"
                f"Action/{split}.txt lists."
            )
        for p in chosen:  # a person listed twice counts once (else twice in the AP)
            first = listed.setdefault((image_id, p.index), line)
            if first == line:
                samples.append((image, image_id, p))
            else:
                logger.warning(
                    "%s line %d: %s person %d listed again (first on line %d); counted once.",
                    split_file(year_dir, split),
                    line,
                    image_id,
                    p.index,
                    first,
                )
    labels = np.zeros((len(samples), len(ACTIONS)), np.float32)
    for row, (_, _, p) in enumerate(samples):
        if p.actions is None:
            labels[row] = np.nan
        else:
            labels[row, [ACTIONS.index(a) for a in p.actions]] = 1.0
    return VOCActionSource(
        f"voc_action:{year_dir}:{split}:{region}",
        labels,
        [image for image, _, _ in samples],
        [image_id for _, image_id, _ in samples],
        [p.index for _, _, p in samples],
        [p.box for _, _, p in samples],
        region,
    )
