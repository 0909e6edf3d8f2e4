"""`kvgg report`: every evaluation kept and said what it was measured on; Tables 8 and 9;
a picture that reads cleanly."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kvgg.cli import main
from kvgg.evaluate.paper_tables import draw, format_text, tables
from kvgg.io import save_model
from kvgg.localize import build_localizer
from kvgg.localize.demo import pasted_objects
from tests.helpers import tiny_model

NAMES = ["blue", "green", "red"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _record(config, scales, top1, *, data="val", images=3, flip=True, file="r.json"):
    models = [
        {"config": c, "train_scale": 256, "scales": q, "method": "dense"}
        for c, q in zip(config, scales, strict=True)
    ]
    return {
        "method": "dense",
        "scales": sorted({q for qs in scales for q in qs}),
        "flip": flip,
        "top1_error": top1,
        "top5_error": top1 / 4,
        "per_model": models,
        "file": file,
        "data": data,
        "images": images,
    }


def test_every_evaluation_is_kept_and_says_what_it_was_measured_on():
    records = [
        _record(["A"], [[32]], 0.0167, data="digits:test", images=360, file="a.json"),
        _record(["A"], [[32]], 0.30, data="val", images=60, file="b.json"),
        _record(["A"], [[32]], 0.31, data="val", images=60, flip=False, file="c.json"),
    ]
    report = tables(records)
    shown = [line for line in report.others if line.yours is not None]
    assert sorted(line.source for line in shown) == ["a.json", "b.json", "c.json"]
    text = format_text(report)
    assert "digits:test, 360 images" in text and "val, 60 images, no flips" in text
    assert "1.67 / 0.42" in text  # the digits:test result is not hidden


def test_a_fusion_at_other_test_scales_is_labelled_per_model():
    record = _record(["A", "A"], [[36, 40, 44], [32, 36, 40]], 0.2)
    (line,) = tables([record]).others
    assert "Q=32,36,40 / 36,40,44" in line.label
    assert "Q=36,40,44,32" not in line.label


def _localisation_record(rows, file="loc.json"):
    return {"kind": "localization", "data": "val", "images": 50, "threshold": 0.1,
            "flip": True, "classifiers": [], "rows": rows, "file": file}  # fmt: skip


def _net(config, regression, fine_tune, scale, scales):
    return {"path": "runs/loc", "config": config, "regression": regression,
            "fine_tune": fine_tune, "train_scale": scale, "scales": scales}  # fmt: skip


def test_localisation_records_fill_tables_8_and_9_beside_the_paper():
    rows = [
        {"model": "runs/loc", "protocol": 1, "setting": "s", "error": 0.35,
         "nets": [_net("D", "pcr", "all", 384, [384])]},
        {"model": "runs/loc", "protocol": 2, "setting": "dense S=384 Q=352,384", "error": 0.3,
         "nets": [_net("D", "pcr", "all", 384, [352, 384])]},
        {"model": "fusion", "protocol": 2, "setting": "dense fusion", "error": 0.28,
         "nets": [_net("D", "pcr", "all", 256, [256]), _net("D", "pcr", "all", 384, [384])]},
    ]  # fmt: skip
    report = tables([_localisation_record(rows)])
    by_name = {t.name: t for t in report.tables}
    table8 = {line.label: line for line in by_name["table8"].lines}
    assert table8["D, all layers, PCR, S=384"].paper == (33.1,)
    assert table8["D, all layers, PCR, S=384"].yours == pytest.approx((35.0,))
    assert table8["D, fc layers, SCR, S=384"].yours is None
    table9 = {line.label: line for line in by_name["table9"].lines}
    assert table9["D, all layers, PCR, dense: S=384 Q=352,384"].yours == pytest.approx((30.0,))
    assert table9["D, all layers, PCR, dense: S=384 Q=352,384"].paper == (27.5,)
    # a fusion the paper did not run: listed after, without a paper number
    assert [(line.label, line.paper) for line in report.others] == [("dense fusion", None)]
    text = format_text(report)
    assert "Table 8" in text and "Table 9" in text and "Other localisation" in text
    assert "val, 50 images, threshold 0.1" in text


def test_the_picture_reads_cleanly():
    records = [
        _record(["A"], [[32]], 0.93, file="a.json"),
        _record(["B"], [[32]], 0.02, file="b.json"),
        _record(["C"], [[32]], 0.0, file="c.json"),
    ]  # none is a row of the paper: no paper bars
    figure = draw(tables(records))
    (top1, top5) = figure.axes
    assert top1.get_legend() is None  # no "paper" entry without paper bars
    labels = [text.get_text() for text in top1.texts]
    assert sorted(labels) == ["0.00", "2.00", "93.00"]  # a bar at 0.00 still shows
    assert top1.get_yscale() == "symlog"  # 93% would flatten 2%
    ticks = top1.get_xticklabels()
    assert all(tick.get_rotation() > 0 for tick in ticks)  # slanted: no overlap
    figure.canvas.draw()
    boxes = [tick.get_window_extent() for tick in ticks]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    import matplotlib.pyplot as plt

    plt.close(figure)


def test_evaluate_boxes_records_into_the_run_and_report_shows_tables_8_and_9(tmp_path):
    run = tmp_path / "runs" / "loc_d_s384"
    run.mkdir(parents=True)
    (run / "recipe.yaml").write_text("name: loc_d_s384\n")
    classifier = tiny_model("D", num_classes=3)
    save_model(classifier, tmp_path / "cls.keras", class_names=NAMES, info={"scale": 40})
    info = {"config": "D", "scale": 384,
            "recipe": {"localization": {"regression": "pcr", "fine_tune": "all"}}}  # fmt: skip
    localizer = build_localizer(classifier, regression="pcr", seed=0)
    save_model(localizer, run / "model.keras", class_names=NAMES, info=info)
    images, annotations = pasted_objects(tmp_path / "data", per_class=1, size=(48, 64))
    result = invoke(
        "evaluate", "--model", run, "--classifier", tmp_path / "cls.keras", "--data", images,
        "--boxes", annotations, "--scales", "352,384", "--no-flip",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (record,) = (run / "evaluations").glob("boxes-*.json")
    saved = json.loads(record.read_text())
    assert saved["flip"] is False  # --no-flip applied to the classifier
    # the file says D, PCR, all layers, S=384: Table 8's row, and Table 9's at Q={352, 384}
    assert [row["paper"] for row in saved["rows"]] == [33.1, 27.5]
    result = invoke("report", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    table9 = result.output.split("Table 9")[1]
    (line,) = [
        x
        for x in table9.splitlines()
        if x.startswith("D, all layers, PCR, dense: S=384 Q=352,384 ")
    ]
    assert "27.5" in line and f"{100 * saved['rows'][1]['error']:.2f}" in line
    assert f"{images}, 3 images" in line
    assert "Table 3" not in result.output  # no classification evaluated: no blank tables


def test_tables_8_and_9_in_markdown_json_and_the_picture():
    from kvgg.evaluate.paper_tables import format_markdown, to_json

    rows = [
        {"model": "runs/loc", "protocol": 1, "setting": "s", "error": 0.35,
         "nets": [_net("D", "scr", "fc", 384, [384])]},
    ]  # fmt: skip
    report = tables([_localisation_record(rows)])
    markdown = format_markdown(report)
    assert "| D, fc layers, SCR, S=384 | 36.4 | 35.00 | val, 50 images, threshold 0.1 |" in markdown
    lines = {line["row"]: line for t in to_json(report)["tables"] for line in t["lines"]}
    assert lines["D, fc layers, SCR, S=384"]["paper"] == {"error": 36.4}
    assert lines["D, fc layers, SCR, S=384"]["yours"] == {"error": pytest.approx(35.0)}
    figure = draw(report)
    (axes,) = figure.axes  # localisation only: one panel
    assert axes.get_ylabel() == "localisation error %"
    assert axes.get_legend() is not None  # the paper's bar is there
    import matplotlib.pyplot as plt

    plt.close(figure)
