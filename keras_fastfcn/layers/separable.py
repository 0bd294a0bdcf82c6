"""Separable convolution with a normalisation between its two halves."""

from __future__ import annotations

import keras

from keras_fastfcn.fast import rewrite
from keras_fastfcn.layers.common import batch_norm
from keras_fastfcn.layers.common import conv2d
from keras_fastfcn.layers.common import conv_initializer
from keras_fastfcn.utils.serialization import serializable

NORMS = ("batch", "group")


def make_norm(norm: str, name: str, groups: int = 32):
    """BatchNorm (`"batch"`) or GroupNorm with PyTorch epsilon (`"group"`)."""
    if norm == "batch":
        return batch_norm(name)
    if norm == "group":
        return keras.layers.GroupNormalization(
            groups=groups, epsilon=1e-5, name=name
        )
    raise ValueError(f"Unknown norm {norm!r}; expected one of {NORMS}.")


@serializable
class SeparableConvNorm(keras.layers.Layer):
    """Depthwise conv -> norm -> pointwise 1x1 conv, as the official JPU.

    Unlike `keras.layers.SeparableConv2D`, a normalisation sits between the
    depthwise and the pointwise convolution (no activation there). Sublayers
    are named `conv1`, `bn`, `pointwise` after the official checkpoint keys.

    Input `(batch, height, width, in_channels)`, output
    `(batch, height, width, filters)`.

    Args:
        filters: int, output channels of the pointwise convolution.
        kernel_size: int, depthwise kernel size. Default `3`.
        dilation: int, depthwise dilation rate ("same" padding). Default `1`.
        norm: `"batch"` (JPU) or `"group"` (JPU_X). Default `"batch"`.
        groups: int, GroupNorm groups when `norm="group"`. Default `32`.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        dilation: int = 1,
        norm: str = "batch",
        groups: int = 32,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.norm = norm
        self.groups = groups
        self.depthwise = keras.layers.DepthwiseConv2D(
            kernel_size,
            padding="same",
            dilation_rate=dilation,
            use_bias=False,
            depthwise_initializer=conv_initializer(),
            name="conv1",
        )
        self.norm_layer = make_norm(norm, "bn", groups)
        self.pointwise = conv2d(filters, 1, "pointwise")

    def build(self, input_shape):
        self.depthwise.build(input_shape)
        self.norm_layer.build(input_shape)
        self.pointwise.build(input_shape)

    def call(self, x, training=None):
        fast = rewrite("separable_conv_norm", self, x, training)
        if fast is not None:
            return fast
        x = self.depthwise(x)
        x = self.norm_layer(x, training=training)
        return self.pointwise(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            dilation=self.dilation,
            norm=self.norm,
            groups=self.groups,
        )
        return config
