import json

from click.testing import CliRunner

from kvgg.cli import main
from tests.data_fixtures import make_bad_files, make_image_folder


def test_to_tfrecord_writes_shards_readable_as_a_source(tmp_path):
    root = make_image_folder(tmp_path / "f", per_class=2)
    out = tmp_path / "shards"
    args = ["data", "to-tfrecord", str(root), "-o", str(out), "--shards", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "wrote 2 shards" in result.output
    assert len(list(out.glob("train-*-of-00002.tfrecord"))) == 2
    from kvgg.data import open_source

    assert len(open_source(f"tfrecord:{out}/train-*")) == 6


def test_stats_writes_json(tmp_path):
    root = make_image_folder(tmp_path / "f", per_class=2)
    out = tmp_path / "stats.json"
    result = CliRunner().invoke(
        main, ["data", "stats", str(root), "-o", str(out), "--max-images", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "mean RGB" in result.output and len(json.loads(out.read_text())["mean"]) == 3


def test_check_lists_bad_files_and_exits_1(tmp_path):
    root = make_image_folder(tmp_path / "f", classes=("a",), per_class=1)
    make_bad_files(root / "b")
    result = CliRunner().invoke(main, ["data", "check", str(root)])
    assert result.exit_code == 1
    assert "BAD   " in result.output and "empty.jpg: empty file (0 bytes)" in result.output
    assert "5 undecodable" in result.output
    clean = CliRunner().invoke(main, ["data", "check", str(make_image_folder(tmp_path / "ok"))])
    assert clean.exit_code == 0 and "0 undecodable, 0 notes" in clean.output


def test_bad_sources_exit_2_with_one_line(tmp_path):
    for args in (
        ["data", "check", str(tmp_path / "missing")],
        ["data", "stats", f"labels:{tmp_path}?labels={tmp_path / 'none.txt'}"],
        ["data", "to-tfrecord", "folder:x?bogus=1", "-o", str(tmp_path / "o")],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("Error: ") and result.output.count("\n") == 1
