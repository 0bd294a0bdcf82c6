"""Presets: save / load round trip, atomic writes, clear errors."""

import json

import keras
import numpy as np
import pytest

import keras_fastfcn
from keras_fastfcn.models import presets
from keras_fastfcn.models.presets import PresetMetadata
from tests.helpers import randomize_weights

NAMES = ("road", "sky", "tree")
PALETTE = [[128, 64, 128], [70, 130, 180], [107, 142, 35]]


def _tiny(num_classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras_fastfcn.build_model(
        "fcn_jpu", "resnet18", num_classes, base_width=8, neck_width=16
    )
    randomize_weights(model, seed)
    return model


def _metadata(**changes):
    values = dict(
        class_names=NAMES,
        palette=PALETTE,
        base_size=72,
        crop_size=64,
        dataset="toy",
        training={"lr": 0.01, "epochs": 2},
        metrics={"mean_iou": 0.25},
    )
    values.update(changes)
    return PresetMetadata(**values)


def test_round_trip_gives_the_same_outputs_and_metadata(tmp_path):
    model = _tiny()
    path = keras_fastfcn.save_preset(model, tmp_path / "p", _metadata())
    assert sorted(p.name for p in path.iterdir()) == sorted(
        presets.PRESET_FILES
    )
    assert not [p for p in tmp_path.iterdir() if p.name != "p"]  # no temp
    config = json.loads((path / "config.json").read_text())
    assert config["class_name"] == "SegmentationModel"
    assert config["config"]["num_classes"] == 3

    loaded = keras_fastfcn.from_preset(path)
    images = np.random.default_rng(0).normal(size=(1, 64, 64, 3))
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    actual = keras.ops.convert_to_numpy(loaded(images, training=False))
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    assert len(loaded.weights) == len(model.weights)

    metadata = keras_fastfcn.load_preset_metadata(path)
    assert metadata.class_names == NAMES
    np.testing.assert_array_equal(metadata.palette, PALETTE)
    assert metadata.palette.dtype == np.uint8
    assert (metadata.base_size, metadata.crop_size) == (72, 64)
    assert metadata.ignore_label == 255
    assert metadata.mean == pytest.approx((0.485, 0.456, 0.406))
    assert metadata.std == pytest.approx((0.229, 0.224, 0.225))
    assert metadata.training == {"lr": 0.01, "epochs": 2}
    assert metadata.metrics == {"mean_iou": 0.25}
    stored = json.loads((path / "metadata.json").read_text())
    assert stored["num_classes"] == 3 and stored["format_version"] == 1
    assert metadata.classes()[1] == {
        "id": 1,
        "name": "sky",
        "color": [70, 130, 180],
    }


def test_existing_preset_is_kept_unless_overwrite(tmp_path):
    path = tmp_path / "p"
    keras_fastfcn.save_preset(_tiny(seed=0), path, _metadata())
    with pytest.raises(FileExistsError, match="overwrite=True"):
        keras_fastfcn.save_preset(_tiny(seed=1), path, _metadata())
    second = _tiny(seed=1)
    keras_fastfcn.save_preset(
        second, path, _metadata(metrics=None), overwrite=True
    )
    assert keras_fastfcn.load_preset_metadata(path).metrics is None
    loaded = keras_fastfcn.from_preset(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.weights[0]),
        keras.ops.convert_to_numpy(second.weights[0]),
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    model = _tiny()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model, "save_weights", broken)
    with pytest.raises(OSError, match="disk full"):
        keras_fastfcn.save_preset(model, tmp_path / "p", _metadata())
    assert list(tmp_path.iterdir()) == []


def test_class_count_must_match_the_model(tmp_path):
    with pytest.raises(ValueError, match="predicts 4 classes .* names 3"):
        keras_fastfcn.save_preset(_tiny(4), tmp_path / "p", _metadata())
    with pytest.raises(ValueError, match=r"palette must be \(3, 3\)"):
        _metadata(palette=PALETTE[:2])


def test_missing_and_corrupt_presets_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        keras_fastfcn.from_preset(tmp_path / "nothing")
    path = keras_fastfcn.save_preset(_tiny(), tmp_path / "p", _metadata())

    (path / "model.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="model.weights.h5.*write it again"):
        keras_fastfcn.from_preset(path)
    (path / "model.weights.h5").unlink()
    with pytest.raises(FileNotFoundError, match="has no model.weights.h5"):
        keras_fastfcn.from_preset(path)

    (path / "metadata.json").write_text("{broken")
    with pytest.raises(ValueError, match="metadata.json is not valid JSON"):
        keras_fastfcn.load_preset_metadata(path)
    (path / "metadata.json").write_text('{"class_names": ["a"]}')
    with pytest.raises(ValueError, match="not valid preset metadata"):
        keras_fastfcn.load_preset_metadata(path)

    for config in (
        '{"class_name": "NoSuchModel"}',
        '{"module": null, "class_name": "NoSuchModel", "config": {}}',
    ):
        (path / "config.json").write_text(config)
        with pytest.raises(ValueError, match="Cannot build a model from"):
            keras_fastfcn.from_preset(path)


def test_remote_handles_are_refused_without_downloading():
    with pytest.raises(ValueError, match="download it first"):
        keras_fastfcn.from_preset("kaggle://someone/fastfcn/keras/ade20k")
    with pytest.raises(ValueError, match="download it first"):
        keras_fastfcn.load_preset_metadata("hf://someone/fastfcn")
