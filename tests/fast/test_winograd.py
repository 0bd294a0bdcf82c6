"""Winograd F(2x2, 3x3) convolutions and the rule that chooses them."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_fastfcn.fast import FastConv2D
from keras_fastfcn.fast import fast_paths
from keras_fastfcn.fast import winograd_conv3x3
from keras_fastfcn.fast.switch import choose_convolution
from keras_fastfcn.fast.winograd import winograd_pays_off
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import assert_same_convolution
from tests.helpers import kernel_gradient
from tests.helpers import randomize_weights
from tests.helpers import relative_error
from tests.helpers import to_numpy

RTOL = 1e-5
ON_TENSORFLOW = keras.backend.backend() == "tensorflow"
# `"auto"` picks Winograd only on TensorFlow without a GPU.
AUTO_MAY_USE_WINOGRAD = ON_TENSORFLOW and not keras.distribution.list_devices(
    "gpu"
)


@pytest.mark.parametrize(
    "shape, dilation",
    [
        ((2, 8, 6, 5, 4), 1),  # even sizes, batch of two
        ((1, 7, 9, 3, 6), 1),  # odd height and width
        ((1, 1, 1, 4, 2), 1),  # one pixel: only the centre tap counts
        ((2, 8, 8, 4, 3), 2),
        ((1, 13, 10, 3, 5), 3),  # sizes not divisible by the dilation
        ((1, 12, 12, 2, 2), 12),  # dilation = size: centre tap only
    ],
)
def test_winograd_equals_direct_convolution(shape, dilation):
    assert_same_convolution(
        lambda x, k: winograd_conv3x3(x, k, dilation),
        shape,
        dilation=dilation,
        seed=dilation,
        rtol=RTOL,
    )


def test_winograd_of_many_channels_stays_within_tolerance():
    """Rounding grows with the sum over input channels: 512 of them, as in
    the layers `"auto"` rewrites, still meet 1e-5 against float64."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, 16, 16, 512)).astype("float32")
    kernel = (rng.normal(size=(3, 3, 512, 8)) / 48).astype("float32")
    expected = ref.conv2d(x.astype("float64"), kernel.astype("float64"))
    assert relative_error(winograd_conv3x3(x, kernel), expected) < 2e-6


def test_winograd_rejects_what_it_cannot_compute():
    x = np.zeros((1, 8, 8, 3), "float32")
    with pytest.raises(ValueError, match="\\(3, 3, in, out\\) kernel"):
        winograd_conv3x3(x, np.zeros((5, 5, 3, 2), "float32"))
    with pytest.raises(ValueError, match="Unknown fast-paths mode"):
        with fast_paths("fft"):
            pass


def decide(input_shape, kernel_shape, dtype="float32", training=None, **kw):
    options = dict(strides=(1, 1), padding="same", dilation_rate=(1, 1))
    options.update(kw)
    algorithm = choose_convolution(
        input_shape,
        dtype,
        kernel_shape,
        options["strides"],
        options["padding"],
        options["dilation_rate"],
        training,
    )
    return algorithm == "winograd"


def test_auto_rule_follows_the_measured_thresholds():
    big = ((1, 64, 64, 512), (3, 3, 512, 512))
    assert winograd_pays_off(*big)
    assert winograd_pays_off((1, 64, 64, 256), (3, 3, 256, 256))
    assert winograd_pays_off((1, 32, 32, 1024), (3, 3, 1024, 512))
    assert not winograd_pays_off((1, 16, 16, 2048), (3, 3, 2048, 512))
    assert not winograd_pays_off((1, 32, 32, 256), (3, 3, 256, 256))
    assert not winograd_pays_off((1, 256, 256, 64), (3, 3, 64, 128))
    aspp = ((1, 64, 64, 2048), (3, 3, 2048, 256))
    assert winograd_pays_off(*aspp, dilation=12)  # 6x6 phases: 1.27x
    assert not winograd_pays_off(*aspp, dilation=24)  # 3x3 -> 4x4: 2.25x
    # Only TensorFlow float32 inference on a machine without GPU.
    assert decide(*big) == AUTO_MAY_USE_WINOGRAD
    assert decide(*big, dilation_rate=(4, 4)) == AUTO_MAY_USE_WINOGRAD
    assert not decide(*big, training=True)
    assert not decide(*big, dtype="bfloat16")
    assert not decide((1, 16, 16, 512), (3, 3, 512, 512))
    with fast_paths("portable"):
        assert not decide(*big)
    # Forced: any applicable convolution, also in training ...
    with fast_paths("winograd"):
        assert decide((1, 4, 4, 2), (3, 3, 2, 2), training=True)
        # ... but never one it cannot compute.
        assert not decide((1, 4, 4, 2), (3, 3, 2, 2), strides=(2, 2))
        assert not decide((1, 4, 4, 2), (1, 1, 2, 2))
        assert not decide((1, 4, 4, 2), (3, 3, 2, 2), padding="valid")
        # Unknown height and width (an any-size export): only undilated.
        assert decide((1, None, None, 2), (3, 3, 2, 2))
        assert not decide(
            (1, None, None, 2), (3, 3, 2, 2), dilation_rate=(2, 2)
        )
        assert not decide((1, 4, 4, None), (3, 3, 2, 2))
        assert not decide((1, 4, 4, 2), (3, 3, 2, 2), dilation_rate=(1, 2))
    assert decide(*big) == AUTO_MAY_USE_WINOGRAD  # the context was restored
    # "cpu": the rules of "auto" on any machine and backend.
    with fast_paths("cpu"):
        assert decide(*big)
        assert not decide(*big, training=True)
        assert not decide((1, 16, 16, 512), (3, 3, 512, 512))
        # any size: the channel rule alone
        assert decide((1, None, None, 512), (3, 3, 512, 512))
        assert not decide((1, None, None, 64), (3, 3, 64, 64))
        assert not decide(
            (1, None, None, 512), (3, 3, 512, 512), dilation_rate=(2, 2)
        )
    assert winograd_pays_off((1, None, None, 256), (3, 3, 256, 256))
    assert not winograd_pays_off((1, None, None, 256), (3, 3, 256, 256), 2)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="unknown sizes: TF graphs only")
