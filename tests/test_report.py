"""`kvgg report`: recorded evaluations of smoke runs laid out as the paper's Tables 3-7."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from kvgg.cli import main
from kvgg.evaluate.paper_numbers import TABLE3
from kvgg.evaluate.paper_tables import format_text, tables
from kvgg.io import save_model
from tests.data_fixtures import make_image_folder
from tests.helpers import tiny_model

CLASSES = ["cat", "dog", "fish"]
D_SINGLE = "D, S=[256;512], Q=384, dense"
D_BOTH = "D, S=[256;512], Q=256,384,512, multi-crop & dense"
E_DENSE = "E, S=[256;512], Q=256,384,512, dense"
FUSED = "D & E, S=[256;512], Q=256,384,512, dense"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def fake_run(root, name, config, scale, seed):
    """A run directory as `kvgg fit` leaves it: recipe.yaml and model.keras with metadata."""
    run = root / name
    run.mkdir()
    (run / "recipe.yaml").write_text(f"name: {name}\n")
    model = tiny_model(config, num_classes=3, name=name)
    for weight in model.weights:  # distinct weights per run, so errors differ
        weight.assign(weight * (1 + 0.1 * seed))
    save_model(
        model, run / "model.keras", class_names=CLASSES, info={"config": config, "scale": scale}
    )
    return run


def measured(root) -> str:
    """What the fixture's evaluations were measured on, as the report says it."""
    return f"{root.parent / 'val'}, 3 images"


def printed_errors(output: str) -> str:
    """The `top1 / top5` pair `kvgg evaluate` printed, as the report writes it."""
    top1 = re.search(r"top-1 error\s+([\d.]+) %", output).group(1)
    top5 = re.search(r"top-5 error\s+([\d.]+) %", output).group(1)
    return f"{float(top1):.2f} / {float(top5):.2f}"


def rows(output: str, label: str) -> list[str]:
    """The numbers of every line of ``output`` whose row is ``label``."""
    return [
        re.sub(r"\s{2,}", "  ", line[len(label) :].strip())
        for line in output.splitlines()
        if line.startswith(label + " ") or line == label
    ]


def row(output: str, label: str) -> str:
    (numbers,) = rows(output, label)
    return numbers


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """D evaluated twice (Q=384 dense; Q=256,384,512 both), E once, D & E fused, A at S=32."""
    root = tmp_path_factory.mktemp("runs")
    data = root.parent / "val"
    make_image_folder(data, classes=CLASSES, per_class=1, size=(40, 56))
    d = fake_run(root, "vgg16", "vgg16", [256, 512], 0)  # an alias: still row D
    e = fake_run(root, "vgg19", "E", [256, 512], 1)
    a = fake_run(root, "small", "A", 32, 2)  # fits no row of the paper
    printed = {}
    for key, args in {
        D_SINGLE: ("--model", d, "--scales", "384"),
        D_BOTH: ("--model", d, "--method", "both"),  # scales: the preset of [256, 512]
        E_DENSE: ("--model", e),
        FUSED: ("--model", d, "--model", e),
        "A, S=32, Q=32,64, dense": ("--model", a),
    }.items():
        result = invoke("evaluate", *args, "--data", data)
        assert result.exit_code == 0, result.output
        printed[key] = printed_errors(result.output)
    return root, printed


@pytest.mark.slow  # five evaluations at Q up to 512
def test_report_prints_the_papers_tables_with_what_evaluate_printed(evaluated):
    root, printed = evaluated
    on = measured(root)
    result = invoke("report", root / "vgg16", root / "vgg19", root / "small")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("Table 3") < out.index("Table 4") < out.index("Table 5") < out.index("6/7")
    assert row(out, D_SINGLE) == f"25.6 / 8.1  {printed[D_SINGLE]}  {on}"
    assert row(out, D_BOTH) == f"24.4 / 7.2  {printed[D_BOTH]}  {on}"  # evaluated twice: both kept
    # Table 4's and Table 5's E rows are the same evaluation.
    assert rows(out, E_DENSE) == [f"24.8 / 7.5  {printed[E_DENSE]}  {on}"] * 2
    assert row(out, FUSED) == f"24.0 / 7.1  {printed[FUSED]}  {on}"
    assert row(out, "A, S=256, Q=256, dense") == "29.6 / 10.4"  # never run: blank
    assert row(out, "D, S=256, Q=256, dense") == "27.0 / 8.8"
    other = out.split("Other evaluations")[1]
    assert printed["A, S=32, Q=32,64, dense"] in row(other, "A, S=32, Q=32,64, dense")
    # Table 3 has every row of the paper, each with its numbers.
    table3 = out.split("Table 4")[0]
    assert sum(f"{p[0]:.1f} / {p[1]:.1f}" in table3 for p in TABLE3.values()) == len(TABLE3)


