import os
import stat

import keras
import numpy as np
import pytest

import kvgg
from kvgg.io import (
    class_names_for,
    imagenet_class_names,
    imagenet_synsets,
    load_model,
    read_info,
    resolve_model_file,
    save_model,
)
from tests.helpers import random_images, tiny_model


def test_save_model_keeps_metadata_and_loads_with_plain_keras(tmp_path):
    model = tiny_model("A")
    path = save_model(model, tmp_path / "m.keras", class_names=list("abcde"), info={"config": "A"})
    assert read_info(path)["class_names"] == list("abcde")
    assert read_info(path)["config"] == "A"
    images = random_images(2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.saving.load_model(path)(images)),
        keras.ops.convert_to_numpy(model(images)),
        rtol=1e-5,
    )
    assert class_names_for(path, 5) == list("abcde")
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]  # no partial file left
    assert read_info(path)["kvgg_version"] == kvgg.__version__


def test_a_run_directory_names_its_best_model_file(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(FileNotFoundError, match=f"'{run}' is a directory without a model.keras"):
        resolve_model_file(run)
    (run / "model.keras").write_bytes(b"")
    assert resolve_model_file(run) == run / "model.keras"
    assert resolve_model_file(tmp_path / "other.keras") == tmp_path / "other.keras"


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = save_model(tiny_model("A"), tmp_path / "m.keras", class_names=list("abcde"))
    before = path.read_bytes()

    def broken_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_model(tiny_model("B"), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_load_model_names_the_file_on_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "text.keras").write_text("not a model")
    with pytest.raises(ValueError, match="text.keras.*not a Keras model file"):
        load_model(tmp_path / "text.keras")
    import zipfile

    with zipfile.ZipFile(tmp_path / "foreign.keras", "w") as archive:
        archive.writestr("readme.txt", "a zip, but no model")
    with pytest.raises(ValueError, match="foreign.keras"):
        load_model(tmp_path / "foreign.keras")


def test_imagenet_class_names_ship_with_the_package():
    synsets = imagenet_synsets()
    assert len(synsets) == 1000 and synsets[0] == ("n01440764", "tench, Tinca tinca")
    assert [s for s, _ in synsets] == sorted(s for s, _ in synsets)
    assert imagenet_class_names()[1].startswith("goldfish")


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    from kvgg.io import write_npz, write_text

    previous = os.umask(umask)
    try:
        paths = [
            save_model(tiny_model("A"), tmp_path / "m.keras"),
            write_text(tmp_path / "notes.txt", "hello"),
            write_npz(tmp_path / "f.npz", x=np.zeros(2)),
        ]
    finally:
        os.umask(previous)
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in paths} == {
        path.name: mode for path in paths
    }
