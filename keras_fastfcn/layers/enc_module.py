"""EncModule: Encoding + channel gating + semantic-encoding (SE) branch."""

from __future__ import annotations

import keras
from keras import ops

from keras_fastfcn.layers.common import batch_norm
from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.layers.encoding import Encoding
from keras_fastfcn.utils.serialization import serializable


@serializable
class EncModule(keras.layers.Layer):
    """Context encoding module of EncNet.

    `en = mean_k(relu(BN_k(Encoding(relu(BN(conv1x1(x)))))))` summarises the
    image in a `(batch, D)` vector; `gamma = sigmoid(fc(en))` gates the input
    channels: `out = relu(x + x * gamma)`. With `se_loss`, a linear layer on
    `en` (not on `gamma`) predicts which classes are present.

    Input `(batch, height, width, D)`. Returns `out` with the input's shape,
    or `(out, se_logits (batch, num_classes))` when `se_loss=True`.

    Args:
        num_classes: int, classes of the SE branch.
        num_codes: int, codewords of the Encoding layer. Default `32`.
        se_loss: bool, add the class-presence branch. Default `True`.
    """

    def __init__(
        self,
        num_classes: int,
        num_codes: int = 32,
        se_loss: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.num_codes = num_codes
        self.se_loss = se_loss

    def build(self, input_shape):
        channels = input_shape[-1]
        self.encoding = conv_bn_relu("encoding", channels, kernel_size=1) + [
            Encoding(self.num_codes, name="encoding-3"),
            batch_norm("encoding-4", axis=1),
            keras.layers.ReLU(name="encoding-5"),
        ]
        self.fc = keras.layers.Dense(channels, name="fc-0")
        self.selayer = (
            keras.layers.Dense(self.num_classes, name="selayer")
            if self.se_loss
            else None
        )

    def call(self, x, training=None):
        encoded = run_sequence(self.encoding, x, training)
        encoded = ops.mean(encoded, axis=1)  # (B, D)
        gamma = ops.sigmoid(self.fc(encoded))
        gamma = ops.cast(gamma, x.dtype)[:, None, None, :]
        out = ops.relu(x + x * gamma)
        if self.selayer is None:
            return out
        return out, self.selayer(encoded)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            num_codes=self.num_codes,
            se_loss=self.se_loss,
        )
        return config
