import numpy as np
import pytest

from keras_fastfcn.layers import JPUX
from keras_fastfcn.layers import JointUpsamplingModule
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import bn_params
from tests.helpers import randomize_weights
from tests.helpers import to_numpy
from tests.helpers import weights_by_path


def _numpy_jum(w, low, high, dilation, groups):
    def cbr(prefix, x):
        y = ref.conv2d(x, w[f"{prefix}-0/kernel"])
        return ref.relu(ref.batch_norm(y, *bn_params(w, f"{prefix}-1")))

    low, high = cbr("conv_l", low), cbr("conv_h", high)
    low = ref.resize_align_corners(low, *high.shape[1:3])
    feat = np.concatenate([low, high], axis=-1)
    outs = [low]
    for i, rate in enumerate((1, 2, 4), start=1):
        p = f"dilation{i}"
        y = ref.depthwise_conv2d(
            feat, w[f"{p}-0/conv1/kernel"], dilation=dilation * rate
        )
        y = ref.group_norm(y, groups, w[f"{p}-0/bn/gamma"], w[f"{p}-0/bn/beta"])
        y = ref.conv2d(y, w[f"{p}-0/pointwise/kernel"])
        y = ref.group_norm(y, groups, w[f"{p}-1/gamma"], w[f"{p}-1/beta"])
        outs.append(ref.relu(y))
    return np.concatenate(outs, axis=-1)


def test_joint_upsampling_module_matches_numpy():
    layer = JointUpsamplingModule(width=4, dilation=2, groups=2)
    rng = np.random.default_rng(0)
    low = rng.normal(size=(1, 3, 4, 5)).astype("float32")
    high = rng.normal(size=(1, 6, 8, 3)).astype("float32")
    layer([low, high])
    randomize_weights(layer, seed=2)
    expected = _numpy_jum(weights_by_path(layer), low, high, 2, 2)
    actual = to_numpy(layer([low, high], training=False))
    assert actual.shape == (1, 6, 8, 16)
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=1e-4)


def test_jpux_shape_params_and_round_trip(tmp_path):
    layer = JPUX(width=8, groups=4)
    rng = np.random.default_rng(1)
    features = [
        rng.normal(size=(1, 8 // s, 8 // s, c)).astype("float32")
        for s, c in zip((1, 2, 4), (4, 6, 8))
    ]
    assert to_numpy(layer(features)).shape == (1, 8, 8, 32)
    randomize_weights(layer)
    assert_layer_round_trip(layer, features, tmp_path)


@pytest.mark.large
def test_jpux_parameter_count_matches_official():
    # Official JPU_X([512, 1024, 2048], width=512): 19,719,168 parameters.
    layer = JPUX(width=512)
    layer(
        [
            np.zeros((1, 4, 4, 512), "float32"),
            np.zeros((1, 2, 2, 1024), "float32"),
            np.zeros((1, 1, 1, 2048), "float32"),
        ]
    )
    count = sum(int(np.prod(v.shape)) for v in layer.trainable_weights)
    assert count == 19_719_168
