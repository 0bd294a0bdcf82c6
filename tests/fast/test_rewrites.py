"""The speed rewrites equal the straightforward operations they replace.

`dilated_depthwise_conv` (phase split instead of SpaceToBatchND), the
BatchNorm folded into the JPU's pointwise convolutions, the matmul form of
the separable resize / pooling and its banded blocks for known sizes must
stay within 1e-5 relative of `keras.ops.depthwise_conv(..., dilation_rate=d)`,
of the einsum form and of a pixel-by-pixel NumPy resize, alone and inside
whole models, where the Winograd 3x3 convolutions (tests/fast/
test_winograd.py) or the cropped taps (tests/fast/test_cropped_taps.py)
join them; whole models are compared with `fast_paths("off")`.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_fastfcn
from keras_fastfcn.fast import fast_paths
from keras_fastfcn.fast import native_resize
from keras_fastfcn.fast import phase_split as dilated_module
from keras_fastfcn.fast.banded_resize import band_plan
from keras_fastfcn.layers import resize as resize_module
from keras_fastfcn.layers import separable as separable_module
from keras_fastfcn.ops import interpolation
from tests import numpy_reference as ref
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
    rows = interpolation.interpolation_matrix(
        in_size[0], out_size[0], align_corners, "float32"
    )
    cols = interpolation.interpolation_matrix(
        in_size[1], out_size[1], align_corners, "float32"
    )
    assert_relative_close(
        resize_module.resize_bilinear(x, out_size, align_corners),
        straightforward_separable(x, rows, cols),
    )


@pytest.mark.parametrize(
    "in_size, out_size, banded",
    [
        ((16, 12), (128, 96), (True, True)),  # 8x up: 32-row bands
        ((17, 64), (136, 16), (True, False)),  # up rows, 4x down columns
        ((8, 8), (127, 16), (False, False)),  # 127 is prime: dense
        ((64, 50), (8, 10), (False, False)),  # bands not worth it: dense
    ],
)
@pytest.mark.parametrize("align_corners", [True, False])
def test_banded_resize_of_known_sizes(in_size, out_size, banded, align_corners):
    rows = interpolation.interpolation_matrix_numpy(
        in_size[0], out_size[0], align_corners
    )
    cols = interpolation.interpolation_matrix_numpy(
        in_size[1], out_size[1], align_corners
    )
    plans = [band_plan(m) for m in (rows, cols)]
    assert [plan is not None for plan in plans] == list(banded)
    for matrix, plan in zip((rows, cols), plans):
        if plan is not None:  # the blocks hold every non-zero weight
            indices, weights = plan
            rebuilt = np.zeros_like(matrix).reshape(
                len(indices), -1, matrix.shape[1]
            )
            np.put_along_axis(rebuilt, indices[:, None, :], weights, axis=2)
            np.testing.assert_array_equal(rebuilt.reshape(matrix.shape), matrix)

    x = np.random.default_rng(4).normal(size=(2, *in_size, 3))
    actual = resize_module.resize_bilinear(
        x.astype("float32"), out_size, align_corners
    )
    expected = np.einsum("oh,bhwc->bowc", rows.astype("float64"), x)
    expected = np.einsum("pw,bowc->bopc", cols.astype("float64"), expected)
    assert_relative_close(actual, expected)
    if align_corners:
        assert_relative_close(actual, ref.resize_align_corners(x, *out_size))


def test_known_and_unknown_sizes_give_the_same_resize():
    """Static sizes (NumPy matrices, bands) vs run-time sizes (matrices
    built from tensors): the same interpolation weights to one rounding."""
    x = np.random.default_rng(5).normal(size=(1, 8, 6, 4)).astype("float32")
    for align_corners in (True, False):
        for shape in [(8, 6, 4), (None, None, 4)]:
            inputs = keras.Input(shape)
            reference = keras.layers.UpSampling2D(8)(inputs)
            outputs = resize_module.ResizeLike(align_corners)(
                [inputs, reference]
            )
            model = keras.Model(inputs, outputs)
            result = to_numpy(model(x))
            if shape[0] is not None:
                known = result
        assert result.shape == (1, 64, 48, 4)
        np.testing.assert_allclose(result, known, rtol=0, atol=1e-6)
    rows = interpolation.interpolation_matrix(61, 512, True, "float32")
    np.testing.assert_allclose(
        to_numpy(rows),
        interpolation.interpolation_matrix_numpy(61, 512, True),
        rtol=0,
        atol=1e-7,
    )


def test_matmul_pooling_equals_einsum():
    x = np.random.default_rng(2).normal(size=(1, 61, 47, 3)).astype("float32")
    rows = interpolation.pooling_matrix(61, 6, "float32")
    cols = interpolation.pooling_matrix(47, 6, "float32")
    assert_relative_close(
        resize_module.adaptive_average_pool(x, 6),
        straightforward_separable(x, rows, cols),
    )


@pytest.mark.parametrize(
    "name, mode",
    [
        ("encnet_jpu", "winograd"),
        ("psp_jpu", "winograd"),
        ("deeplabv3_jpu", "winograd"),
        ("encnet", "winograd"),
        ("deeplabv3_jpu", "cropped"),
        ("deeplabv3", "cropped"),
        ("psp_jpux", "auto"),
        ("encnet_jpu", "portable"),
    ],
)
def test_whole_model_equals_straightforward_version(name, mode):
    """Same weights, same input: the optimised graph, with every 3x3
    convolution as Winograd or with cropped taps, vs the model under
    `fast_paths("off")`: direct convolutions, the plain dilated depthwise
    convolution, dense resizes, the JPU's BatchNorms applied on their own
    and PSPNet's pyramid concatenated."""
    model = keras_fastfcn.build_model(
        name, "resnet18", 5, aux=True, base_width=16, neck_width=32
    )
    randomize_weights(model)
    x = np.random.default_rng(3).normal(size=(1, 96, 80, 3)).astype("float32")
    with fast_paths(mode):
        fast = model(x, training=False)
    with fast_paths("off"):
        slow = model(x, training=False)
    for key in fast:
        assert_relative_close(fast[key], slow[key])


