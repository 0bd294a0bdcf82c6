import numpy as np
import pytest

from keras_fastfcn.layers import PyramidPooling
from keras_fastfcn.layers.pyramid_pooling import upsampled_convolution
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import bn_params
from tests.helpers import randomize_weights
from tests.helpers import relative_error
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


@pytest.mark.parametrize(
    "grids, size, kernel_size",
    [
        ([(1, 1), (2, 2), (3, 3), (6, 6)], (13, 10), 3),  # PSPNet's bins
        ([(2, 3), (1, 4)], (7, 9), 3),  # rectangular grids
        ([(3, 2)], (5, 6), 5),  # 5x5 kernel, wider than the padding rows
        ([(2, 2)], (1, 1), 3),  # one output pixel
    ],
)
def test_upsampled_convolution_equals_convolving_the_resize(
    grids, size, kernel_size
):
    rng = np.random.default_rng(len(grids) + kernel_size)
    pooled = [
        rng.normal(size=(2, rows, cols, 3)).astype("float32")
        for rows, cols in grids
    ]
    kernels = [
        rng.normal(size=(kernel_size, kernel_size, 3, 4)).astype("float32")
        for _ in grids
    ]
    expected = sum(
        ref.conv2d(ref.resize_align_corners(p.astype("float64"), *size), k)
        for p, k in zip(pooled, kernels)
    )
    actual = upsampled_convolution(pooled, kernels, size)
    assert tuple(actual.shape) == (2,) + size + (4,)
    assert relative_error(actual, expected) < 1e-5
