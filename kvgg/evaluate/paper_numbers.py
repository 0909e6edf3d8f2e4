"""The paper's numbers, every table of them: the one home of these numbers.

Classification (Tables 3-6, ILSVRC-2012 val, error %): each row is keyed by what defines
it: the configuration(s), the training scale S (an int, or ``(256, 512)`` for scale
jittering), the test scales Q and the method; its value is (top-1, top-5) error in
percent. `kvgg.evaluate.paper_tables` lays them out beside a user's results. Table 4's
rows other than D and E at [256; 512] are read from the paper (arXiv:1409.1556 v6); the
rest is also in the project's specification (PAPER.md).

Localisation (Tables 8-10) and transfer (Tables 11-12) follow. A paper number is looked
up by what was run (`table8_error`, `table9_error`): it exists only where the paper ran
the same thing, otherwise the lookup gives None.
"""

from __future__ import annotations

JITTER = (256, 512)
"""The paper's scale-jittering range [S_min, S_max]."""

Row = tuple[tuple[str, ...], tuple[int | tuple[int, int], ...], tuple[int, ...], str]
"""(configurations, their training scales, test scales Q, method)."""

TABLE3: dict[Row, tuple[float, float]] = {
    (("A",), (256,), (256,), "dense"): (29.6, 10.4),
    (("A-LRN",), (256,), (256,), "dense"): (29.7, 10.5),
    (("B",), (256,), (256,), "dense"): (28.7, 9.9),
    (("C",), (256,), (256,), "dense"): (28.1, 9.4),
    (("C",), (384,), (384,), "dense"): (28.1, 9.3),
    (("C",), (JITTER,), (384,), "dense"): (27.3, 8.8),
    (("D",), (256,), (256,), "dense"): (27.0, 8.8),
    (("D",), (384,), (384,), "dense"): (26.8, 8.7),
    (("D",), (JITTER,), (384,), "dense"): (25.6, 8.1),
    (("E",), (256,), (256,), "dense"): (27.3, 9.0),
    (("E",), (384,), (384,), "dense"): (26.9, 8.7),
    (("E",), (JITTER,), (384,), "dense"): (25.5, 8.0),
}
"""Table 3: single test scale (fixed S: Q = S; jittered: Q = 384), dense evaluation."""

TABLE4: dict[Row, tuple[float, float]] = {
    (("B",), (256,), (224, 256, 288), "dense"): (28.2, 9.6),
    (("C",), (256,), (224, 256, 288), "dense"): (27.7, 9.2),
    (("C",), (384,), (352, 384, 416), "dense"): (27.8, 9.2),
    (("C",), (JITTER,), (256, 384, 512), "dense"): (26.3, 8.2),
    (("D",), (256,), (224, 256, 288), "dense"): (26.6, 8.6),
    (("D",), (384,), (352, 384, 416), "dense"): (26.5, 8.6),
    (("D",), (JITTER,), (256, 384, 512), "dense"): (24.8, 7.5),
    (("E",), (256,), (224, 256, 288), "dense"): (26.9, 8.7),
    (("E",), (384,), (352, 384, 416), "dense"): (26.7, 8.6),
    (("E",), (JITTER,), (256, 384, 512), "dense"): (24.8, 7.5),
}
"""Table 4: multi-scale test (fixed S: Q = {S-32, S, S+32}; jittered: {256, 384, 512})."""

TABLE5: dict[Row, tuple[float, float]] = {
    (("D",), (JITTER,), (256, 384, 512), "dense"): (24.8, 7.5),
    (("D",), (JITTER,), (256, 384, 512), "multicrop"): (24.6, 7.5),
    (("D",), (JITTER,), (256, 384, 512), "both"): (24.4, 7.2),
    (("E",), (JITTER,), (256, 384, 512), "dense"): (24.8, 7.5),
    (("E",), (JITTER,), (256, 384, 512), "multicrop"): (24.6, 7.4),
    (("E",), (JITTER,), (256, 384, 512), "both"): (24.4, 7.1),
}
"""Table 5: dense vs multi-crop (150 crops) vs both, D and E at [256; 512]."""

TABLE6: dict[Row, tuple[float, float]] = {
    (("D", "E"), (JITTER, JITTER), (256, 384, 512), "dense"): (24.0, 7.1),
    (("D", "E"), (JITTER, JITTER), (256, 384, 512), "multicrop"): (23.9, 7.2),
    (("D", "E"), (JITTER, JITTER), (256, 384, 512), "both"): (23.7, 6.8),
}
"""Tables 6/7: fusion of D and E (both at [256; 512], Q = {256, 384, 512})."""

ILSVRC_SUBMISSION = {"nets": 7, "method": "dense", "top1": 24.7, "top5": 7.5, "top5_test": 7.3}
"""The ILSVRC-2014 submission: 7 nets fused, each at its own test scales (2nd place)."""

