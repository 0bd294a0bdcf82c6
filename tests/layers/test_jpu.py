import numpy as np
import pytest

from keras_fastfcn.layers import JPU
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import bn_params
from tests.helpers import randomize_weights
from tests.helpers import to_numpy
from tests.helpers import weights_by_path


def _features(seed=0, size=8, channels=(4, 6, 8)):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(2, size // s, size // s, c)).astype("float32")
        for s, c in zip((1, 2, 4), channels)
    ]


def _numpy_jpu(w, features, dilations):
    def cbr(prefix, x, dilation=1):
        y = ref.conv2d(x, w[f"{prefix}-0/kernel"], dilation=dilation)
        return ref.relu(ref.batch_norm(y, *bn_params(w, f"{prefix}-1")))

    c3, c4, c5 = features
    f3, f4, f5 = cbr("conv3", c3), cbr("conv4", c4), cbr("conv5", c5)
    h, wd = f3.shape[1:3]
    f4 = ref.resize_align_corners(f4, h, wd)
    f5 = ref.resize_align_corners(f5, h, wd)
    feat = np.concatenate([f5, f4, f3], axis=-1)  # official order
    outs = []
    for i, d in enumerate(dilations, start=1):
        p = f"dilation{i}-0"
        y = ref.depthwise_conv2d(feat, w[f"{p}/conv1/kernel"], dilation=d)
        y = ref.batch_norm(y, *bn_params(w, f"{p}/bn"))
        y = ref.conv2d(y, w[f"{p}/pointwise/kernel"])
        outs.append(
            ref.relu(ref.batch_norm(y, *bn_params(w, f"dilation{i}-1")))
        )
    return np.concatenate(outs, axis=-1)


def test_jpu_matches_numpy_reference():
    layer = JPU(width=3)
    features = _features()
    layer(features)
    randomize_weights(layer, seed=4)
    expected = _numpy_jpu(weights_by_path(layer), features, (1, 2, 4, 8))
    actual = to_numpy(layer(features, training=False))
    assert actual.shape == (2, 8, 8, 12)
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=1e-4)


def test_jpu_shapes_for_odd_sizes_and_custom_dilations():
    layer = JPU(width=2, dilations=(1, 3))
    c3 = np.ones((1, 13, 9, 4), "float32")
    c4 = np.ones((1, 7, 5, 4), "float32")
    c5 = np.ones((1, 4, 3, 4), "float32")
    assert to_numpy(layer([c3, c4, c5])).shape == (1, 13, 9, 4)


@pytest.mark.large
def test_jpu_parameter_count_matches_official():
    # Official JPU([512, 1024, 2048], width=512): 19,735,552 parameters.
    layer = JPU(width=512)
    layer(
        [
            np.zeros((1, 4, 4, 512), "float32"),
            np.zeros((1, 2, 2, 1024), "float32"),
            np.zeros((1, 1, 1, 2048), "float32"),
        ]
    )
    count = sum(int(np.prod(v.shape)) for v in layer.trainable_weights)
    assert count == 19_735_552


def test_jpu_round_trip(tmp_path):
    layer = JPU(width=2)
    features = _features(seed=1)
    layer(features)
    randomize_weights(layer)
    assert_layer_round_trip(layer, features, tmp_path)
