"""Bilinear interpolation and adaptive-pooling matrices, and their
separable application to NHWC maps.

A bilinear resize (or PyTorch `AdaptiveAvgPool2d`) of a
`(batch, height, width, channels)` map is a `(H', H)` matrix applied along
height and a `(W', W)` matrix along width. The matrices are built from
`keras.ops` when sizes are tensors (unknown until run time, e.g. exported
graphs) and in NumPy when they are known while tracing; both from one
integer formula, so they hold the same weights.
"""

from __future__ import annotations

import numpy as np
from keras import ops


def known_size(value):
    """`value` as a Python int when it is known while tracing, else `None`."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return None


def source_rows(index, in_size, out_size, align_corners: bool, xp):
    """Input rows `low`, `high` that each output `index` interpolates
    between, and its position past `low` as `remainder / denominator`.

    `xp` is `numpy` (known sizes) or `keras.ops` (sizes that may be
    tensors). Integer arithmetic on both, so that the floor and the
    fractional part of the position are exact: one rounding in total, and
    the same weights on both paths.
    """
    if align_corners:
        numerator = index * (in_size - 1)
        denominator = xp.maximum(out_size - 1, 1)
    else:  # (index + 0.5) * in / out - 0.5, clamped at 0 like PyTorch
        numerator = xp.maximum((2 * index + 1) * in_size - out_size, 0)
        denominator = 2 * out_size
    low = xp.minimum(numerator // denominator, in_size - 1)
    high = xp.minimum(low + 1, in_size - 1)
    return low, high, numerator - low * denominator, denominator


def interpolation_matrix(in_size, out_size, align_corners: bool, dtype):
    """Matrix `(out_size, in_size)` that resamples a 1-D signal bilinearly.

    Sizes may be tensors (unknown until run time).
    """
    index = ops.arange(out_size, dtype="int32")
    low, high, remainder, denominator = source_rows(
        index, in_size, out_size, align_corners, ops
    )
    frac = ops.cast(remainder, "float32") / ops.cast(denominator, "float32")
    columns = ops.arange(in_size, dtype="int32")[None, :]
    matrix = (
        ops.cast(ops.equal(columns, low[:, None]), "float32")
        * (1.0 - frac[:, None])
        + ops.cast(ops.equal(columns, high[:, None]), "float32") * frac[:, None]
    )
    return ops.cast(matrix, dtype)


def interpolation_weights(in_size: int, out_size: int, align_corners: bool):
    """NumPy `(low, high, frac)` per output index of a bilinear resample.

    Output index `i` is `(1 - frac[i]) * in[low[i]] + frac[i] * in[high[i]]`;
    the same positions as `interpolation_matrix`, `frac` in float64.
    """
    index = np.arange(out_size, dtype=np.int64)
    low, high, remainder, denominator = source_rows(
        index, in_size, out_size, align_corners, np
    )
    return low, high, remainder / denominator


def interpolation_matrix_numpy(
    in_size: int, out_size: int, align_corners: bool
) -> np.ndarray:
    """`interpolation_matrix` for known sizes: float32 NumPy `(out, in)`."""
    low, high, frac = interpolation_weights(in_size, out_size, align_corners)
    matrix = np.zeros((out_size, in_size), np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, low), 1.0 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix.astype(np.float32)


def pooling_matrix(in_size, bins: int, dtype):
    """Matrix `(bins, in_size)` averaging PyTorch `AdaptiveAvgPool` bins.

    Bin `i` spans `[floor(i * in / bins), ceil((i + 1) * in / bins))`; the
    bins may overlap when `in_size` is not a multiple of `bins`.
    """
    index = ops.arange(bins)
    in_size_i = ops.cast(in_size, "int32")
    start = (index * in_size_i) // bins
    end = ((index + 1) * in_size_i + bins - 1) // bins
    columns = ops.arange(in_size)[None, :]
    inside = ops.logical_and(
        ops.greater_equal(columns, start[:, None]),
        ops.less(columns, end[:, None]),
    )
    counts = ops.cast(end - start, "float32")[:, None]
    return ops.cast(ops.cast(inside, "float32") / counts, dtype)


def dense_resample(x, matrix, features):
    """Apply `matrix` `(out, in)` along axis 1 of `x` `(batch, in,
    features)`; returns `(batch, out, features)`."""
    del features  # the product keeps them
    return ops.matmul(ops.cast(matrix, x.dtype), x)


def apply_separable(x, row_matrix, col_matrix, resample=dense_resample):
    """Apply `(H', H)` along height and `(W', W)` along width of NHWC `x`.

    Two matrix products over reshaped views (width first): the same sums
    as `einsum("oh,bhwc->bowc")` then `einsum("pw,bowc->bopc")`, with one
    large GEMM for the height pass. `resample(x, matrix, features)` applies
    one matrix along axis 1 of `(batch, in, features)`; the fast paths pass
    a banded one. Matrices are tensors or NumPy arrays.

    Returns `(batch, H', W', channels)`.
    """
    shape = ops.shape(x)
    height, channels = shape[1], x.shape[-1]
    if channels is None:
        channels = shape[3]
    out_height = ops.shape(row_matrix)[0]
    out_width = ops.shape(col_matrix)[0]
    x = ops.reshape(x, (-1, shape[2], channels))
    x = resample(x, col_matrix, channels)
    x = ops.reshape(x, (-1, height, out_width * channels))
    x = resample(x, row_matrix, out_width * channels)
    return ops.reshape(x, (-1, out_height, out_width, channels))
