"""Convolutions without the taps that only read padding, and the rule
that chooses them."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_fastfcn.fast import FastConv2D
from keras_fastfcn.fast import cropped_tap_conv
from keras_fastfcn.fast import fast_paths
from keras_fastfcn.fast.cropped_taps import cropped_taps_pay_off
from keras_fastfcn.fast.cropped_taps import tap_coverage
from keras_fastfcn.fast.cropped_taps import tap_ranges
from keras_fastfcn.fast.switch import choose_convolution
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import assert_same_convolution
from tests.helpers import kernel_gradient
from tests.helpers import randomize_weights
from tests.helpers import relative_error
from tests.helpers import to_numpy

RTOL = 1e-5
# `"auto"` picks anything but the direct convolution on TensorFlow without
# a GPU only.
AUTO_MAY_CHOOSE = keras.backend.backend() == "tensorflow" and not (
    keras.distribution.list_devices("gpu")
)
ASPP = ((1, 64, 64, 2048), (3, 3, 2048, 256))


def test_tap_ranges_keep_the_pixels_each_tap_reads():
    # Dilation 36 on 64 rows: the top tap reads rows 0..27 into 36..63.
    assert tap_ranges(64, 3, 36) == [(36, 64, -36), (0, 64, 0), (0, 28, 36)]
    assert tap_ranges(5, 3, 7) == [None, (0, 5, 0), None]
    assert tap_ranges(6, 5, 1) == [
        (2, 6, -2),
        (1, 6, -1),
        (0, 6, 0),
        (0, 5, 1),
        (0, 4, 2),
    ]


def test_tap_coverage_of_the_aspp_dilations():
    assert tap_coverage(64, 64, 3, (12, 12)) == pytest.approx(168**2 / 36864)
    assert tap_coverage(64, 64, 3, (24, 24)) == pytest.approx(144**2 / 36864)
    assert tap_coverage(64, 64, 3, (36, 36)) == pytest.approx(120**2 / 36864)
    assert tap_coverage(64, 64, 3, (4, 4)) == pytest.approx(184**2 / 36864)
    assert tap_coverage(1, 1, 3, (1, 1)) == pytest.approx(1 / 9)
    assert tap_coverage(10, 20, 3, (30, 1)) == pytest.approx(58 / 180)


@pytest.mark.parametrize(
    "shape, kernel_size, dilation",
    [
        ((2, 8, 6, 5, 4), 3, (1, 1)),  # batch of two, undilated
        ((1, 13, 10, 3, 5), 3, (3, 3)),  # sizes not divisible by dilation
        ((1, 12, 12, 2, 2), 3, (12, 12)),  # dilation = size: centre only
        ((1, 9, 11, 3, 2), 3, (4, 6)),  # other dilation per axis
        ((1, 10, 9, 2, 3), 5, (2, 2)),  # 5x5 kernel
        ((1, 16, 16, 4, 3), 3, (6, 6)),  # taps overlap in the middle
    ],
)
def test_cropped_taps_equal_direct_convolution(shape, kernel_size, dilation):
    assert_same_convolution(
        lambda x, k: cropped_tap_conv(x, k, dilation),
        shape,
        kernel_size,
        dilation,
        seed=sum(dilation) + kernel_size,
        rtol=RTOL,
    )


def test_cropped_taps_reject_what_they_cannot_compute():
    x = np.zeros((1, 8, 8, 3), "float32")
    with pytest.raises(ValueError, match="odd k > 1"):
        cropped_tap_conv(x, np.zeros((2, 2, 3, 2), "float32"), (1, 1))
    with pytest.raises(ValueError, match="odd k > 1"):
        cropped_tap_conv(x, np.zeros((1, 1, 3, 2), "float32"), (1, 1))


def test_cropped_tap_gradients_equal_the_direct_ones():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 9, 8, 3)).astype("float32")
    kernel = rng.normal(size=(3, 3, 3, 4)).astype("float32")
    cropped = kernel_gradient(
        lambda a, k: cropped_tap_conv(a, k, (5, 5)), x, kernel
    )
    direct = kernel_gradient(
        lambda a, k: ops.conv(a, k, 1, "same", dilation_rate=5), x, kernel
    )
    assert relative_error(cropped, direct) < RTOL


def choice(input_shape, kernel_shape, dilation, training=None, **kw):
    options = dict(strides=(1, 1), padding="same", dtype="float32")
    options.update(kw)
    return choose_convolution(
        input_shape,
        options["dtype"],
        kernel_shape,
        options["strides"],
        options["padding"],
        (dilation, dilation),
        training,
    )


def test_auto_rule_follows_the_measured_thresholds():
    for rate in (12, 24, 36):
        assert cropped_taps_pay_off(*ASPP, (rate, rate))
    for rate in (6, 12, 18):  # output stride 16
        assert cropped_taps_pay_off((1, 32, 32, 2048), ASPP[1], (rate, rate))
    # Coverage 0.92: Winograd is faster there.
    backbone = ((1, 64, 64, 512), (3, 3, 512, 512))
    assert not cropped_taps_pay_off(*backbone, (4, 4))
    # Little work: not worth the slicing.
    assert not cropped_taps_pay_off((1, 8, 8, 64), (3, 3, 64, 64), (4, 4))

    cropped = "cropped" if AUTO_MAY_CHOOSE else "direct"
    winograd = "winograd" if AUTO_MAY_CHOOSE else "direct"
    assert choice(*ASPP, 24) == cropped
    assert choice(*ASPP, 12) == cropped  # before Winograd, which applies too
    assert choice(*backbone, 4) == winograd
    assert choice(*ASPP, 24, training=True) == "direct"
    assert choice(*ASPP, 24, dtype="float16") == "direct"
    with fast_paths("portable"):
        assert choice(*ASPP, 24) == "direct"
    with fast_paths("winograd"):
        assert choice(*ASPP, 24) == "winograd"
    # Forced: any convolution it computes, also in training ...
    with fast_paths("cropped"):
        assert choice((1, 4, 4, 2), (3, 3, 2, 2), 1, training=True) == (
            "cropped"
        )
        assert choice((1, 4, 4, 2), (5, 5, 2, 2), 2) == "cropped"
        # ... and never one it cannot.
        assert choice((1, 4, 4, 2), (1, 1, 2, 2), 1) == "direct"
        assert choice((1, 4, 4, 2), (3, 3, 2, 2), 1, strides=(2, 2)) == (
            "direct"
        )
        assert choice((1, 4, 4, 2), (3, 3, 2, 2), 1, padding="valid") == (
            "direct"
        )
        assert choice((1, None, None, 2), (3, 3, 2, 2), 1) == "direct"
    assert choice(*ASPP, 24) == cropped  # the context was restored


def test_fast_conv_layer_with_cropped_taps(tmp_path):
    layer = FastConv2D(
        4, 3, padding="same", dilation_rate=5, use_bias=True, activation="relu"
    )
    x = np.random.default_rng(2).normal(size=(2, 9, 12, 3)).astype("float32")
    layer(x)
    randomize_weights(layer)
    kernel, bias = (to_numpy(w) for w in layer.weights)
    expected = np.maximum(ref.conv2d(x, kernel, bias, 5), 0)
    with fast_paths("cropped"):
        assert relative_error(layer(x, training=False), expected) < RTOL
    assert_layer_round_trip(layer, x, tmp_path)


@pytest.mark.skipif(
    not AUTO_MAY_CHOOSE, reason='"auto" crops taps on TF CPU only'
)
def test_auto_crops_the_aspp_at_inference_only(monkeypatch):
    """Without the work threshold (the model is tiny), `"auto"` runs the
    ASPP's dilated convolutions of a DeepLabV3-JPU with cropped taps at
    inference, and training keeps the direct convolution."""
    import keras_fastfcn
    from keras_fastfcn.fast import conv as common
    from keras_fastfcn.fast import cropped_taps

    model = keras_fastfcn.build_model(
        "deeplabv3_jpu", "resnet18", 3, base_width=8, neck_width=16
    )
    dilations = []

    def recorded(x, kernel, dilation):
        dilations.append(tuple(dilation))
        return cropped_tap_conv(x, kernel, dilation)

    monkeypatch.setattr(cropped_taps, "MIN_MULTIPLY_ADDS", 0)
    monkeypatch.setattr(common, "cropped_tap_conv", recorded)
    x = np.zeros((1, 64, 64, 3), "float32")
    model(x, training=True)
    assert not dilations
    model(x, training=False)
    assert {(12, 12), (24, 24), (36, 36)} <= set(dilations)
