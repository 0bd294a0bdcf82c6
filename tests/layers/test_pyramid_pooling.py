import numpy as np

from keras_fastfcn.layers import PyramidPooling
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import bn_params
from tests.helpers import randomize_weights
from tests.helpers import to_numpy
from tests.helpers import weights_by_path


def test_pyramid_pooling_matches_numpy_reference(tmp_path):
    layer = PyramidPooling()
    x = np.random.default_rng(0).normal(size=(1, 10, 7, 8)).astype("float32")
    layer(x)
    randomize_weights(layer, seed=5)
    w = weights_by_path(layer)
    outs = [x.astype(np.float64)]
    for i, bins in enumerate((1, 2, 3, 6), start=1):
        p = ref.adaptive_avg_pool(x.astype(np.float64), bins)
        p = ref.conv2d(p, w[f"conv{i}-0/kernel"])
        p = ref.relu(ref.batch_norm(p, *bn_params(w, f"conv{i}-1")))
        outs.append(ref.resize_align_corners(p, 10, 7))
    expected = np.concatenate(outs, axis=-1)
    actual = to_numpy(layer(x, training=False))
    assert actual.shape == (1, 10, 7, 16)
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=1e-4)
    assert_layer_round_trip(layer, x, tmp_path)