def test_off_runs_no_rewrite(monkeypatch):
    """Under `fast_paths("off")` no rewrite function is ever entered."""
    from keras_fastfcn.fast import conv
    from keras_fastfcn.fast import rewrites

    def forbidden(*args, **kwargs):
        raise AssertionError("a rewrite ran under fast_paths('off')")

    for name in ("banded_separable", "separable_conv_norm", "pyramid_fusion"):
        monkeypatch.setattr(rewrites, name, forbidden)
    monkeypatch.setattr(conv, "winograd_conv3x3", forbidden)
    monkeypatch.setattr(conv, "cropped_tap_conv", forbidden)
    x = np.random.default_rng(5).normal(size=(1, 64, 64, 3)).astype("f4")
    for name in ("encnet_jpu", "psp_jpux", "deeplabv3_fpn"):
        with fast_paths("off"):  # building traces the layers too
            model = keras_fastfcn.build_model(
                name, "resnet18", 3, base_width=8, neck_width=16
            )
            assert model(x, training=False).shape == (1, 64, 64, 3)
    with pytest.raises(AssertionError, match="a rewrite ran"):
        model(x, training=False)  # "auto": the banded resize runs
    with fast_paths("off"), native_resize(forbidden):
        assert model(x, training=False).shape == (1, 64, 64, 3)


def test_native_resize_replaces_the_matrices_where_installed():
    """`native_resize(fn)` hands every `resize_bilinear` call to `fn` with
    the sizes and the corner convention, in every mode but `"off"`."""
    calls = []

    def native(x, size, align_corners):
        calls.append((tuple(x.shape), tuple(size), align_corners))
        return ops.zeros((x.shape[0], size[0], size[1], x.shape[3]))

    x = np.ones((1, 4, 6, 2), "float32")
    with native_resize(native):
        out = resize_module.resize_bilinear(x, (8, 12), align_corners=False)
        assert float(ops.max(ops.abs(out))) == 0.0
        with fast_paths("off"):
            resized = resize_module.resize_bilinear(x, (8, 12))
    assert calls == [((1, 4, 6, 2), (8, 12), False)]
    np.testing.assert_allclose(to_numpy(resized), 1.0, rtol=1e-6)
