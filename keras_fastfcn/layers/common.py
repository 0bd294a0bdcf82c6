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

from keras_fastfcn.fast import FastConv2D

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9


def conv_initializer():
    """He-normal initializer over fan-out, as the official code uses."""
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal"
    )


def conv2d(
    filters: int,
    kernel_size: int,
    name: str,
    strides: int = 1,
    dilation: int = 1,
    use_bias: bool = False,
    padding: str = "same",
    kernel_initializer=None,
) -> keras.layers.Conv2D:
    """A 2-D convolution with the official defaults (`padding="same"`, no
    bias, He-normal over fan-out unless `kernel_initializer` is given).

    It is a `keras.layers.Conv2D` (a `FastConv2D`, which may run faster
    algorithms for the same result: `keras_fastfcn.fast`).
    """
    return FastConv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer or conv_initializer(),
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
