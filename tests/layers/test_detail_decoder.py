import keras
import numpy as np
import pytest

from keras_fastfcn.layers import DetailDecoder
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import bn_params
from tests.helpers import randomize_weights
from tests.helpers import to_numpy
from tests.helpers import weights_by_path


def _inputs(seed=0, classes=3, low_channels=5, size=(6, 5)):
    rng = np.random.default_rng(seed)
    h, w = size
    logits = rng.normal(size=(2, h, w, classes)).astype("float32")
    low = rng.normal(size=(2, 2 * h, 2 * w, low_channels)).astype("float32")
    return [logits, low]


def _numpy_decoder(w, logits, low):
    def cbr(prefix, x):
        y = ref.conv2d(x, w[f"{prefix}-0/kernel"])
        return ref.relu(ref.batch_norm(y, *bn_params(w, f"{prefix}-1")))

    up = ref.resize_align_corners(logits, *low.shape[1:3])
    x = np.concatenate([up, cbr("reduce", low)], axis=-1)
    x = cbr("fuse2", cbr("fuse1", x))
    correction = ref.conv2d(
        x, w["classifier-1/kernel"], bias=w["classifier-1/bias"]
    )
    return up + correction


def test_detail_decoder_matches_numpy_reference():
    layer = DetailDecoder(num_classes=3, width=4)
    inputs = _inputs()
    layer(inputs)
    randomize_weights(layer, seed=2)
    expected = _numpy_decoder(weights_by_path(layer), *inputs)
    actual = to_numpy(layer(inputs, training=False))
    assert actual.shape == (2, 12, 10, 3)
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=1e-4)


def test_untrained_decoder_returns_the_upsampled_logits():
    # the zero-initialised classifier makes the refinement start as the
    # paper's bilinear upsampling, whatever the low-level features hold
    logits, low = _inputs(seed=1)
    layer = DetailDecoder(num_classes=3, width=4)
    actual = to_numpy(layer([logits, low], training=False))
    expected = ref.resize_align_corners(logits.astype("float64"), 12, 10)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_decoder_draws_detail_the_logits_cannot():
    # a one-pixel-wide vertical line in the low-level features changes
    # the refined logits on that column (and not far from it)
    layer = DetailDecoder(num_classes=2, width=4)
    logits = np.zeros((1, 4, 4, 2), "float32")
    low = np.zeros((1, 8, 8, 3), "float32")
    layer([logits, low])
    randomize_weights(layer, seed=3)
    base = to_numpy(layer([logits, low], training=False))
    low[:, :, 5, :] = 4.0
    lined = to_numpy(layer([logits, low], training=False))
    change = np.abs(lined - base).max(axis=(0, 1, 3))  # per column
    assert change[5] > 1e-2
    assert change[0] == pytest.approx(0.0, abs=1e-6)  # 3x3, 3x3, 1x1 reach


def test_detail_decoder_shapes_and_round_trip(tmp_path):
    layer = DetailDecoder(num_classes=3, width=4, low_level_width=3)
    inputs = _inputs(size=(5, 7))
    assert to_numpy(layer(inputs)).shape == (2, 10, 14, 3)
    assert layer.compute_output_shape([(None, 5, 7, 3), (None, 10, 14, 5)]) == (
        None,
        10,
        14,
        3,
    )
    randomize_weights(layer)
    assert_layer_round_trip(layer, inputs, tmp_path)


def test_detail_decoder_refuses_a_bad_width():
    with pytest.raises(ValueError, match="positive num_classes and width"):
        DetailDecoder(num_classes=3, width=0)


def test_detail_decoder_is_registered():
    layer = DetailDecoder(num_classes=2, width=2)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert isinstance(restored, DetailDecoder)
    assert restored.get_config() == layer.get_config()
