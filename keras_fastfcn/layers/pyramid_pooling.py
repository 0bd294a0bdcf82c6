"""Pyramid pooling module of PSPNet with PyTorch-exact adaptive bins."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.layers.resize import adaptive_average_pool
from keras_fastfcn.layers.resize import resize_bilinear
from keras_fastfcn.utils.serialization import serializable


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
