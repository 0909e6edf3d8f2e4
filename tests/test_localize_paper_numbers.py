"""The paper's localisation numbers are shown only beside what the paper ran (Tables 8, 9)."""

import ast
from pathlib import Path

import pytest

from kvgg.evaluate.paper_numbers import table8_error, table9_error

PCR_ALL = ("D", "pcr", "all")


@pytest.mark.parametrize(
    "nets, expected",
    [
        ([(*PCR_ALL, 256, (256,))], (29.5, None)),
        ([(*PCR_ALL, 384, (384,))], (28.2, 26.7)),
        ([(*PCR_ALL, 384, (352, 384))], (27.5, None)),
        ([(*PCR_ALL, 384, (384, 352))], (27.5, None)),  # a set: the order does not matter
        ([(*PCR_ALL, 384, (352, 384)), (*PCR_ALL, 256, (256,))], (26.9, 25.3)),
        ([(*PCR_ALL, 256, (384,))], None),  # S=256 tested at Q=384: not S=384's 28.2
        ([(*PCR_ALL, 384, (352, 384, 416))], None),
        ([(*PCR_ALL, 256, (256,)), (*PCR_ALL, 384, (384,))], None),  # not the paper's fusion
        ([(*PCR_ALL, 384, (384,)), (*PCR_ALL, 384, (384,))], None),
        ([("D", "scr", "all", 384, (384,))], None),  # Table 9 is PCR only
        ([("D", "pcr", "fc", 384, (384,))], None),
        ([("E", "pcr", "all", 384, (384,))], None),
        ([(None, "pcr", "all", 384, (384,))], None),  # configuration unknown
    ],
)
def test_table_9_by_training_scale_test_scales_and_nets_fused(nets, expected):
    assert table9_error(nets) == expected


@pytest.mark.parametrize(
    "design, expected",
    [
        (("D", "scr", "fc", 384), 36.4),
        (("D", "pcr", "fc", 384), 34.3),
        (("D", "pcr", "all", 384), 33.1),
        (("D", "pcr", "all", 256), None),  # "S=256 behaves the same": no number given
        (("D", "scr", "all", 384), None),  # not a row of Table 8
        ((None, "pcr", "all", 384), None),
    ],
)
def test_table_8_by_regression_fine_tuning_and_training_scale(design, expected):
    assert table8_error(*design) == expected


def test_no_other_module_holds_a_table_of_the_paper_s_numbers():
    """Every table's numbers live in kvgg/evaluate/paper_numbers.py; others import them."""
    root = Path(__file__).parents[1] / "kvgg"
    found = []
    for path in root.rglob("*.py"):
        if path.name == "paper_numbers.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if any(name.startswith(("PAPER", "TABLE")) for name in names):
                    found.append(f"{path.relative_to(root)}: {names}")
    assert not found
