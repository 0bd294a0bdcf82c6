import numpy as np

from keras_fastfcn.layers import Encoding
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import randomize_weights
from tests.helpers import to_numpy
from tests.helpers import weights_by_path


def test_encoding_matches_expanded_numpy_form():
    layer = Encoding(num_codes=5)
    x = np.random.default_rng(0).normal(size=(2, 4, 3, 6)).astype("float32")
    layer(x)
    randomize_weights(layer, seed=1)
    w = weights_by_path(layer)
    expected = ref.encoding(x.astype(np.float64), w["codewords"], w["scale"])
    actual = to_numpy(layer(x))
    assert actual.shape == (2, 5, 6)
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=1e-4)


def test_encoding_initialisation_follows_official_ranges():
    layer = Encoding(num_codes=32)
    layer(np.zeros((1, 2, 2, 512), "float32"))
    w = weights_by_path(layer)
    bound = 1.0 / np.sqrt(32 * 512)
    assert w["codewords"].shape == (32, 512)
    assert np.abs(w["codewords"]).max() <= bound
    assert w["scale"].shape == (32,)
    assert (w["scale"] <= 0).all() and (w["scale"] >= -1).all()


def test_encoding_runs_in_float32_under_mixed_precision(tmp_path):
    layer = Encoding(num_codes=4, dtype=None)
    assert layer.compute_dtype == "float32"
    layer = Encoding(num_codes=4)
    x = np.random.default_rng(2).normal(size=(1, 3, 3, 8)).astype("float16")
    assert str(to_numpy(layer(x)).dtype) == "float32"
    assert_layer_round_trip(layer, x.astype("float32"), tmp_path)
