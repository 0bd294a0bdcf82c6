"""FCN head, also the auxiliary head of every model."""

from __future__ import annotations

import keras

from keras_fastfcn.layers.common import conv2d
from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.utils.serialization import serializable


@serializable
class FCNHead(keras.layers.Layer):
    """3x3 conv (`C / 4`) + BN + ReLU + dropout 0.1 + 1x1 classifier.

    Input `(batch, h, w, C)`; output logits `(batch, h, w, num_classes)` at
    the input's resolution.

    Args:
        num_classes: int, output classes.
        dropout: float, spatial dropout before the classifier. Default `0.1`.
    """

    def __init__(self, num_classes: int, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.dropout = dropout

    def build(self, input_shape):
        self.conv5 = conv_bn_relu("conv5", input_shape[-1] // 4) + [
            keras.layers.SpatialDropout2D(self.dropout, name="conv5-3"),
            conv2d(self.num_classes, 1, "conv5-4", use_bias=True),
        ]

    def call(self, x, training=None):
        return run_sequence(self.conv5, x, training)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, dropout=self.dropout)
        return config
