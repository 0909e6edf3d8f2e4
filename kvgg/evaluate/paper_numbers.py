"""The paper's classification results (ILSVRC-2012 val, error %), the one home of these numbers.

Each row of Tables 3-6 is keyed by what defines it: the configuration(s), the training scale
S (an int, or ``(256, 512)`` for scale jittering), the test scales Q and the method; its
value is (top-1, top-5) error in percent. `kvgg.evaluate.paper_tables` lays them out beside
a user's results. Table 4's rows other than D and E at [256; 512] are read from the
paper (arXiv:1409.1556 v6); the rest is also in the project's specification (PAPER.md).
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
