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
