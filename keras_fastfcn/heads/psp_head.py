"""PSPNet head: pyramid pooling + 3x3 fusion + classifier."""

from __future__ import annotations

import keras

from keras_fastfcn.layers.common import conv2d
from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.layers.common import serializable
from keras_fastfcn.layers.pyramid_pooling import PyramidPooling


@serializable
class PSPHead(keras.layers.Layer):
    """Pyramid pooling, 3x3 conv (`C / 4`) + BN + ReLU, dropout, classifier.

    Input `(batch, h, w, C)`; output logits `(batch, h, w, num_classes)`.

    Args:
        num_classes: int, output classes.
        bins: tuple of int, pyramid pooling grids. Default `(1, 2, 3, 6)`.
        dropout: float, spatial dropout before the classifier. Default `0.1`.
    """

    def __init__(
        self,
        num_classes: int,
        bins=(1, 2, 3, 6),
        dropout: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.bins = tuple(bins)
        self.dropout = dropout

    def build(self, input_shape):
        width = input_shape[-1] // 4
        self.conv5 = (
            [PyramidPooling(self.bins, name="conv5-0")]
            + conv_bn_relu("conv5", width, first_index=1)
            + [
                keras.layers.SpatialDropout2D(self.dropout, name="conv5-4"),
                conv2d(self.num_classes, 1, "conv5-5", use_bias=True),
            ]
        )

    def call(self, x, training=None):
        x = self.conv5[0](x, training=training)
        return run_sequence(self.conv5[1:], x, training)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            bins=list(self.bins),
            dropout=self.dropout,
        )
        return config
