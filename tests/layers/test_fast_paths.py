"""The speed rewrites equal the straightforward operations they replace.

`dilated_depthwise_conv` (phase split instead of SpaceToBatchND) and the
matmul form of the separable resize / pooling must stay within 1e-5
relative of `keras.ops.depthwise_conv(..., dilation_rate=d)` and of the
einsum form, alone and inside whole models.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_fastfcn
from keras_fastfcn.layers import dilated as dilated_module
from keras_fastfcn.layers import resize as resize_module
from keras_fastfcn.layers import separable as separable_module
from tests.helpers import randomize_weights
from tests.helpers import to_numpy

RTOL = 1e-5


def straightforward_depthwise(x, kernel, dilation):
    kernel = ops.cast(kernel, x.dtype)
    return ops.depthwise_conv(
        x, kernel, strides=1, padding="same", dilation_rate=dilation
    )


def straightforward_separable(x, row_matrix, col_matrix):
    x = ops.einsum("oh,bhwc->bowc", row_matrix, x)
    return ops.einsum("pw,bowc->bopc", col_matrix, x)


def assert_relative_close(actual, expected, rtol=RTOL):
    actual, expected = to_numpy(actual), to_numpy(expected)
    assert actual.shape == expected.shape
    scale = np.abs(expected).max()
    assert scale > 0
    assert np.abs(actual - expected).max() <= rtol * scale


@pytest.mark.parametrize("dilation", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("size", [(16, 16), (13, 10), (5, 6)])
def test_dilated_depthwise_equals_dilated_conv(dilation, size):
    rng = np.random.default_rng(dilation)
    x = rng.normal(size=(2, *size, 6)).astype("float32")
    kernel = rng.normal(size=(3, 3, 6, 1)).astype("float32")
    expected = straightforward_depthwise(x, kernel, dilation)
    actual = dilated_module.dilated_depthwise_conv(x, kernel, dilation)
    assert_relative_close(actual, expected)


def test_separable_layer_with_unknown_sizes_equals_dilated_keras_layer():
    layer = separable_module.SeparableConvNorm(3, dilation=4)
    inputs = keras.Input((None, None, 4))
    model = keras.Model(inputs, layer(inputs))
    randomize_weights(model)
    rng = np.random.default_rng(0)
    for size in [(12, 12), (9, 14)]:
        x = rng.normal(size=(1, *size, 4)).astype("float32")
        # the layer's own DepthwiseConv2D(dilation_rate=4) sublayer
        expected = layer.pointwise(
            layer.norm_layer(layer.depthwise(x), training=False)
        )
        assert_relative_close(model(x, training=False), expected)


@pytest.mark.parametrize(
    "in_size, out_size",
    [((8, 8), (64, 64)), ((7, 5), (20, 33)), ((30, 17), (9, 4))],
)
@pytest.mark.parametrize("align_corners", [True, False])
def test_matmul_resize_equals_einsum(in_size, out_size, align_corners):
    x = np.random.default_rng(1).normal(size=(2, *in_size, 5)).astype("float32")
    rows = resize_module._interpolation_matrix(
        in_size[0], out_size[0], align_corners, "float32"
    )
    cols = resize_module._interpolation_matrix(
        in_size[1], out_size[1], align_corners, "float32"
    )
    assert_relative_close(
        resize_module.resize_bilinear(x, out_size, align_corners),
        straightforward_separable(x, rows, cols),
    )


def test_matmul_pooling_equals_einsum():
    x = np.random.default_rng(2).normal(size=(1, 61, 47, 3)).astype("float32")
    rows = resize_module._pooling_matrix(61, 6, "float32")
    cols = resize_module._pooling_matrix(47, 6, "float32")
    assert_relative_close(
        resize_module.adaptive_average_pool(x, 6),
        straightforward_separable(x, rows, cols),
    )


@pytest.mark.parametrize("name", ["encnet_jpu", "psp_jpu", "deeplabv3_jpu"])
def test_whole_model_equals_straightforward_version(name, monkeypatch):
    """Same weights, same input: the optimised graph vs one built from the
    plain dilated depthwise convolution and einsum resizes."""
    model = keras_fastfcn.build_model(
        name, "resnet18", 5, aux=True, base_width=16, neck_width=32
    )
    randomize_weights(model)
    x = np.random.default_rng(3).normal(size=(1, 96, 80, 3)).astype("float32")
    fast = model(x, training=False)
    monkeypatch.setattr(
        separable_module, "dilated_depthwise_conv", straightforward_depthwise
    )
    monkeypatch.setattr(
        resize_module, "_apply_separable", straightforward_separable
    )
    slow = model(x, training=False)
    for key in fast:
        assert_relative_close(fast[key], slow[key])
