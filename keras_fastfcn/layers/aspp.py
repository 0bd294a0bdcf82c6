"""Atrous spatial pyramid pooling (DeepLabV3) as in the official code."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.utils.serialization import serializable


@serializable
class ASPP(keras.layers.Layer):
    """Atrous spatial pyramid pooling (Chen et al., 2017).

    Branches: 1x1 conv (`b0`), one 3x3 conv per atrous rate (`b1..`), and
    image pooling (`b4`: global average pool, 1x1 conv, broadcast back);
    each with BN + ReLU. Their concatenation `[b0, b1, b2, b3, b4]` is
    projected by 1x1 conv + BN + ReLU + dropout 0.5.

    Input `(batch, height, width, C)`; output `(batch, height, width, width)`.

    Args:
        rates: tuple of int, atrous rates. Default `(12, 24, 36)` (output
            stride 8; use `(6, 12, 18)` at output stride 16).
        width: int or `None`, branch channels; `None` means `C // 8` as
            the official code (256 for 2048 input channels).
        dropout: float, dropout after the projection. Default `0.5`.
    """

    def __init__(
        self,
        rates: Sequence[int] = (12, 24, 36),
        width: int | None = None,
        dropout: float = 0.5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rates = tuple(rates)
        self.width = width
        self.dropout = dropout

    def build(self, input_shape):
        width = self.width or input_shape[-1] // 8
        self.branches = [conv_bn_relu("b0", width, kernel_size=1)] + [
            conv_bn_relu(f"b{i}", width, dilation=rate)
            for i, rate in enumerate(self.rates, start=1)
        ]
        pool = len(self.rates) + 1
        # The official pooling Sequential has the pool itself at index 0.
        self.pooling = conv_bn_relu(
            f"b{pool}-gap", width, kernel_size=1, first_index=1
        )
        self.project = conv_bn_relu("project", width, kernel_size=1) + [
            keras.layers.SpatialDropout2D(self.dropout, name="project-3")
        ]

    def call(self, x, training=None):
        outputs = [run_sequence(b, x, training) for b in self.branches]
        pooled = ops.mean(x, axis=(1, 2), keepdims=True)
        pooled = run_sequence(self.pooling, pooled, training)
        outputs.append(ops.zeros_like(outputs[0]) + pooled)
        feat = ops.concatenate(outputs, axis=-1)
        return run_sequence(self.project, feat, training)

    def get_config(self):
        config = super().get_config()
        config.update(
            rates=list(self.rates), width=self.width, dropout=self.dropout
        )
        return config
