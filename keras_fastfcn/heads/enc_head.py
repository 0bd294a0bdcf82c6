"""EncNet head: conv + EncModule + classifier (+ SE class presence)."""

from __future__ import annotations

import keras

from keras_fastfcn.layers.common import conv2d
from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.layers.enc_module import EncModule
from keras_fastfcn.utils.serialization import serializable


@serializable
class EncHead(keras.layers.Layer):
    """EncNet head as in the official FastFCN code.

    `conv5` reduces the input to `C / 4` channels (1x1 after JPU, 3x3 on a
    dilated backbone, as the official code), `EncModule` gates the channels
    with global context, then dropout 0.1 and a 1x1 classifier.

    Input `(batch, h, w, C)`. Returns logits `(batch, h, w, num_classes)`,
    or `(logits, se_logits (batch, num_classes))` when `se_loss=True`.

    Args:
        num_classes: int, output classes.
        conv_kernel_size: int, kernel of `conv5`: `1` with JPU, `3`
            otherwise. Default `3`.
        num_codes: int, codewords of the Encoding layer. Default `32`.
        se_loss: bool, add the class-presence output. Default `True`.
        dropout: float, spatial dropout before the classifier. Default `0.1`.
    """

    def __init__(
        self,
        num_classes: int,
        conv_kernel_size: int = 3,
        num_codes: int = 32,
        se_loss: bool = True,
        dropout: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.conv_kernel_size = conv_kernel_size
        self.num_codes = num_codes
        self.se_loss = se_loss
        self.dropout = dropout

    def build(self, input_shape):
        self.conv5 = conv_bn_relu(
            "conv5", input_shape[-1] // 4, kernel_size=self.conv_kernel_size
        )
        self.encmodule = EncModule(
            self.num_classes, self.num_codes, self.se_loss, name="encmodule"
        )
        self.conv6 = [
            keras.layers.SpatialDropout2D(self.dropout, name="conv6-0"),
            conv2d(self.num_classes, 1, "conv6-1", use_bias=True),
        ]

    def call(self, x, training=None):
        x = run_sequence(self.conv5, x, training)
        x = self.encmodule(x, training=training)
        se_logits = None
        if self.se_loss:
            x, se_logits = x
        logits = run_sequence(self.conv6, x, training)
        if se_logits is None:
            return logits
        return logits, se_logits

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            conv_kernel_size=self.conv_kernel_size,
            num_codes=self.num_codes,
            se_loss=self.se_loss,
            dropout=self.dropout,
        )
        return config
