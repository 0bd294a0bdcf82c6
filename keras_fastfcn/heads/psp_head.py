"""PSPNet head: pyramid pooling + 3x3 fusion + classifier."""

from __future__ import annotations

import keras

from keras_fastfcn.fast import rewrite
from keras_fastfcn.layers.common import conv2d
from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.layers.pyramid_pooling import PyramidPooling
from keras_fastfcn.utils.serialization import serializable


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

        # Built here: the fast path reads their weights without calling them.
        pyramid, fusion = self.conv5[0], self.conv5[1]
        pyramid.build(input_shape)
        channels = input_shape[-1] + len(self.bins) * pyramid.branch_width
        fusion.build(tuple(input_shape[:-1]) + (channels,))

    def call(self, x, training=None):
        """Logits `(batch, h, w, num_classes)` of features `x`."""
        pyramid, fusion = self.conv5[0], self.conv5[1]
        fused = rewrite("pyramid_fusion", pyramid, fusion, x, training)
        if fused is None:
            fused = fusion(pyramid(x, training=training))
        return run_sequence(self.conv5[2:], fused, training)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            bins=list(self.bins),
            dropout=self.dropout,
        )
        return config
