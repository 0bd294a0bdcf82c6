import numpy as np

from keras_fastfcn.layers import EncModule
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import bn_params
from tests.helpers import randomize_weights
from tests.helpers import to_numpy
from tests.helpers import weights_by_path


def test_enc_module_matches_numpy_reference():
    layer = EncModule(num_classes=3, num_codes=4)
    x = np.random.default_rng(0).normal(size=(2, 5, 4, 6)).astype("float32")
    layer(x)
    randomize_weights(layer, seed=3)
    w = weights_by_path(layer)

    y = ref.conv2d(x, w["encoding-0/kernel"])
    y = ref.relu(ref.batch_norm(y, *bn_params(w, "encoding-1")))
    e = ref.encoding(y, w["encoding-3/codewords"], w["encoding-3/scale"])
    e = ref.relu(ref.batch_norm(e, *bn_params(w, "encoding-4"), axis=1))
    en = e.mean(axis=1)  # (B, D): mean over codewords
    gamma = ref.sigmoid(en @ w["fc-0/kernel"] + w["fc-0/bias"])
    expected_out = ref.relu(x + x * gamma[:, None, None, :])
    expected_se = en @ w["selayer/kernel"] + w["selayer/bias"]

    out, se = to_numpy(layer(x, training=False))
    np.testing.assert_allclose(out, expected_out, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(se, expected_se, atol=1e-4, rtol=1e-4)


def test_enc_module_without_se_returns_a_tensor(tmp_path):
    layer = EncModule(num_classes=3, num_codes=4, se_loss=False)
    x = np.random.default_rng(1).normal(size=(1, 4, 4, 8)).astype("float32")
    out = to_numpy(layer(x))
    assert out.shape == x.shape
    assert "selayer/kernel" not in weights_by_path(layer)
    assert_layer_round_trip(layer, x, tmp_path)


def test_enc_module_round_trip_with_se(tmp_path):
    layer = EncModule(num_classes=5, num_codes=2)
    x = np.random.default_rng(2).normal(size=(1, 4, 4, 8)).astype("float32")
    layer(x)
    randomize_weights(layer)
    assert_layer_round_trip(layer, x, tmp_path)
