"""The JPU's BatchNorm folded into its pointwise convolution equals the
BatchNorm then the convolution (float64 NumPy reference)."""

import numpy as np

from keras_fastfcn.fast.separable import norm_is_affine
from keras_fastfcn.layers import SeparableConvNorm
from tests import numpy_reference as ref
from tests.helpers import bn_params
from tests.helpers import randomize_weights
from tests.helpers import to_numpy
from tests.helpers import weights_by_path


def test_folded_norm_equals_norm_then_pointwise():
    """Inference (and a frozen BatchNorm in training) folds the BatchNorm
    into the pointwise kernel; training with a trainable BatchNorm uses the
    batch statistics instead."""
    layer = SeparableConvNorm(5, dilation=3)
    x = np.random.default_rng(2).normal(size=(2, 9, 8, 6)).astype("float32")
    layer(x)
    randomize_weights(layer)
    w = weights_by_path(layer)
    depthwise = ref.depthwise_conv2d(x, w["conv1/kernel"], dilation=3)
    moving = ref.conv2d(
        ref.batch_norm(depthwise, *bn_params(w, "bn")), w["pointwise/kernel"]
    )
    moving_mean = w["bn/moving_mean"]
    assert norm_is_affine(layer, training=False)
    np.testing.assert_allclose(
        to_numpy(layer(x, training=False)), moving, atol=1e-4
    )

    mean = depthwise.mean(axis=(0, 1, 2))
    variance = depthwise.var(axis=(0, 1, 2))
    gamma, beta = w["bn/gamma"], w["bn/beta"]
    batch = ref.conv2d(
        ref.batch_norm(depthwise, gamma, beta, mean, variance),
        w["pointwise/kernel"],
    )
    assert not norm_is_affine(layer, training=True)
    np.testing.assert_allclose(
        to_numpy(layer(x, training=True)), batch, atol=1e-4
    )
    assert np.abs(batch - moving).max() > 0.1  # the two modes differ

    # training=True moved the moving statistics; a frozen BatchNorm uses them
    w = weights_by_path(layer)
    assert not np.allclose(w["bn/moving_mean"], moving_mean)
    moving = ref.conv2d(
        ref.batch_norm(depthwise, *bn_params(w, "bn")), w["pointwise/kernel"]
    )
    layer.norm_layer.trainable = False
    assert norm_is_affine(layer, training=True)
    np.testing.assert_allclose(
        to_numpy(layer(x, training=True)), moving, atol=1e-4
    )
