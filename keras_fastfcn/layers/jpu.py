"""Joint Pyramid Upsampling (JPU), the FastFCN neck."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from keras_fastfcn.layers.common import batch_norm
from keras_fastfcn.layers.common import build_sequence
from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.layers.resize import resize_bilinear
from keras_fastfcn.layers.separable import SeparableConvNorm
from keras_fastfcn.utils.serialization import serializable


@serializable
class JPU(keras.layers.Layer):
    """Joint Pyramid Upsampling module (Wu et al., 2019).

    Takes the stride-8/16/32 backbone features, reduces each to `width`
    channels with 3x3 conv + BN + ReLU, upsamples the two coarser ones to
    stride 8 (bilinear, align corners), concatenates them in the official
    order `[stride 32, stride 16, stride 8]` and runs parallel separable
    dilated convolutions over the result, whose outputs are concatenated.

    Called as `jpu([c3, c4, c5])` with
    `c3 (batch, H, W, C3)`, `c4 (batch, H/2, W/2, C4)`,
    `c5 (batch, H/4, W/4, C5)`; returns `(batch, H, W, len(dilations) * width)`
    (2048 channels with the defaults).

    Args:
        width: int, channels of every branch. Default `512`.
        dilations: tuple of int, dilation of each separable branch.
            Default `(1, 2, 4, 8)`.
        align_corners: bool, resize semantics. Default `True` (official).

    Reference:
        - [FastFCN: Rethinking Dilated Convolution in the Backbone for
          Semantic Segmentation](https://arxiv.org/abs/1903.11816)

    Example:
    >>> jpu = keras_fastfcn.layers.JPU(width=16)
    >>> c3 = np.ones((1, 32, 32, 8)); c4 = np.ones((1, 16, 16, 8))
    >>> c5 = np.ones((1, 8, 8, 8))
    >>> jpu([c3, c4, c5]).shape
    (1, 32, 32, 64)
    """

    def __init__(
        self,
        width: int = 512,
        dilations: Sequence[int] = (1, 2, 4, 8),
        align_corners: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.width = width
        self.dilations = tuple(dilations)
        self.align_corners = align_corners
        self.conv5 = conv_bn_relu("conv5", width)
        self.conv4 = conv_bn_relu("conv4", width)
        self.conv3 = conv_bn_relu("conv3", width)
        self.branches = [
            [
                SeparableConvNorm(width, dilation=d, name=f"dilation{i}-0"),
                batch_norm(f"dilation{i}-1"),
                keras.layers.ReLU(name=f"dilation{i}-2"),
            ]
            for i, d in enumerate(self.dilations, start=1)
        ]

    def build(self, input_shape):
        c3, c4, c5 = (tuple(s) for s in input_shape)
        build_sequence(self.conv3, c3)
        build_sequence(self.conv4, c4)
        build_sequence(self.conv5, c5)
        for branch in self.branches:
            build_sequence(branch, c3[:-1] + (3 * self.width,))

    def call(self, inputs, training=None):
        c3, c4, c5 = inputs
        f3 = run_sequence(self.conv3, c3, training)
        f4 = run_sequence(self.conv4, c4, training)
        f5 = run_sequence(self.conv5, c5, training)
        shape = ops.shape(f3)
        size = (shape[1], shape[2])
        f5 = resize_bilinear(f5, size, self.align_corners)
        f4 = resize_bilinear(f4, size, self.align_corners)
        feat = ops.concatenate([f5, f4, f3], axis=-1)
        outputs = [run_sequence(b, feat, training) for b in self.branches]
        return ops.concatenate(outputs, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(
            width=self.width,
            dilations=list(self.dilations),
            align_corners=self.align_corners,
        )
        return config
