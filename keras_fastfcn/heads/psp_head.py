"""PSPNet head: pyramid pooling + 3x3 fusion + classifier."""

from __future__ import annotations

import keras
from keras import ops

from keras_fastfcn.layers.common import conv2d
from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.layers.common import serializable
from keras_fastfcn.layers.conv_algorithms import layer_rewrites_enabled
from keras_fastfcn.layers.pyramid_pooling import PyramidPooling
from keras_fastfcn.layers.pyramid_pooling import upsampled_convolution
from keras_fastfcn.layers.resize import _known_size


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

        # Built here: `call` may skip `pyramid(x)` and `fusion(x)`.
        pyramid, fusion = self.conv5[0], self.conv5[1]
        pyramid.build(input_shape)
        channels = input_shape[-1] + len(self.bins) * pyramid.branch_width
        fusion.build(tuple(input_shape[:-1]) + (channels,))

    def call(self, x, training=None):
        """Logits `(batch, h, w, num_classes)` of features `x`."""
        shape = ops.shape(x)
        size = (_known_size(shape[1]), _known_size(shape[2]))
        if None in size or not layer_rewrites_enabled():
            x = self.conv5[0](x, training=training)
            return run_sequence(self.conv5[1:], x, training)
        return run_sequence(
            self.conv5[2:], self._fused_pyramid(x, size, training), training
        )

    def _fused_pyramid(self, x, size, training):
        """`fusion(pyramid(x))` without the `(batch, h, w, 2 * C)`
        concatenation: the fusion kernel's rows for `x` convolve `x`, and
        those for each upsampled branch go through
        `upsampled_convolution` on the pooled grids. Same sums, about half
        the multiply-adds at full resolution (README "Speed")."""
        pyramid, fusion = self.conv5[0], self.conv5[1]
        channels, width = x.shape[-1], pyramid.branch_width
        kernel = fusion.kernel
        y = fusion.convolve(x, kernel[:, :, :channels], training)
        branch_kernels = [
            kernel[:, :, channels + i * width : channels + (i + 1) * width]
            for i in range(len(self.bins))
        ]
        y = y + upsampled_convolution(
            pyramid.pooled(x, training),
            branch_kernels,
            size,
            pyramid.align_corners,
        )
        return y

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            bins=list(self.bins),
            dropout=self.dropout,
        )
        return config
