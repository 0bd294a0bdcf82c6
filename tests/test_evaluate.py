import json

import keras
import numpy as np
import pytest
from PIL import Image

from keras_fastfcn.data import load_dataset
from keras_fastfcn.evaluate import denormalize
from keras_fastfcn.evaluate import evaluate_model
from keras_fastfcn.evaluate import format_results

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.data evaluation"
)


def _constant_model(num_classes: int, winner: int) -> keras.Model:
    """Predicts class `winner` everywhere (a 1x1 conv with a one-hot bias)."""
    inputs = keras.Input((None, None, 3))
    bias = np.full(num_classes, -5.0, "float32")
    bias[winner] = 5.0
    layer = keras.layers.Conv2D(
        num_classes,
        1,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(bias),
    )
    return keras.Model(inputs, layer(inputs))


def test_constant_prediction_gives_the_label_frequencies(tmp_path):
    spec = load_dataset("sample", split="val")
    road = spec.class_names.index("road")
    results = evaluate_model(
        _constant_model(spec.num_classes, road),
        spec,
        base_size=240,
        crop_size=256,
        output_dir=tmp_path,
        num_visualizations=2,
        progress=False,
    )
    # Independent count from the label files: road pixels / labelled pixels.
    labels = np.concatenate(
        [
            spec.label_lut[np.asarray(Image.open(label))].ravel()
            for _, label in spec.pairs
        ]
    )
    labelled = labels != spec.ignore_label
    road_pixels = np.sum(labels == road)
    assert results["pixel_accuracy"] == pytest.approx(
        road_pixels / labelled.sum(), abs=1e-9
    )
    # IoU of road = road pixels / all labelled pixels; other classes 0.
    assert results["iou"][road] == pytest.approx(
        road_pixels / labelled.sum(), abs=1e-9
    )
    assert results["mean_iou"] == pytest.approx(
        results["iou"][road] / spec.num_classes, abs=1e-9
    )
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["images"] == len(spec.pairs)
    assert (tmp_path / "confusion_matrix.png").is_file()
    figure = np.asarray(Image.open(tmp_path / "prediction_000.png"))
    first = np.asarray(Image.open(spec.pairs[0][0]).convert("RGB"))
    panel = min(first.shape[1], 480)  # image | ground truth | prediction
    assert figure.shape[1] == 3 * (panel + 8) + 8
    assert figure.shape[0] > panel * first.shape[0] // first.shape[1]
    assert "mIoU" in format_results(results)


def test_denormalize_inverts_imagenet_normalisation():
    pixels = np.arange(0, 256, dtype=np.uint8).reshape(16, 16)
    image = np.stack([pixels] * 3, axis=-1)
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    normalised = ((image / 255.0 - mean) / std).astype("float32")
    np.testing.assert_array_equal(denormalize(normalised), image)


def test_a_tflite_file_evaluates_like_its_keras_model(tmp_path):
    """`fastfcn evaluate --tflite` runs the evaluation protocol through the
    LiteRT interpreter: an fp32 export scores what the Keras model does."""
    pytest.importorskip("ai_edge_litert")
    import keras_fastfcn
    from keras_fastfcn.cli.evaluate import main as evaluate
    from keras_fastfcn.export.tflite import export_tflite

    spec = load_dataset("sample", split="val")
    keras.utils.set_random_seed(0)
    model = keras_fastfcn.build_model(
        "encnet_jpu", "resnet18", spec.num_classes, base_width=8, neck_width=16
    )
    path = export_tflite(model, tmp_path / "m.tflite", (256, 256))
    sizes = dict(base_size=240, crop_size=256, max_images=3, progress=False)
    expected = evaluate_model(model, spec, **sizes)
    results = evaluate(
        [
            "--tflite",
            str(path),
            "--dataset",
            "sample",
            "--base-size",
            "240",
            "--crop-size",
            "256",
            "--max-images",
            "3",
            "--output-dir",
            str(tmp_path / "eval"),
        ]
    )
    assert results["images"] == 3
    assert results["pixel_accuracy"] == pytest.approx(
        expected["pixel_accuracy"], abs=1e-4
    )
    assert results["mean_iou"] == pytest.approx(expected["mean_iou"], abs=1e-4)
    with pytest.raises(ValueError, match="takes images"):  # wrong crop size
        evaluate(
            ["--tflite", str(path), "--dataset", "sample", "--crop-size", "320"]
            + ["--base-size", "300", "--max-images", "1"]
            + ["--output-dir", str(tmp_path / "eval2")]
        )
