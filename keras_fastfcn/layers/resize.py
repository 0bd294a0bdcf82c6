"""Bilinear resizing and adaptive average pooling with dynamic sizes.

`keras.ops.image.resize` needs static output sizes and has no
`align_corners=True` mode, which the official FastFCN code uses everywhere.
Both operations here are written as two small interpolation (or pooling)
matrices applied along height and width, built with `keras.ops` from the
(possibly unknown) tensor shapes, so they work on every backend and inside
exported graphs with unknown input height / width.

When all sizes are known while tracing, the interpolation matrices are
built in NumPy instead and, where that at least halves the work, applied
block by block: each block of output rows only reads the few input rows it
interpolates between (a band of the matrix), so a 64 -> 512 upsampling
multiplies by `(32, 6)` blocks instead of the whole `(512, 64)` matrix.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_fastfcn.layers.common import serializable


def _source_rows(index, in_size, out_size, align_corners: bool, xp):
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


def _interpolation_matrix(in_size, out_size, align_corners: bool, dtype):
    """Matrix `(out_size, in_size)` that resamples a 1-D signal bilinearly.

    Sizes may be tensors (unknown until run time).
    """
    index = ops.arange(out_size, dtype="int32")
    low, high, remainder, denominator = _source_rows(
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
    the same positions as `_interpolation_matrix`, `frac` in float64.
    """
    index = np.arange(out_size, dtype=np.int64)
    low, high, remainder, denominator = _source_rows(
        index, in_size, out_size, align_corners, np
    )
    return low, high, remainder / denominator


def _interpolation_matrix_numpy(in_size: int, out_size: int, align_corners):
    """`_interpolation_matrix` for known sizes: float32 NumPy `(out, in)`."""
    low, high, frac = interpolation_weights(in_size, out_size, align_corners)
    matrix = np.zeros((out_size, in_size), np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, low), 1.0 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix.astype(np.float32)


def _block_rows(out_size: int):
    """Rows per band block: the divisor of `out_size` in [8, 128] nearest 32."""
    divisors = [r for r in range(8, 129) if out_size % r == 0]
    if not divisors:
        return None
    return min(divisors, key=lambda r: (abs(r - 32), r))


def _band_plan(matrix: np.ndarray):
    """Split a sparse `(out, in)` matrix into blocks of output rows.

    Returns `indices` `(blocks, window)` (the input rows each block reads)
    and `weights` `(blocks, rows, window)`, or `None` when the blocks would
    not at least halve the multiply-adds of the dense product.
    """
    out_size, in_size = matrix.shape
    rows = _block_rows(out_size)
    if rows is None:
        return None
    blocks = matrix.reshape(out_size // rows, rows, in_size)
    used = np.any(blocks != 0, axis=1)  # (blocks, in)
    first = used.argmax(axis=1)
    last = in_size - 1 - used[:, ::-1].argmax(axis=1)
    window = int((last - first).max()) + 1
    if 2 * window > in_size:
        return None
    start = np.minimum(first, in_size - window)
    indices = start[:, None] + np.arange(window)[None, :]
    weights = np.take_along_axis(blocks, indices[:, None, :], axis=2)
    return indices.astype(np.int32), weights


def _resample(x, matrix, features):
    """Apply `matrix` `(out, in)` along axis 1 of `x` `(batch, in, features)`.

    A NumPy `matrix` (known sizes) goes through `_band_plan` when that pays
    off; returns `(batch, out, features)`.
    """
    if not isinstance(matrix, np.ndarray):
        return ops.matmul(matrix, x)
    plan = _band_plan(matrix)
    if plan is None:
        return ops.matmul(ops.cast(matrix, x.dtype), x)
    indices, weights = plan
    blocks = ops.take(x, indices, axis=1)  # (batch, blocks, window, features)
    x = ops.matmul(ops.cast(weights, x.dtype), blocks)
    return ops.reshape(x, (-1, matrix.shape[0], features))


def _pooling_matrix(in_size, bins: int, dtype):
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


def _apply_separable(x, row_matrix, col_matrix):
    """Apply `(H', H)` along height and `(W', W)` along width of NHWC `x`.

    Two matrix products over reshaped views (width first, on the smaller
    tensor when upsampling): the same sums as `einsum("oh,bhwc->bowc")`
    then `einsum("pw,bowc->bopc")`, but a single large GEMM for the height
    pass, which the CPU kernels run ~1.5x faster than the einsums. The
    matrices are tensors or, for known sizes, NumPy arrays, which
    `_resample` applies in bands where that pays off (64 -> 512 with 150
    channels: 17 instead of 45 ms on two CPU cores, README "Speed").
    """
    shape = ops.shape(x)
    height, channels = shape[1], x.shape[-1]
    if channels is None:
        channels = shape[3]
    out_height = ops.shape(row_matrix)[0]
    out_width = ops.shape(col_matrix)[0]
    x = ops.reshape(x, (-1, shape[2], channels))
    x = _resample(x, col_matrix, channels)
    x = ops.reshape(x, (-1, height, out_width * channels))
    x = _resample(x, row_matrix, out_width * channels)
    return ops.reshape(x, (-1, out_height, out_width, channels))


def _known_size(value):
    """`value` as a Python int when it is known while tracing, else `None`."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return None


def resize_bilinear(x, size, align_corners: bool = True):
    """Bilinearly resize `x` `(batch, height, width, channels)` to `size`.

    Args:
        x: tensor `(batch, height, width, channels)`.
        size: `(out_height, out_width)`; Python ints or scalar tensors.
        align_corners: `True` matches PyTorch `align_corners=True` (the
            official FastFCN setting); `False` matches half-pixel centres
            (`tf.image.resize`, PyTorch `align_corners=False`).

    Returns:
        Tensor `(batch, out_height, out_width, channels)`, dtype of `x`.
    """
    shape = ops.shape(x)
    known = [_known_size(v) for v in (shape[1], size[0], shape[2], size[1])]
    if None in known:
        rows = _interpolation_matrix(shape[1], size[0], align_corners, x.dtype)
        cols = _interpolation_matrix(shape[2], size[1], align_corners, x.dtype)
    else:
        rows = _interpolation_matrix_numpy(known[0], known[1], align_corners)
        cols = _interpolation_matrix_numpy(known[2], known[3], align_corners)
    return _apply_separable(x, rows, cols)


def adaptive_average_pool(x, bins: int):
    """PyTorch-exact `AdaptiveAvgPool2d(bins)` of NHWC `x`.

    Returns a tensor `(batch, bins, bins, channels)`.
    """
    shape = ops.shape(x)
    rows = _pooling_matrix(shape[1], bins, x.dtype)
    cols = _pooling_matrix(shape[2], bins, x.dtype)
    return _apply_separable(x, rows, cols)


@serializable
class ResizeLike(keras.layers.Layer):
    """Resize a feature map to the spatial size of a reference tensor.

    Called as `layer([x, reference])` with `x` `(batch, h, w, channels)` and
    `reference` `(batch, H, W, any)`; returns `(batch, H, W, channels)`.
    Sizes may be unknown until run time.

    Args:
        align_corners: bool, PyTorch `align_corners` semantics. Default `True`.
    """

    def __init__(self, align_corners: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.align_corners = align_corners

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return resize_bilinear(x, (shape[1], shape[2]), self.align_corners)

    def compute_output_shape(self, input_shape):
        x_shape, ref_shape = input_shape
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])

    def get_config(self):
        config = super().get_config()
        config["align_corners"] = self.align_corners
        return config
