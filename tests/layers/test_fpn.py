import numpy as np

from keras_fastfcn.layers import FPNNeck
from tests.helpers import assert_layer_round_trip
from tests.helpers import randomize_weights
from tests.helpers import to_numpy


def test_fpn_shapes_and_round_trip(tmp_path):
    layer = FPNNeck(width=4)
    rng = np.random.default_rng(0)
    features = [
        rng.normal(size=(1, 16 // s, 12 // s, c)).astype("float32")
        for s, c in zip((1, 2, 4), (3, 5, 7))
    ]
    assert to_numpy(layer(features)).shape == (1, 16, 12, 12)
    randomize_weights(layer)
    assert_layer_round_trip(layer, features, tmp_path)


def test_fpn_top_down_path_carries_coarse_information():
    layer = FPNNeck(width=4)
    rng = np.random.default_rng(1)
    features = [
        rng.normal(size=(1, 8 // s, 8 // s, 3)).astype("float32")
        for s in (1, 2, 4)
    ]
    base = to_numpy(layer(features))
    features[2] = features[2] + 1.0  # change only the stride-32 input
    changed = to_numpy(layer(features))
    # the finest level's channels (first 4) must react to the coarse change
    assert np.abs(changed[..., :4] - base[..., :4]).max() > 1e-3
