"""CSV files a user hands in (Kaggle's solution files, labels files): a file that is not UTF-8
or has a field past the csv module's limit is named with its line, in one line; no traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from PIL import Image

from kvgg.cli import main
from kvgg.data import labels_file
from kvgg.localize.annotations import kaggle_boxes

HEADER = "ImageId,PredictionString\n"


@pytest.fixture
def val(tmp_path):
    for image_id in ("val_1", "val_2", "val_3"):
        Image.new("RGB", (64, 48)).save(tmp_path / f"{image_id}.JPEG")
    return tmp_path


def test_kaggle_solution_in_latin1_names_the_file_and_line(val):
    solution = val / "LOC_val_solution.csv"
    text = HEADER + "val_1,n01440764 1 1 20 30\nval_2,n01443537 5 5 40 40 # café\n"
    solution.write_bytes(text.encode("latin-1"))
    for read in (lambda: kaggle_boxes(val, solution), lambda: labels_file(val, solution)):
        with pytest.raises(ValueError, match=r"LOC_val_solution\.csv:3: not UTF-8 text"):
            read()


def test_a_prediction_string_past_the_csv_field_limit_is_named_not_a_traceback(val):
    solution = val / "LOC_val_solution.csv"
    huge = " ".join(["n01440764 1 1 20 30"] * 8000)  # 160,000 characters
    solution.write_text(HEADER + "val_1,n01440764 1 1 20 30\n" + f"val_2,{huge}\n")
    for read in (lambda: kaggle_boxes(val, solution), lambda: labels_file(val, solution)):
        with pytest.raises(ValueError, match=r"LOC_val_solution\.csv:3: .*field larger"):
            read()


def test_the_cli_reports_a_latin1_labels_file_in_one_line_with_exit_2(val, tmp_path):
    labels = val / "labels.csv"
    labels.write_bytes("file,label\nval_1.JPEG,caf\xe9\n".encode("latin-1"))
    result = CliRunner().invoke(main, ["data", "check", f"labels:{val}?labels={labels}"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and "labels.csv:2: not UTF-8" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_a_labels_text_file_in_latin1_names_the_file_and_line(val):
    labels = val / "val.txt"
    labels.write_bytes("val_1.JPEG 0\nval_2.JPEG caf\xe9\nval_3.JPEG 1\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"val\.txt:2: not UTF-8 text"):
        labels_file(val, labels)
    good = val / "good.txt"
    good.write_text("val_1.JPEG 0\nval_2.JPEG 1\nval_3.JPEG 1\n")
    classes = val / "classes.txt"
    classes.write_bytes("cat\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"classes\.txt:2: not UTF-8 text"):
        labels_file(val, good, classes=classes)


def _latin1(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("latin-1"))
    return path


def test_text_and_json_files_in_latin1_name_the_file(tmp_path):
    """VOC image lists, colour statistics, class lists and evaluation records: the file and
    line, not Python's codec message."""
    from kvgg.data import open_source
    from kvgg.data.demo import make_voc
    from kvgg.data.stats import ColorStats
    from kvgg.evaluate.records import read_record

    make_voc(tmp_path)
    split = tmp_path / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main" / "train.txt"
    _latin1(split, split.read_text() + "caf\xe9\n")
    cases = [
        (lambda: open_source(f"voc:{tmp_path / 'VOCdevkit'}?year=2007&split=train"), split),
        (lambda: ColorStats.load(stats), stats := _latin1(tmp_path / "s.json", '{"x": "\xe9"}')),
        (lambda: read_record(record), record := _latin1(tmp_path / "r.json", '{"a": "\xe9"}')),
    ]
    for read, path in cases:
        with pytest.raises(ValueError, match=rf"{path.name}:\d+: not UTF-8 text"):
            read()
