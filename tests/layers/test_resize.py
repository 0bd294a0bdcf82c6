import keras
import numpy as np
import pytest

from keras_fastfcn.layers import ResizeLike
from keras_fastfcn.layers import adaptive_average_pool
from keras_fastfcn.layers import resize_bilinear
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import to_numpy


@pytest.mark.parametrize(
    "in_size,out_size", [((4, 5), (7, 9)), ((8, 8), (3, 5)), ((1, 1), (4, 3))]
)
def test_align_corners_matches_numpy_reference(in_size, out_size):
    x = np.random.default_rng(0).normal(size=(2, *in_size, 3))
    y = to_numpy(resize_bilinear(x.astype("float32"), out_size))
    expected = ref.resize_align_corners(x, *out_size)
    np.testing.assert_allclose(y, expected, atol=1e-5)


def test_align_corners_keeps_corners_and_halves():
    x = np.arange(3, dtype="float32").reshape(1, 1, 3, 1)
    y = to_numpy(resize_bilinear(x, (1, 5)))
    np.testing.assert_allclose(y.ravel(), [0, 0.5, 1, 1.5, 2])


def test_half_pixel_matches_tensorflow():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("compares with tf.image")
    import tensorflow as tf

    x = np.random.default_rng(1).normal(size=(1, 5, 6, 2)).astype("float32")
    y = to_numpy(resize_bilinear(x, (11, 4), align_corners=False))
    expected = tf.image.resize(x, (11, 4), method="bilinear").numpy()
    np.testing.assert_allclose(y, expected, atol=1e-5)


@pytest.mark.parametrize("size,bins", [(64, 6), (64, 3), (7, 2), (5, 6)])
def test_adaptive_pool_matches_pytorch_bins(size, bins):
    x = np.random.default_rng(2).normal(size=(1, size, size + 1, 2))
    y = to_numpy(adaptive_average_pool(x.astype("float32"), bins))
    np.testing.assert_allclose(y, ref.adaptive_avg_pool(x, bins), atol=1e-5)


def test_adaptive_pool_overlapping_bins_at_64():
    # PyTorch bins of 3 over 64: [0,22), [21,43), [42,64) -- they overlap.
    x = np.zeros((1, 64, 1, 1), "float32")
    x[0, 21, 0, 0] = 1.0
    y = to_numpy(adaptive_average_pool(x, 3))[0, :, 0, 0]
    np.testing.assert_allclose(y, [1 / 22, 1 / 22, 0], atol=1e-7)


def test_resize_like_dynamic_shapes_and_round_trip(tmp_path):
    layer = ResizeLike()
    x = np.random.default_rng(3).normal(size=(1, 4, 4, 2)).astype("float32")
    reference = np.zeros((1, 13, 10, 1), "float32")
    y = to_numpy(layer([x, reference]))
    assert y.shape == (1, 13, 10, 2)
    np.testing.assert_allclose(
        y, ref.resize_align_corners(x, 13, 10), atol=1e-5
    )
    assert_layer_round_trip(layer, [x, reference], tmp_path)


def test_resize_inside_model_with_unknown_size():
    inputs = keras.Input((None, None, 2))
    small = keras.layers.AveragePooling2D(2)(inputs)
    model = keras.Model(inputs, ResizeLike()([small, inputs]))
    for h, w in [(8, 8), (6, 10)]:
        y = to_numpy(model(np.ones((1, h, w, 2), "float32")))
        assert y.shape == (1, h, w, 2)
        np.testing.assert_allclose(y, 1.0, atol=1e-6)
