"""A stride-4 decoder that sharpens the head's logits (optional; not in the
paper)."""

from __future__ import annotations

import keras
from keras import ops

from keras_fastfcn.layers.common import build_sequence
from keras_fastfcn.layers.common import conv2d
from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.layers.resize import resize_bilinear
from keras_fastfcn.utils.serialization import serializable


@serializable
class DetailDecoder(keras.layers.Layer):
    """Refine coarse class logits at the resolution of low-level features.

    The FastFCN heads predict at stride 8; at 360x480 a pole or a sign
    post is often narrower than one stride-8 cell, so bilinear upsampling
    of those logits cannot draw it. This decoder, in the spirit of
    DeepLabV3+'s (Chen et al., 2018), upsamples the logits to the stride-4
    features of the backbone's second stage, concatenates them with those
    features reduced by a 1x1 conv + BN + ReLU (`reduce`), runs two 3x3
    conv + BN + ReLU (`fuse1`, `fuse2`), spatial dropout and a 1x1
    classifier, and adds the result to the upsampled logits. The
    classifier starts at zero, so an untrained decoder returns the
    upsampled logits unchanged.

    Called as `decoder([logits, low_level])` with `logits`
    `(batch, h, w, num_classes)` and `low_level` `(batch, H, W, C)`;
    returns refined logits `(batch, H, W, num_classes)`.

    Args:
        num_classes: int, channels of the logits.
        width: int, channels of the fusing convolutions. Default `64`.
        low_level_width: int, channels `low_level` is reduced to. Default:
            `width // 2`.
        dropout: float, spatial dropout before the classifier. Default `0.1`.
        align_corners: bool, resize semantics. Default `True` (as the
            official code everywhere).

    Example:
    >>> decoder = keras_fastfcn.layers.DetailDecoder(num_classes=3, width=8)
    >>> logits = np.ones((1, 8, 8, 3)); low = np.ones((1, 16, 16, 4))
    >>> decoder([logits, low]).shape
    (1, 16, 16, 3)
    """

    def __init__(
        self,
        num_classes: int,
        width: int = 64,
        low_level_width: int | None = None,
        dropout: float = 0.1,
        align_corners: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if width < 1 or num_classes < 1:
            raise ValueError(
                "DetailDecoder needs positive num_classes and width, got "
                f"num_classes={num_classes}, width={width}."
            )
        self.num_classes = num_classes
        self.width = width
        self.low_level_width = low_level_width or max(1, width // 2)
        self.dropout = dropout
        self.align_corners = align_corners
        self.reduce = conv_bn_relu("reduce", self.low_level_width, 1)
        self.fuse = conv_bn_relu("fuse1", width) + conv_bn_relu("fuse2", width)
        self.classifier = [
            keras.layers.SpatialDropout2D(dropout, name="classifier-0"),
            conv2d(
                num_classes,
                1,
                "classifier-1",
                use_bias=True,
                kernel_initializer="zeros",
            ),
        ]

    def build(self, input_shape):
        logits_shape, low_shape = (tuple(s) for s in input_shape)
        build_sequence(self.reduce, low_shape)
        fused = low_shape[:-1] + (self.low_level_width + logits_shape[-1],)
        build_sequence(self.classifier, build_sequence(self.fuse, fused))

    def call(self, inputs, training=None):
        logits, low_level = inputs
        shape = ops.shape(low_level)
        logits = resize_bilinear(
            logits, (shape[1], shape[2]), self.align_corners
        )
        low_level = run_sequence(self.reduce, low_level, training)
        x = ops.concatenate([logits, low_level], axis=-1)
        x = run_sequence(self.fuse, x, training)
        return logits + run_sequence(self.classifier, x, training)

    def compute_output_shape(self, input_shape):
        logits_shape, low_shape = input_shape
        return tuple(low_shape[:-1]) + (logits_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            width=self.width,
            low_level_width=self.low_level_width,
            dropout=self.dropout,
            align_corners=self.align_corners,
        )
        return config
