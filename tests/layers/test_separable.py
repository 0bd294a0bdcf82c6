import numpy as np
import pytest

from keras_fastfcn.layers import SeparableConvNorm
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import bn_params
from tests.helpers import randomize_weights
from tests.helpers import to_numpy
from tests.helpers import weights_by_path


def test_batch_norm_variant_matches_numpy(tmp_path):
    layer = SeparableConvNorm(3, dilation=2, name="sep")
    x = np.random.default_rng(0).normal(size=(2, 7, 6, 4)).astype("float32")
    layer(x)
    randomize_weights(layer)
    w = weights_by_path(layer)
    y = ref.depthwise_conv2d(x, w["conv1/kernel"], dilation=2)
    y = ref.batch_norm(y, *bn_params(w, "bn"))
    y = ref.conv2d(y, w["pointwise/kernel"])
    np.testing.assert_allclose(to_numpy(layer(x)), y, atol=1e-4)
    assert_layer_round_trip(layer, x, tmp_path)


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
    assert layer._norm_is_affine(training=False)
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
    assert not layer._norm_is_affine(training=True)
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
    assert layer._norm_is_affine(training=True)
    np.testing.assert_allclose(
        to_numpy(layer(x, training=True)), moving, atol=1e-4
    )


def test_group_norm_variant_matches_numpy():
    layer = SeparableConvNorm(2, norm="group", groups=2)
    x = np.random.default_rng(1).normal(size=(1, 5, 5, 4)).astype("float32")
    layer(x)
    randomize_weights(layer)
    w = weights_by_path(layer)
    y = ref.depthwise_conv2d(x, w["conv1/kernel"])
    y = ref.group_norm(y, 2, w["bn/gamma"], w["bn/beta"])
    y = ref.conv2d(y, w["pointwise/kernel"])
    np.testing.assert_allclose(to_numpy(layer(x)), y, atol=1e-4)


def test_weight_names_follow_official_keys():
    layer = SeparableConvNorm(8)
    layer(np.zeros((1, 4, 4, 6), "float32"))
    assert sorted(weights_by_path(layer)) == sorted(
        [
            "conv1/kernel",
            "bn/gamma",
            "bn/beta",
            "bn/moving_mean",
            "bn/moving_variance",
            "pointwise/kernel",
        ]
    )


def test_unknown_norm_is_rejected():
    with pytest.raises(ValueError, match="Unknown norm 'layer'"):
        SeparableConvNorm(4, norm="layer")
