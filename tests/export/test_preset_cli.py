"""`fastfcn predict / evaluate / export --preset`: no dataset or
architecture options, class names and sizes from the preset."""

import json
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from PIL import Image

import keras_fastfcn
from keras_fastfcn.cli import evaluate as evaluate_cli
from keras_fastfcn.cli import export as export_cli
from keras_fastfcn.cli import predict as predict_cli
from keras_fastfcn.data import load_dataset
from keras_fastfcn.data import palettes
from keras_fastfcn.evaluate import evaluate_model
from keras_fastfcn.export.preprocessing import ResizePolicy
from keras_fastfcn.export.saved_model import read_export_config
from keras_fastfcn.models.presets import PresetMetadata
from keras_fastfcn.utils.cli import UserError
from tests.export.tiny_models import random_images
from tests.helpers import randomize_weights

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.data / SavedModel"
)

CAMVID = tuple(palettes.CAMVID_CLASSES)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("preset_cli")
    keras.utils.set_random_seed(0)
    model = keras_fastfcn.build_model(
        "fcn_jpu", "resnet18", 11, base_width=8, neck_width=16
    )
    randomize_weights(model, seed=3)
    metadata = PresetMetadata(
        class_names=CAMVID,
        palette=palettes.CAMVID_PALETTE,
        base_size=48,
        crop_size=32,
        dataset="sample",
    )
    preset = keras_fastfcn.save_preset(model, tmp / "preset", metadata)
    image = tmp / "street.png"
    Image.fromarray(random_images(1, 60, 80, seed=4)[0]).save(image)
    return SimpleNamespace(tmp=tmp, model=model, preset=preset, image=image)


def test_predict_names_classes_and_runs_at_the_training_size(
    setup, tmp_path, capsys
):
    out = tmp_path / "out"
    argv = [str(setup.image), "--out", str(out), "--preset", str(setup.preset)]
    assert predict_cli.main(argv) == 0
    classes = json.loads((out / "classes.json").read_text())
    assert [c["name"] for c in classes] == list(CAMVID)
    assert classes[0]["color"] == [128, 128, 128]
    printed = capsys.readouterr().out
    line = [x for x in printed.splitlines() if x.startswith(str(setup.image))]
    assert len(line) == 1 and "%" in line[0]
    assert any(name in line[0] for name in CAMVID)

    args = predict_cli.parse_arguments(argv)
    segmenter = predict_cli.load_segmenter(args)
    assert segmenter._policy == ResizePolicy("long_side", (48,))
    with Image.open(setup.image) as image:
        pixels = np.asarray(image.convert("RGB"))
    expected = predict_cli.segment_image(
        setup.model, pixels, ResizePolicy("long_side", (48,))
    )
    with Image.open(out / "street_classes.png") as written:
        np.testing.assert_array_equal(np.asarray(written), expected)
    # the share printed is that of the written class map
    counts = np.bincount(expected.ravel(), minlength=11)
    top = int(counts.argmax())
    assert f"{CAMVID[top]} {100 * counts[top] / expected.size:.1f}%" in line[0]

    # --size overrides the training size
    args = predict_cli.parse_arguments(argv + ["--size", "none"])
    assert predict_cli.load_segmenter(args)._policy == ResizePolicy()


def test_evaluate_takes_dataset_and_sizes_from_the_preset(setup, tmp_path):
    results = evaluate_cli.main(
        [
            "--preset", str(setup.preset),
            "--max-images", "2",
            "--num-visualizations", "0",
            "--output-dir", str(tmp_path / "evaluation"),
        ]
    )  # fmt: skip
    spec = load_dataset("sample", None, split="val")
    expected = evaluate_model(
        setup.model, spec, base_size=48, crop_size=32, max_images=2
    )
    assert results["images"] == 2
    assert results["mean_iou"] == pytest.approx(expected["mean_iou"])
    assert results["pixel_accuracy"] == pytest.approx(
        expected["pixel_accuracy"]
    )


def test_evaluate_without_dataset_or_preset_is_refused(tmp_path):
    args = evaluate_cli.parse_args(["--random-weights", "--num-classes", "3"])
    with pytest.raises(UserError, match="--dataset"):
        evaluate_cli.check_arguments(args)


def test_export_stores_class_names_and_palette(setup, tmp_path):
    out = tmp_path / "serving"
    argv = ["--format", "saved_model", "--output", str(out)]
    assert export_cli.main(argv + ["--preset", str(setup.preset)]) == 0
    config = read_export_config(out / "1")
    assert [c["name"] for c in config["classes"]] == list(CAMVID)
    assert [c["id"] for c in config["classes"]] == list(range(11))
    assert config["classes"][1]["color"] == [128, 0, 0]
    assert config["dataset"] == "sample" and config["ignore_label"] == 255
    assert config["resize_policy"]["mode"] == "long_side"
    assert config["resize_policy"]["size"] == [48]

    # predict on the SavedModel labels classes from the export
    predicted = tmp_path / "predicted"
    predict_cli.main(
        [str(setup.image), "--out", str(predicted), "--saved-model"]
        + [str(out / "1")]
    )
    classes = json.loads((predicted / "classes.json").read_text())
    assert [c["name"] for c in classes] == list(CAMVID)
    with Image.open(predicted / "street_classes.png") as image:
        from_saved_model = np.asarray(image)
    with Image.open(setup.image) as image:
        pixels = np.asarray(image.convert("RGB"))
    np.testing.assert_array_equal(
        from_saved_model,
        predict_cli.segment_image(
            setup.model, pixels, ResizePolicy("long_side", (48,))
        ),
    )


def test_bad_preset_options_are_one_line_errors(setup, tmp_path):
    missing = ["x.png", "--out", str(tmp_path), "--preset", "nowhere"]
    with pytest.raises(FileNotFoundError, match="--preset nowhere"):
        predict_cli.check_arguments(predict_cli.parse_arguments(missing))
    empty = tmp_path / "empty"
    empty.mkdir()
    args = predict_cli.parse_arguments(
        ["x.png", "--out", str(tmp_path / "o"), "--preset", str(empty)]
    )
    with pytest.raises(UserError, match="has no config.json"):
        predict_cli.check_arguments(args)
    both = export_cli.parse_arguments(
        ["--format", "saved_model", "--output", str(tmp_path / "s")]
        + ["--preset", str(setup.preset), "--random-weights"]
    )
    with pytest.raises(ValueError, match="exactly one of --preset"):
        export_cli.export(both)