TABLES = {
    "table3": ("Table 3: single-scale test (fixed S: Q = S; jittered S: Q = 384)", TABLE3),
    "table4": (
        "Table 4: multi-scale test (Q = {S-32, S, S+32}; jittered: {256, 384, 512})",
        TABLE4,
    ),
    "table5": ("Table 5: dense and multi-crop evaluation, Q = {256, 384, 512}", TABLE5),
    "table6": ("Tables 6/7: ConvNet fusion (posteriors averaged)", TABLE6),
}
"""Each table's name, title and rows, in the paper's order."""


TABLE8: dict[tuple[str, str, str, int], float] = {
    ("D", "scr", "fc", 384): 36.4,
    ("D", "pcr", "fc", 384): 34.3,
    ("D", "pcr", "all", 384): 33.1,
}
"""Table 8: localisation error % (protocol 1: centre crop, ground-truth class), keyed by
(configuration, regression, layers fine-tuned, training scale S). The paper gives S = 384
only ("S = 256 behaves the same", without numbers)."""

LocalisationNet = tuple[int, tuple[int, ...]]
"""(training scale S, test scales Q) of one PCR, all-layers localisation net of D."""

TABLE9: dict[tuple[LocalisationNet, ...], tuple[float, float | None]] = {
    ((256, (256,)),): (29.5, None),
    ((384, (384,)),): (28.2, 26.7),
    ((384, (352, 384)),): (27.5, None),
    ((256, (256,)), (384, (352, 384))): (26.9, 25.3),
}
"""Table 9: top-5 localisation error % (val, test; None: not reported) of protocol 2
(dense, top-5 classes from the classifier, greedy merging), PCR nets of D with all layers
fine-tuned, keyed by the nets fused: their (S, Q set) pairs, sorted."""

TABLE10 = {"VGG": 25.3, "GoogLeNet": 26.7, "OverFeat": 30.0, "Krizhevsky et al.": 34.2}
"""Table 10: top-5 localisation error % on the ILSVRC-2014 test set."""


def table8_error(config: str | None, regression: str, fine_tune: str, scale) -> float | None:
    """The paper's Table 8 error (%) for a localisation net trained this way, else None.

    Args:
        config: the configuration ("D"), or None when unknown.
        regression: "scr" or "pcr".
        fine_tune: "all" or "fc".
        scale: the training scale S.

    Example:
        >>> table8_error("D", "pcr", "all", 384)
        33.1
        >>> table8_error("D", "pcr", "all", 256) is None  # the paper has no S=256 number
        True
    """
    return TABLE8.get((config, regression, fine_tune, scale))


def table9_error(nets) -> tuple[float, float | None] | None:
    """The paper's Table 9 (val, test) errors (%) for these fused nets, else None.

    Args:
        nets: per localisation net, ``(config, regression, fine_tune, S, Q set)``;
            several are a fusion (the union of their boxes merged).

    Example:
        >>> table9_error([("D", "pcr", "all", 384, (352, 384))])
        (27.5, None)
        >>> table9_error([("D", "pcr", "all", 256, (384,))]) is None  # S=256 at Q=384
        True
    """
    key = []
    for config, regression, fine_tune, scale, scales in nets:
        if (config, regression, fine_tune) != ("D", "pcr", "all") or not isinstance(scale, int):
            return None
        key.append((scale, tuple(sorted(int(q) for q in scales))))
    return TABLE9.get(tuple(sorted(key)))


TABLE11 = {
    "D": {
        "voc2007": (89.3, None),
        "voc2012": (89.0, None),
        "caltech101": (91.8, 1.0),
        "caltech256": (85.0, 0.2),
    },
    "E": {
        "voc2007": (89.3, None),
        "voc2012": (89.0, None),
        "caltech101": (92.3, 0.5),
        "caltech256": (85.1, 0.3),
    },
    "D & E": {
        "voc2007": (89.7, None),
        "voc2012": (89.3, None),
        "caltech101": (92.7, 0.5),
        "caltech256": (86.2, 0.3),
    },
}
"""Table 11: transfer results, (value %, std over splits % or None) per features and
dataset."""

TABLE11_METRICS = {
    "voc2007": "mAP on test, VOC2007 11-point AP",
    "voc2012": "mAP on test, scored by the evaluation server (area AP)",
    "caltech101": "mean class recall, mean +- std over 3 splits (30 train / up to 50 test)",
    "caltech256": "mean class recall, mean +- std over 3 splits (60 train / rest test)",
}
"""What Table 11 measures on each dataset."""

TABLE12 = {
    "Oquab et al. (2014)": 70.2,
    "Gkioxari et al. (2014)": 73.6,
    "Hoai (2014)": 76.3,
    "VGG D & E, image": 79.2,
    "VGG D & E, image and box": 84.0,
}
"""Table 12: mean AP % on the VOC-2012 action test set (the evaluation server)."""
