"""The named steps of a training run, in process: data checked before the
model is built, and a failed final evaluation keeps the run."""

import json

import keras
import numpy as np
import pytest

from keras_fastfcn.config import TrainConfig
from keras_fastfcn.models.presets import from_preset
from keras_fastfcn.models.presets import load_preset_metadata
from keras_fastfcn.utils.cli import UserError
from tests.data import fakes

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="training uses tf.data"
)

TINY = dict(
    backbone="resnet18",
    base_width=8,
    neck_width=16,
    crop_size=32,
    base_size=36,
    batch_size=1,
    steps_per_epoch=1,
    val_steps=1,
    epochs=1,
    num_visualizations=0,
)


def test_bad_files_are_all_reported_before_the_model_is_built(
    tmp_path, monkeypatch
):
    from keras_fastfcn import train as train_module

    root = fakes.make_camvid(tmp_path / "camvid", [0, 1, 2, 11])
    (root / "train" / "0001TP_000001.png").write_bytes(b"not an image")
    fakes.write_label(
        root / "trainannot" / "0001TP_000000.png", fakes.label_with([40])
    )

    def built(*args, **kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr(train_module, "build_and_compile", built)
    out = tmp_path / "run"
    config = TrainConfig(
        dataset="camvid", data_dir=str(root), output_dir=str(out), **TINY
    )
    with pytest.raises(UserError) as info:
        train_module.train(config)
    message = str(info.value)
    assert "2 problems in camvid/train" in message
    assert "0001TP_000001.png" in message and "0001TP_000000.png" in message
    assert "--validate-data off" in message
    assert not out.exists()  # nothing written before the checks pass


def test_failed_final_evaluation_keeps_the_run(tmp_path, monkeypatch):
    from keras_fastfcn import train as train_module

    def broken(*args, **kwargs):
        raise RuntimeError("evaluation exploded")

    monkeypatch.setattr(train_module, "evaluate_model", broken)
    out = tmp_path / "run"
    config = TrainConfig(dataset="sample", output_dir=str(out), **TINY)
    summary = train_module.train(config)
    assert summary["evaluation_error"] == "RuntimeError: evaluation exploded"
    assert "mean_iou" not in summary
    written = json.loads((out / "summary.json").read_text())
    assert written["evaluation_error"] == summary["evaluation_error"]
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert (out / "checkpoints" / state["last"]).is_file()
    # the best model is still a preset, without metrics
    assert written["preset"] == str(out / "preset")
    metadata = load_preset_metadata(out / "preset")
    assert metadata.metrics is None
    assert metadata.dataset == "sample" and metadata.num_classes == 11
    assert metadata.class_names[0] == "sky"
    assert (metadata.base_size, metadata.crop_size) == (36, 32)
    assert metadata.training["backbone"] == "resnet18"
    assert from_preset(out / "preset").num_classes == 11

    required = TrainConfig(
        dataset="sample",
        output_dir=str(tmp_path / "required"),
        require_evaluation=True,
        **TINY,
    )
    with pytest.raises(RuntimeError, match="evaluation exploded"):
        train_module.train(required)


def test_final_report_writes_the_best_model_as_a_preset(tmp_path):
    from keras_fastfcn import train as train_module

    out = tmp_path / "run"
    config = TrainConfig(dataset="sample", output_dir=str(out), **TINY)
    summary = train_module.train(config)
    metadata = load_preset_metadata(out / "preset")
    assert metadata.metrics["mean_iou"] == pytest.approx(summary["mean_iou"])
    assert metadata.metrics["pixel_accuracy"] == pytest.approx(
        summary["pixel_accuracy"]
    )
    assert 0.0 <= metadata.metrics["mean_iou"] <= 1.0
    assert metadata.metrics["split"] == "val"
    assert metadata.ignore_label == 255
    assert metadata.palette.shape == (11, 3)
    assert metadata.training["epochs"] == 1
    # the preset holds the best checkpoint's weights
    best = keras.models.load_model(summary["checkpoint"], compile=False)
    preset = from_preset(out / "preset")
    for expected, actual in zip(best.weights, preset.weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(actual),
            keras.ops.convert_to_numpy(expected),
        )
