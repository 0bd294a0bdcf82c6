"""A calibrated model's offsets (`ClassBias`) survive SavedModel and
TFLite export: the exported logits are the plain model's plus the
offsets."""

import numpy as np
import pytest

from keras_fastfcn.data import normalize
from keras_fastfcn.export.runtimes import SavedModelRunner
from keras_fastfcn.export.runtimes import TFLiteRunner
from keras_fastfcn.export.saved_model import export_saved_model
from keras_fastfcn.export.tflite import export_tflite
from keras_fastfcn.weights.saving import copy_weights_by_path
from tests.export.tiny_models import NUM_CLASSES
from tests.export.tiny_models import random_images
from tests.export.tiny_models import tiny_model

pytest.importorskip("ai_edge_litert")

BIAS = [2.0, -1.0, 0.5, 0.0, -1.5]


def test_exports_apply_the_logit_bias(tmp_path):
    assert len(BIAS) == NUM_CLASSES
    plain = tiny_model("fcn_jpu")
    calibrated = tiny_model("fcn_jpu", logit_bias=BIAS)
    copy_weights_by_path(plain, calibrated)
    images = normalize(random_images(1, 64, 64, seed=2)).numpy()
    expected = np.asarray(plain(images, training=False)) + np.float32(BIAS)
    runners = {
        "saved_model": SavedModelRunner(
            export_saved_model(calibrated, tmp_path / "saved_model")
        ),
        "tflite": TFLiteRunner(
            export_tflite(calibrated, tmp_path / "m.tflite", (64, 64))
        ),
    }
    for fmt, runner in runners.items():
        np.testing.assert_allclose(
            runner(images), expected, atol=1e-3, err_msg=fmt
        )
