import numpy as np

from keras_fastfcn.layers import ASPP
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import bn_params
from tests.helpers import randomize_weights
from tests.helpers import to_numpy
from tests.helpers import weights_by_path


def test_aspp_matches_numpy_reference(tmp_path):
    layer = ASPP(rates=(1, 2, 3))
    x = np.random.default_rng(0).normal(size=(2, 6, 5, 16)).astype("float32")
    layer(x)
    randomize_weights(layer, seed=6)
    w = weights_by_path(layer)

    def cbr(prefix, t, dilation=1, first=0):
        y = ref.conv2d(t, w[f"{prefix}-{first}/kernel"], dilation=dilation)
        return ref.relu(
            ref.batch_norm(y, *bn_params(w, f"{prefix}-{first + 1}"))
        )

    branches = [cbr("b0", x)] + [
        cbr(f"b{i}", x, dilation=r) for i, r in enumerate((1, 2, 3), start=1)
    ]
    pooled = cbr("b4-gap", x.mean(axis=(1, 2), keepdims=True), first=1)
    branches.append(np.broadcast_to(pooled, branches[0].shape))
    expected = cbr("project", np.concatenate(branches, axis=-1))
    actual = to_numpy(layer(x, training=False))
    assert actual.shape == (2, 6, 5, 2)  # 16 // 8 channels
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=1e-4)
    assert_layer_round_trip(layer, x, tmp_path)
