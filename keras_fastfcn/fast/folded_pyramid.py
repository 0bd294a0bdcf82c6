"""PSPNet's pyramid pooling folded into its 3x3 fusion convolution.

The fusion convolution reads the backbone features `x` and the four
upsampled pyramid branches. Upsampling is linear, `up(p) = U_rows p
U_cols^T` per channel, so tap `(t, u)` of the convolution of `up(p)` is
`U_rows` shifted by `t` times `(p @ kernel[t, u])` times `U_cols` shifted
by `u`: the channel mixing runs on the small pooled grids, and all taps and
branches become one separable resize of a block-diagonal grid. The
full-resolution convolution then sees only `x`'s channels, and the
`(batch, h, w, 2 * C)` concatenation is never built. Exact: same sums in
another order (tests/fast/test_folded_pyramid.py).
"""

from __future__ import annotations

import numpy as np
from keras import ops

from keras_fastfcn.fast.banded_resize import banded_separable
from keras_fastfcn.fast.cropped_taps import place_block
from keras_fastfcn.ops.interpolation import interpolation_matrix_numpy


def _shifted_interpolation(
    in_size: int, out_size: int, kernel_size: int, align_corners: bool
):
    """`[M_0, ..., M_{k-1}]` side by side, `(out_size, k * in_size)`:
    `M_t[y] = U[y + t - k // 2]` for the `(out_size, in_size)` bilinear
    matrix `U`, zero where that row falls outside (the convolution's
    zero padding)."""
    matrix = interpolation_matrix_numpy(in_size, out_size, align_corners)
    shifted = np.zeros((out_size, kernel_size, in_size), np.float32)
    for t in range(kernel_size):
        shift = t - kernel_size // 2
        rows = np.arange(out_size) + shift
        inside = (rows >= 0) & (rows < out_size)
        shifted[inside, t] = matrix[rows[inside]]
    return shifted.reshape(out_size, kernel_size * in_size)


def upsampled_convolution(pooled, kernels, size, align_corners: bool = True):
    """`sum_i conv(resize_bilinear(pooled[i], size), kernels[i])`, "same"
    padding, stride 1, without building the upsampled maps.

    Args:
        pooled: list of tensors `(batch, rows_i, cols_i, channels_i)`.
        kernels: list of `(k, k, channels_i, filters)` kernels, odd `k`.
        size: `(height, width)` as Python ints.
        align_corners: resize semantics of `resize_bilinear`.

    Returns:
        Tensor `(batch, height, width, filters)`.
    """
    height, width = size
    kernel_size, filters = kernels[0].shape[0], kernels[0].shape[-1]
    grids, row_mats, col_mats = [], [], []
    for p, kernel in zip(pooled, kernels):
        rows, cols, channels = p.shape[1], p.shape[2], p.shape[3]
        taps = ops.transpose(ops.cast(kernel, p.dtype), (2, 0, 1, 3))
        taps = ops.reshape(taps, (channels, kernel_size**2 * filters))
        grid = ops.matmul(ops.reshape(p, (-1, channels)), taps)
        grid = ops.reshape(
            grid, (-1, rows, cols, kernel_size, kernel_size, filters)
        )
        grid = ops.transpose(grid, (0, 3, 1, 4, 2, 5))
        grids.append(
            ops.reshape(
                grid, (-1, kernel_size * rows, kernel_size * cols, filters)
            )
        )
        row_mats.append(
            _shifted_interpolation(rows, height, kernel_size, align_corners)
        )
        col_mats.append(
            _shifted_interpolation(cols, width, kernel_size, align_corners)
        )
    total_rows = sum(m.shape[1] for m in row_mats)
    total_cols = sum(m.shape[1] for m in col_mats)
    block_diagonal, top, left = None, 0, 0
    for grid, row_mat, col_mat in zip(grids, row_mats, col_mats):
        grid = place_block(grid, top, left, total_rows, total_cols)
        block_diagonal = (
            grid if block_diagonal is None else block_diagonal + grid
        )
        top, left = top + row_mat.shape[1], left + col_mat.shape[1]
    return banded_separable(
        block_diagonal,
        np.concatenate(row_mats, axis=1),
        np.concatenate(col_mats, axis=1),
    )


def pyramid_fusion(pyramid, fusion, x, size, training=None):
    """`fusion(pyramid(x))` for `PyramidPooling` `pyramid` and its 3x3
    `FastConv2D` `fusion`, without the concatenation: the fusion kernel's
    rows for `x` convolve `x`, and those for each upsampled branch go
    through `upsampled_convolution` on the pooled grids.

    Args:
        x: `(batch, height, width, C)`; size: `(height, width)` as ints.

    Returns:
        `(batch, height, width, filters)`, before the fusion's BatchNorm.
    """
    channels, width = x.shape[-1], pyramid.branch_width
    kernel = fusion.kernel
    y = fusion.convolve(x, kernel[:, :, :channels], training)
    branch_kernels = [
        kernel[:, :, channels + i * width : channels + (i + 1) * width]
        for i in range(len(pyramid.bins))
    ]
    return y + upsampled_convolution(
        pyramid.pooled(x, training),
        branch_kernels,
        size,
        pyramid.align_corners,
    )
