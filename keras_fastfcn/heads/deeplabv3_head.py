"""DeepLabV3 head: ASPP + 3x3 conv + classifier."""

from __future__ import annotations

import keras

from keras_fastfcn.layers.aspp import ASPP
from keras_fastfcn.layers.common import conv2d
from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.utils.serialization import serializable


@serializable
class DeepLabV3Head(keras.layers.Layer):
    """ASPP, then 3x3 conv + BN + ReLU + dropout 0.1 + 1x1 classifier.

    Input `(batch, h, w, C)`; output logits `(batch, h, w, num_classes)`.

    Args:
        num_classes: int, output classes.
        rates: tuple of int, ASPP atrous rates. Default `(12, 24, 36)`.
        dropout: float, spatial dropout before the classifier. Default `0.1`.
    """

    def __init__(
        self,
        num_classes: int,
        rates=(12, 24, 36),
        dropout: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.rates = tuple(rates)
        self.dropout = dropout

    def build(self, input_shape):
        width = input_shape[-1] // 8
        self.aspp = ASPP(self.rates, width, name="aspp")
        self.block = conv_bn_relu("block", width) + [
            keras.layers.SpatialDropout2D(self.dropout, name="block-3"),
            conv2d(self.num_classes, 1, "block-4", use_bias=True),
        ]

    def call(self, x, training=None):
        x = self.aspp(x, training=training)
        return run_sequence(self.block, x, training)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            rates=list(self.rates),
            dropout=self.dropout,
        )
        return config