@pytest.mark.parametrize("size", [(8, 6), (7, 9), (1, 1)])
def test_winograd_of_unknown_size_equals_direct_convolution(size):
    """Traced for any height and width (as a SavedModel's signatures are),
    the Winograd graph gives the direct result at every size."""
    import tensorflow as tf

    rng = np.random.default_rng(size[0])
    kernel = rng.normal(size=(3, 3, 5, 4)).astype("float32")
    traced = tf.function(
        lambda x: winograd_conv3x3(x, kernel),
        input_signature=[tf.TensorSpec((None, None, None, 5), tf.float32)],
    )
    x = rng.normal(size=(2, *size, 5)).astype("float32")
    expected = ref.conv2d(x.astype("float64"), kernel.astype("float64"))
    assert relative_error(traced(x).numpy(), expected) < RTOL
    with pytest.raises(ValueError, match="known height and width"):
        tf.function(
            lambda x: winograd_conv3x3(x, kernel, dilation=2),
            input_signature=[tf.TensorSpec((None, None, None, 5), tf.float32)],
        ).get_concrete_function()


@pytest.mark.parametrize("dilation", [1, 2])
def test_fast_conv_layer_gives_the_direct_result(dilation, tmp_path):
    layer = FastConv2D(
        4,
        3,
        padding="same",
        dilation_rate=dilation,
        use_bias=True,
        activation="relu",
    )
    x = np.random.default_rng(1).normal(size=(2, 10, 9, 3)).astype("float32")
    layer(x)
    randomize_weights(layer)
    kernel, bias = (to_numpy(w) for w in layer.weights)
    expected = np.maximum(ref.conv2d(x, kernel, bias, dilation), 0)
    with fast_paths("winograd"):
        fast = layer(x, training=False)
    with fast_paths("portable"):
        direct = layer(x, training=False)
    assert relative_error(fast, expected) < RTOL
    assert relative_error(direct, expected) < RTOL
    assert_layer_round_trip(layer, x, tmp_path)


def test_winograd_gradients_equal_the_direct_ones():
    """Forced Winograd in training differentiates like the convolution."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 7, 6, 3)).astype("float32")
    kernel = rng.normal(size=(3, 3, 3, 4)).astype("float32")
    fast = kernel_gradient(lambda a, k: winograd_conv3x3(a, k, 2), x, kernel)
    direct = kernel_gradient(
        lambda a, k: ops.conv(a, k, 1, "same", dilation_rate=2), x, kernel
    )
    assert relative_error(fast, direct) < RTOL


@pytest.mark.skipif(
    not AUTO_MAY_USE_WINOGRAD, reason='"auto" uses Winograd on TF CPU only'
)
def test_auto_reaches_nested_layers_at_inference_only(monkeypatch):
    """The model's `training` flag reaches every `FastConv2D` (also those a
    head calls itself): with the size rule lifted, inference runs Winograd
    and training the direct convolution."""
    import keras_fastfcn
    from keras_fastfcn.fast import conv as common
    from keras_fastfcn.fast import switch as conv_algorithms

    model = keras_fastfcn.build_model(
        "encnet_jpu", "resnet18", 3, base_width=8, neck_width=16
    )
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return winograd_conv3x3(*args, **kwargs)

    monkeypatch.setattr(conv_algorithms, "winograd_pays_off", lambda *a: True)
    monkeypatch.setattr(
        conv_algorithms, "cropped_taps_pay_off", lambda *a: False
    )
    monkeypatch.setattr(common, "winograd_conv3x3", counted)
    x = np.zeros((1, 64, 64, 3), "float32")
    model(x, training=True)
    assert not calls
    model(x, training=False)
    threes = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, FastConv2D)
        and layer.kernel_size == (3, 3)
        and layer.strides == (1, 1)
    ]
    assert len(calls) == len(threes) > 10
