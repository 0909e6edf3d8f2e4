"""One-vs-rest linear SVMs with C chosen on a held-out 20%, and the Table 11 report."""

import json

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from kvgg.transfer import PAPER_TABLE_11, fit_one_vs_rest, format_markdown, table_11, write_report


def blobs(n=200, classes=4, dims=16, spread=1.0, seed=0):
    centres = np.random.default_rng(100).normal(0, 3, (classes, dims))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    return centres[labels] + rng.normal(0, spread, (n, dims)), labels


def test_separable_classes_are_recovered():
    x, y = blobs(spread=0.3)
    svms = fit_one_vs_rest(x, np.eye(4)[y], c_values=[0.1, 1.0])
    test_x, test_y = blobs(spread=0.3, seed=1)  # new images of the same classes
    assert (svms.predict(test_x) == test_y).mean() == 1.0
    assert svms.decision_function(test_x).shape == (200, 4)


def test_c_is_chosen_on_held_out_data_then_refit_on_everything():
    x, y = blobs(spread=6.0)  # overlapping classes: C matters
    candidates = [1e-6, 1e-3, 1.0]
    svms = fit_one_vs_rest(x, np.eye(4)[y], c_values=candidates, holdout=0.2, seed=3)
    assert sorted(svms.validation) == candidates
    assert all(0 <= score <= 1 for score in svms.validation.values())
    assert svms.c == max(svms.validation, key=svms.validation.get)
    assert len(set(svms.validation.values())) > 1  # the candidates were really compared
    for k in range(4):  # the final SVMs are fit on the whole training split with the best C
        reference = LinearSVC(C=svms.c, dual="auto", max_iter=10000).fit(x, y == k)
        np.testing.assert_allclose(svms.weights[k], reference.coef_[0], rtol=1e-3, atol=1e-4)


def test_a_fixed_c_skips_the_selection():
    x, y = blobs()
    svms = fit_one_vs_rest(x, np.eye(4)[y], c=0.5)
    assert svms.c == 0.5 and svms.validation == {}


def test_ignored_pairs_leave_their_class_svm_untouched():
    x, y = blobs(n=120, classes=2)
    targets = np.eye(2)[y]
    ignore = np.zeros_like(targets, bool)
    ignore[:10, 0] = True  # e.g. VOC images whose only objects of class 0 are difficult
    flipped = targets.copy()
    flipped[:10, 0] = 1 - flipped[:10, 0]  # whatever their labels say must not matter
    a = fit_one_vs_rest(x, targets, ignore=ignore, c=1.0)
    b = fit_one_vs_rest(x, flipped, ignore=ignore, c=1.0)
    np.testing.assert_allclose(a.weights[0], b.weights[0], rtol=1e-5)
    reference = LinearSVC(C=1.0, dual="auto", max_iter=10000).fit(x[10:], y[10:] == 0)
    np.testing.assert_allclose(a.weights[0], reference.coef_[0], rtol=1e-3, atol=1e-4)


def test_multi_label_targets_select_c_by_mean_ap():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 8))
    targets = (x[:, :3] > 0.3).astype(int)  # three overlapping labels
    svms = fit_one_vs_rest(x, targets, c_values=[0.01, 1.0])
    assert svms.c in (0.01, 1.0) and len(svms.validation) == 2
    assert svms.decision_function(x).shape == (150, 3)


def test_class_without_positives_gets_a_constant_low_score():
    x, y = blobs(n=60, classes=2)
    targets = np.column_stack([np.eye(2)[y], np.zeros(60)])
    svms = fit_one_vs_rest(x, targets, c=1.0)
    np.testing.assert_array_equal(svms.decision_function(x)[:, 2], -1.0)


def test_bad_inputs_are_named():
    x, y = blobs(n=20)
    with pytest.raises(ValueError, match="targets.shape"):
        fit_one_vs_rest(x, np.eye(4)[y][:10])
    with pytest.raises(ValueError, match="holdout=1.5"):
        fit_one_vs_rest(x, np.eye(4)[y], holdout=1.5)
    with pytest.raises(ValueError, match="c=-1"):
        fit_one_vs_rest(x, np.eye(4)[y], c=-1)


RESULTS = [
    {"dataset": "voc2007", "features": "D", "value": 88.04, "std": None, "metric": "mAP (11pt)"},
    {"dataset": "caltech101", "features": "D", "value": 90.51, "std": 0.84, "metric": "recall"},
    {"dataset": "voc2007", "features": "my net", "value": 70.0, "std": None, "metric": "mAP"},
]


def test_table_11_puts_the_paper_beside_ours():
    table = table_11(RESULTS)
    labels = [row["features"] for row in table["rows"]]
    assert labels == ["D", "E", "D & E", "my net"]
    d = table["rows"][0]
    assert d["voc2007"] == {"kvgg": {"value": 88.04, "std": None}, "paper": PAPER_TABLE_11_D07}
    assert d["caltech101"]["paper"] == {"value": 91.8, "std": 1.0}
    assert d["voc2012"]["kvgg"] is None
    assert table["rows"][3]["voc2007"]["paper"] is None
    assert table["columns"]["voc2007"]["kvgg"] == "mAP (11pt)"

    lines = format_markdown(table).splitlines()
    assert lines[0].startswith("| features | VOC-2007 kvgg | paper | VOC-2012 kvgg | paper |")
    assert (
        lines[2] == "| D | 88.0 | 89.3 | - | 89.0 | 90.5 +- 0.8 | 91.8 +- 1.0 | - | 85.0 +- 0.2 |"
    )
    assert lines[5] == "| my net | 70.0 | - | - | - | - | - | - | - |"
    with pytest.raises(ValueError, match="voc2010"):
        table_11([{**RESULTS[0], "dataset": "voc2010"}])


PAPER_TABLE_11_D07 = {"value": PAPER_TABLE_11["D"]["voc2007"][0], "std": None}


def test_write_report_writes_markdown_and_json(tmp_path):
    table = write_report(RESULTS, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == table
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| D & E | - | 89.7 | - | 89.3 | - | 92.7 +- 0.5 | - | 86.2 +- 0.3 |" in markdown
    assert not list((tmp_path / "out").glob("*.part"))
