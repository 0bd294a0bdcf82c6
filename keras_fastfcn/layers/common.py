"""Small building blocks shared by the backbone, necks and heads.

Every convolution follows the official FastFCN code: no bias unless it is a
classifier, BatchNorm with PyTorch's epsilon (1e-5) and momentum (0.1, which
is Keras momentum 0.9). Layer names follow the official checkpoint keys with
"-" for "." (`conv5-0`, `conv5-1` for `conv5.0`, `conv5.1`; the PyTorch
backend forbids dots in parameter names), so that checkpoint conversion is a
name mapping.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator
from typing import Sequence

import keras
from keras import ops

from keras_fastfcn.layers.conv_algorithms import choose_convolution
from keras_fastfcn.layers.cropped_taps import cropped_tap_conv
from keras_fastfcn.layers.winograd import winograd_conv3x3

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9


def conv_initializer():
    """He-normal initializer over fan-out, as the official code uses."""
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal"
    )


def serializable(cls):
    """Register `cls` for `.keras` saving under the `keras_fastfcn` package."""
    return keras.saving.register_keras_serializable(package="keras_fastfcn")(
        cls
    )


@serializable
class FastConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose inference convolutions may run as
    Winograd F(2x2, 3x3) (`layers/winograd.py`) or, when strongly dilated,
    without the taps that only read padding (`layers/cropped_taps.py`):
    same variables, same results within float rounding, chosen by
    `convolution_algorithm` (`layers/conv_algorithms.py`).

    Input `(batch, height, width, in_channels)`, output
    `(batch, height', width', filters)`.
    """

    def call(self, inputs, training=None):
        if self.groups != 1 or self.data_format != "channels_last":
            return super().call(inputs)
        algorithm = self._algorithm(inputs, self.kernel, training)
        if algorithm == "direct":
            return super().call(inputs)
        outputs = self._fast_convolution(algorithm, inputs, self.kernel)
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def convolve(self, inputs, kernel, training=None):
        """This layer's convolution (no bias, no activation) of `inputs`
        `(batch, height, width, channels)` with `kernel` `(kh, kw,
        channels, filters)`, e.g. `self.kernel` over some input channels,
        by the algorithm that `choose_convolution` picks."""
        algorithm = self._algorithm(inputs, kernel, training)
        if algorithm == "direct":
            return self.convolution_op(inputs, ops.cast(kernel, inputs.dtype))
        return self._fast_convolution(algorithm, inputs, kernel)

    def _algorithm(self, inputs, kernel, training) -> str:
        return choose_convolution(
            inputs.shape,
            inputs.dtype,
            kernel.shape,
            self.strides,
            self.padding,
            self.dilation_rate,
            training,
        )

    def _fast_convolution(self, algorithm: str, inputs, kernel):
        if algorithm == "winograd":
            return winograd_conv3x3(inputs, kernel, self.dilation_rate[0])
        return cropped_tap_conv(inputs, kernel, self.dilation_rate)


def conv2d(
    filters: int,
    kernel_size: int,
    name: str,
    strides: int = 1,
    dilation: int = 1,
    use_bias: bool = False,
    padding: str = "same",
) -> keras.layers.Conv2D:
    """A `FastConv2D` with official defaults (`padding="same"`, no bias)."""
    return FastConv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        use_bias=use_bias,
        kernel_initializer=conv_initializer(),
        name=name,
    )


_SYNCHRONIZED_BN = contextvars.ContextVar("synchronized_bn", default=False)


@contextlib.contextmanager
def synchronized_batch_norm(enabled: bool = True) -> Iterator[None]:
    """Build (or load) models inside this context to get BatchNorm layers
    that synchronise their batch statistics across `tf.distribute`
    replicas (TensorFlow only)."""
    token = _SYNCHRONIZED_BN.set(enabled)
    try:
        yield
    finally:
        _SYNCHRONIZED_BN.reset(token)


def batch_norm(name: str, axis: int = -1) -> keras.layers.BatchNormalization:
    """`BatchNormalization` with PyTorch's epsilon and momentum."""
    return keras.layers.BatchNormalization(
        axis=axis,
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        synchronized=_SYNCHRONIZED_BN.get(),
        name=name,
    )


def conv_bn_relu(
    prefix: str,
    filters: int,
    kernel_size: int = 3,
    dilation: int = 1,
    first_index: int = 0,
) -> list:
    """`[Conv2D, BatchNorm, ReLU]` named `prefix-0`, `prefix-1`, `prefix-2`.

    `first_index` shifts the numbering, for official `Sequential`s where
    something else comes first.
    """
    i = first_index
    return [
        conv2d(filters, kernel_size, f"{prefix}-{i}", dilation=dilation),
        batch_norm(f"{prefix}-{i + 1}"),
        keras.layers.ReLU(name=f"{prefix}-{i + 2}"),
    ]


def run_sequence(layers: Sequence[keras.layers.Layer], x, training=None):
    """Apply `layers` in order, passing `training` to those that take it."""
    for layer in layers:
        if isinstance(
            layer,
            (
                keras.layers.BatchNormalization,
                keras.layers.Dropout,
                keras.layers.SpatialDropout2D,
            ),
        ):
            x = layer(x, training=training)
        else:
            x = layer(x)
    return x


def build_sequence(layers: Sequence[keras.layers.Layer], input_shape):
    """Build `layers` in order from `input_shape`; return the output shape."""
    shape = tuple(input_shape)
    for layer in layers:
        layer.build(shape)
        shape = tuple(layer.compute_output_shape(shape))
    return shape
