"""Every registered model exports to every format (slow: about a minute
per model on 2 cores; run with `-m slow`)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_fastfcn import list_models
from keras_fastfcn.benchmarks.export_parity import compare_logits
from keras_fastfcn.data import normalize
from keras_fastfcn.export.onnx import export_onnx
from keras_fastfcn.export.runtimes import OnnxRunner
from keras_fastfcn.export.runtimes import SavedModelRunner
from keras_fastfcn.export.runtimes import TFLiteRunner
from keras_fastfcn.export.saved_model import export_saved_model
from keras_fastfcn.export.tflite import export_tflite
from tests.export.tiny_models import random_images
from tests.export.tiny_models import tiny_model

pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_format_matches_keras(name, tmp_path):
    model = tiny_model(name, aux=True, se_loss=name.startswith("encnet"))
    pixels = random_images(1, 64, 64, seed=4)
    images = normalize(pixels).numpy()
    expected = np.asarray(model(images, training=False)["logits"])
    version = export_saved_model(model, tmp_path / "saved_model")
    served = tf.saved_model.load(str(version)).signatures["serving_default"]
    class_map = served(images=tf.constant(pixels[:, :40, :56]))["class_map"]
    assert class_map.shape == (1, 40, 56)
    runners = {
        "saved_model": SavedModelRunner(version),
        "tflite": TFLiteRunner(
            export_tflite(model, tmp_path / "m.tflite", (64, 64))
        ),
        "onnx": OnnxRunner(export_onnx(model, tmp_path / "m.onnx")),
    }
    for fmt, runner in runners.items():
        max_abs, _, agreement = compare_logits(expected, runner(images))
        print(f"{name} {fmt}: max abs diff {max_abs:.3g}, {agreement}")
        assert max_abs < 1e-3 * max(1.0, np.abs(expected).max()), fmt
        assert agreement >= 0.9999, fmt
