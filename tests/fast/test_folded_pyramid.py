"""PSPNet's pyramid folded into its fusion convolution equals convolving
the upsampled branches (float64 NumPy reference)."""

import numpy as np
import pytest

from keras_fastfcn.fast.folded_pyramid import upsampled_convolution
from tests import numpy_reference as ref
from tests.helpers import relative_error


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
