"""Banded separable resize for sizes known while tracing.

Each block of output rows of a bilinear resize only reads the few input
rows it interpolates between: a band of the `(out, in)` interpolation
matrix. Where that at least halves the multiply-adds, the matrix is applied
block by block (`(blocks, rows, window)` weights over gathered input rows)
instead of as one dense product: a 64 -> 512 upsampling multiplies by
`(32, 6)` blocks instead of the whole `(512, 64)` matrix. Same sums, other
order (tests/fast/test_rewrites.py); timings in README "Speed".
"""

from __future__ import annotations

import numpy as np
from keras import ops

from keras_fastfcn.ops.interpolation import apply_separable
from keras_fastfcn.ops.interpolation import dense_resample


def _block_rows(out_size: int):
    """Rows per band block: the divisor of `out_size` in [8, 128] nearest 32."""
    divisors = [r for r in range(8, 129) if out_size % r == 0]
    if not divisors:
        return None
    return min(divisors, key=lambda r: (abs(r - 32), r))


def band_plan(matrix: np.ndarray):
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


def banded_resample(x, matrix, features):
    """Apply `matrix` `(out, in)` along axis 1 of `x` `(batch, in,
    features)`, in bands when `matrix` is a NumPy array and `band_plan`
    pays off; returns `(batch, out, features)`."""
    if not isinstance(matrix, np.ndarray):
        return dense_resample(x, matrix, features)
    plan = band_plan(matrix)
    if plan is None:
        return dense_resample(x, matrix, features)
    indices, weights = plan
    blocks = ops.take(x, indices, axis=1)  # (batch, blocks, window, features)
    x = ops.matmul(ops.cast(weights, x.dtype), blocks)
    return ops.reshape(x, (-1, matrix.shape[0], features))


def banded_separable(x, row_matrix, col_matrix):
    """`apply_separable` with banded products for NumPy matrices.

    Args:
        x: `(batch, height, width, channels)`.
        row_matrix: `(H', height)`; col_matrix: `(W', width)`.

    Returns:
        `(batch, H', W', channels)`.
    """
    return apply_separable(x, row_matrix, col_matrix, banded_resample)