@pytest.mark.slow  # five evaluations at Q up to 512
def test_report_of_a_folder_of_runs_writes_markdown_json_and_a_picture(evaluated, tmp_path):
    root, printed = evaluated
    on = measured(root)
    md, js, png = tmp_path / "t.md", tmp_path / "t.json", tmp_path / "t.png"
    result = invoke("report", root, "-o", md, "-o", js, "-o", png)
    assert result.exit_code == 0, result.output
    assert result.output.index("Table 3") < result.output.index(f"Wrote {md}")
    assert f"| {D_SINGLE} | 25.6 / 8.1 | {printed[D_SINGLE]} | {on} |" in md.read_text()
    data = json.loads(js.read_text())
    lines = {line["row"]: line for t in data["tables"] for line in t["lines"]}
    yours = lines[D_BOTH]["yours"]
    assert f"{yours['top1']:.2f} / {yours['top5']:.2f}" == printed[D_BOTH]
    assert lines[D_BOTH]["paper"] == {"top1": 24.4, "top5": 7.2}
    assert lines["A, S=256, Q=256, dense"]["yours"] is None
    # The fusion is recorded in both runs' directories but reported once.
    assert [line["row"] for line in data["other"]] == ["A, S=32, Q=32,64, dense"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


@pytest.mark.slow  # five evaluations at Q up to 512
def test_evaluate_json_reports_are_accepted_too(evaluated, tmp_path):
    root, printed = evaluated
    on = measured(root)
    (record,) = [
        path
        for path in (root / "vgg19" / "evaluations").glob("dense-256_384_512-flip-*")
        if "fusion" not in path.name
    ]
    copy = tmp_path / "e.json"
    copy.write_text(record.read_text())
    result = invoke("report", copy)
    assert result.exit_code == 0, result.output
    assert rows(result.output, E_DENSE) == [f"24.8 / 7.5  {printed[E_DENSE]}  {on}"] * 2
    assert row(result.output, D_SINGLE) == "25.6 / 8.1"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not a readable JSON report"),
        ('{"images": 3}', "is not a `kvgg evaluate` report (missing method"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(tmp_path, content, expected):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    for args, message in [((bad,), expected), ((tmp_path / "nowhere",), "No run directory")]:
        result = invoke("report", *args)
        assert result.exit_code == 2 and message in result.output
        assert len(result.output.strip().splitlines()) == 1
    empty = tmp_path / "empty_runs"
    empty.mkdir()
    result = invoke("report", empty, "-o", tmp_path / "t.md")
    assert result.exit_code == 2 and "No evaluation recorded" in result.output
    assert not (tmp_path / "t.md").exists()
    result = invoke("report", empty, "-o", tmp_path / "t.txt")
    assert result.exit_code == 2 and "must end in .md, .json" in result.output


def _record(config, train_scale, scales, method, top1, flip=True, file="r.json"):
    model = {"config": config, "train_scale": train_scale, "scales": scales, "method": method}
    return {
        "method": method,
        "scales": scales,
        "flip": flip,
        "top1_error": top1,
        "top5_error": top1 / 4,
        "per_model": [model],
        "file": file,
        "data": "val",
        "images": 3,
    }


def test_rows_are_matched_by_config_scale_and_method():
    """Fast: hand-made records; a row nobody ran stays blank; flips win over no flips."""
    records = [
        _record("D", [256, 512], [384], "dense", 0.25, flip=False, file="noflip.json"),
        _record("vgg16", [256, 512], [384], "dense", 0.2561, file="flip.json"),
        _record("D", [256, 512], [256, 384, 512], "multicrop", 0.246),
        _record("B-5x5", 256, [256], "dense", 0.35),
    ]
    report = tables(records)
    lines = {line.label: line for table in report.tables for line in table.lines}
    assert lines[D_SINGLE].yours == pytest.approx((25.61, 6.4025))
    assert lines[D_SINGLE].source == "flip.json"
    assert lines["D, S=[256;512], Q=256,384,512, multi-crop"].yours == pytest.approx((24.6, 6.15))
    assert lines["A, S=256, Q=256, dense"].yours is None
    # the evaluation without flips is not dropped: listed after, saying how it was measured
    assert [line.label for line in report.others] == ["B-5x5, S=256, Q=256, dense", D_SINGLE]
    assert report.others[1].on == "val, 3 images, no flips"
    text = format_text(report)
    assert rows(text, D_SINGLE) == [
        "25.6 / 8.1  25.61 / 6.40  val, 3 images",
        "25.00 / 6.25  val, 3 images, no flips",
    ]
    assert row(text, "B-5x5, S=256, Q=256, dense") == "35.00 / 8.75  val, 3 images"
