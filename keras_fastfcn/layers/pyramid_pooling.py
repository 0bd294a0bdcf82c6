"""Pyramid pooling module of PSPNet with PyTorch-exact adaptive bins."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from keras import ops

from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.layers.common import serializable
from keras_fastfcn.layers.cropped_taps import place_block
from keras_fastfcn.layers.resize import _apply_separable
from keras_fastfcn.layers.resize import _interpolation_matrix_numpy
from keras_fastfcn.layers.resize import adaptive_average_pool
from keras_fastfcn.layers.resize import resize_bilinear


@serializable
class PyramidPooling(keras.layers.Layer):
    """Pyramid pooling (Zhao et al., 2017) as in the official FastFCN code.

    Each branch average-pools the input into `bins x bins` cells with
    PyTorch `AdaptiveAvgPool2d` semantics (cells may overlap), reduces it to
    `channels / 4` with 1x1 conv + BN + ReLU and upsamples it back
    (bilinear, align corners). Output: `[x, branch_1, ..., branch_n]`.

    Input `(batch, height, width, C)`; output
    `(batch, height, width, C + len(bins) * C // 4)`.

    Args:
        bins: tuple of int, pooled grid sizes. Default `(1, 2, 3, 6)`.
        align_corners: bool, resize semantics. Default `True`.
    """

    def __init__(
        self,
        bins: Sequence[int] = (1, 2, 3, 6),
        align_corners: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.bins = tuple(bins)
        self.align_corners = align_corners

    def build(self, input_shape):
        self.branch_width = input_shape[-1] // 4
        self.branches = [
            conv_bn_relu(f"conv{i}", self.branch_width, kernel_size=1)
            for i in range(1, len(self.bins) + 1)
        ]

    def call(self, x, training=None):
        shape = ops.shape(x)
        size = (shape[1], shape[2])
        outputs = [x] + [
            resize_bilinear(pooled, size, self.align_corners)
            for pooled in self.pooled(x, training)
        ]
        return ops.concatenate(outputs, axis=-1)

    def pooled(self, x, training=None) -> list:
        """The branches before upsampling: `(batch, bins, bins, C // 4)`
        per entry of `bins`."""
        return [
            run_sequence(branch, adaptive_average_pool(x, bins), training)
            for bins, branch in zip(self.bins, self.branches)
        ]

    def get_config(self):
        config = super().get_config()
        config.update(bins=list(self.bins), align_corners=self.align_corners)
        return config


def _shifted_interpolation(
    in_size: int, out_size: int, kernel_size: int, align_corners: bool
):
    """`[M_0, ..., M_{k-1}]` side by side, `(out_size, k * in_size)`:
    `M_t[y] = U[y + t - k // 2]` for the `(out_size, in_size)` bilinear
    matrix `U`, zero where that row falls outside (the convolution's
    zero padding)."""
    matrix = _interpolation_matrix_numpy(in_size, out_size, align_corners)
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

    Upsampling is linear, `up(p) = U_rows p U_cols^T` per channel, so tap
    `(t, u)` of the convolution of `up(p)` is `U_rows` shifted by `t`
    times `(p @ kernel[t, u])` times `U_cols` shifted by `u`: the channel
    mixing runs on the small pooled grid, and all taps and branches
    become one separable resize of a `(batch, k * sum(bins), k *
    sum(bins), filters)` block-diagonal grid. For PSPNet's 3x3 fusion
    convolution this removes the pyramid's half of the input channels
    from the full-resolution convolution (README "Speed").

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
    return _apply_separable(
        block_diagonal,
        np.concatenate(row_mats, axis=1),
        np.concatenate(col_mats, axis=1),
    )
