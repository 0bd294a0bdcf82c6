"""Feature pyramid decoder used as a neck in the FastFCN ablation."""

from __future__ import annotations

import keras
from keras import ops

from keras_fastfcn.layers.common import build_sequence
from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.layers.resize import resize_bilinear
from keras_fastfcn.utils.serialization import serializable


@serializable
class FPNNeck(keras.layers.Layer):
    """Top-down feature pyramid (Lin et al., 2017) fused at stride 8.

    Each input is reduced to `width` channels by a 1x1 conv + BN + ReLU
    (`lateral{k}`), the coarser level is upsampled and added top-down, each
    level is smoothed by a 3x3 conv + BN + ReLU (`smooth{k}`), and the three
    levels are upsampled to stride 8 and concatenated.

    Called as `fpn([c3, c4, c5])` like `JPU`; returns
    `(batch, H, W, 3 * width)` at the resolution of `c3`.

    Args:
        width: int, channels of every level. Default `512`.
        align_corners: bool, resize semantics. Default `True`.
    """

    def __init__(self, width: int = 512, align_corners: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.align_corners = align_corners
        self.laterals = [
            conv_bn_relu(f"lateral{k}", width, kernel_size=1) for k in (3, 4, 5)
        ]
        self.smooths = [conv_bn_relu(f"smooth{k}", width) for k in (3, 4, 5)]

    def build(self, input_shape):
        for lateral, smooth, shape in zip(
            self.laterals, self.smooths, input_shape
        ):
            build_sequence(smooth, build_sequence(lateral, shape))

    def _resize_to(self, x, reference):
        shape = ops.shape(reference)
        return resize_bilinear(x, (shape[1], shape[2]), self.align_corners)

    def call(self, inputs, training=None):
        laterals = [
            run_sequence(layers, x, training)
            for layers, x in zip(self.laterals, inputs)
        ]
        for k in (1, 0):  # top-down: stride 32 -> 16 -> 8
            laterals[k] = laterals[k] + self._resize_to(
                laterals[k + 1], laterals[k]
            )
        levels = [
            run_sequence(layers, x, training)
            for layers, x in zip(self.smooths, laterals)
        ]
        finest = levels[0]
        levels = [finest] + [self._resize_to(x, finest) for x in levels[1:]]
        return ops.concatenate(levels, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, align_corners=self.align_corners)
        return config
