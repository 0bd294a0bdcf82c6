"""JPU_X: the pyramid variant of JPU built from Joint Upsampling Modules."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from keras_fastfcn.layers.common import build_sequence
from keras_fastfcn.layers.common import conv_bn_relu
from keras_fastfcn.layers.common import run_sequence
from keras_fastfcn.layers.resize import resize_bilinear
from keras_fastfcn.layers.separable import SeparableConvNorm
from keras_fastfcn.layers.separable import make_norm
from keras_fastfcn.utils.serialization import serializable


@serializable
class JointUpsamplingModule(keras.layers.Layer):
    """One joint upsampling step of JPU_X (official name `JUM`).

    Called as `jum([low, high])` with the coarser `low (batch, h, w, Cl)` and
    the finer `high (batch, H, W, Ch)`. Both are reduced to `width` channels
    (3x3 conv + BN + ReLU), `low` is upsampled to `(H, W)`, and three
    separable branches with dilation `d, 2d, 4d` (GroupNorm) run over
    `[low_up, high]`. Returns `[low_up, b1, b2, b3]`:
    `(batch, H, W, 4 * width)`.

    Args:
        width: int, channels of every branch.
        dilation: int, base dilation `d`. Default `1`.
        groups: int, GroupNorm groups. Default `32`.
        align_corners: bool, resize semantics. Default `True`.
    """

    def __init__(
        self,
        width: int,
        dilation: int = 1,
        groups: int = 32,
        align_corners: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.width = width
        self.dilation = dilation
        self.groups = groups
        self.align_corners = align_corners
        self.conv_l = conv_bn_relu("conv_l", width)
        self.conv_h = conv_bn_relu("conv_h", width)
        self.branches = [
            [
                SeparableConvNorm(
                    width,
                    dilation=dilation * rate,
                    norm="group",
                    groups=groups,
                    name=f"dilation{i}-0",
                ),
                make_norm("group", f"dilation{i}-1", groups),
                keras.layers.ReLU(name=f"dilation{i}-2"),
            ]
            for i, rate in enumerate((1, 2, 4), start=1)
        ]

    def build(self, input_shape):
        low, high = (tuple(s) for s in input_shape)
        build_sequence(self.conv_l, low)
        build_sequence(self.conv_h, high)
        for branch in self.branches:
            build_sequence(branch, high[:-1] + (2 * self.width,))

    def call(self, inputs, training=None):
        low, high = inputs
        low = run_sequence(self.conv_l, low, training)
        high = run_sequence(self.conv_h, high, training)
        shape = ops.shape(high)
        low = resize_bilinear(low, (shape[1], shape[2]), self.align_corners)
        feat = ops.concatenate([low, high], axis=-1)
        outputs = [low] + [
            run_sequence(b, feat, training) for b in self.branches
        ]
        return ops.concatenate(outputs, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(
            width=self.width,
            dilation=self.dilation,
            groups=self.groups,
            align_corners=self.align_corners,
        )
        return config


@serializable
class JPUX(keras.layers.Layer):
    """JPU_X: two chained joint upsampling modules (official `JPU_X`).

    `jum_1` (width `width / 2`, dilations 1, 2, 4) fuses stride 16 into
    stride 8; `jum_2` (width `width`, dilations 2, 4, 8) fuses stride 32 into
    that result. Called as `jpux([c3, c4, c5])` like `JPU`; returns
    `(batch, H, W, 4 * width)` at the resolution of `c3`.

    Args:
        width: int, channels of `jum_2`'s branches. Default `512`.
        groups: int, GroupNorm groups. Default `32`.
        align_corners: bool, resize semantics. Default `True`.
    """

    def __init__(
        self,
        width: int = 512,
        groups: int = 32,
        align_corners: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.width = width
        self.groups = groups
        self.align_corners = align_corners
        self.jum_1 = JointUpsamplingModule(
            width // 2, 1, groups, align_corners, name="jum_1"
        )
        self.jum_2 = JointUpsamplingModule(
            width, 2, groups, align_corners, name="jum_2"
        )

    def build(self, input_shape):
        c3, c4, c5 = (tuple(s) for s in input_shape)
        self.jum_1.build([c4, c3])
        self.jum_2.build([c5, c3[:-1] + (2 * self.width,)])

    def call(self, inputs: Sequence, training=None):
        c3, c4, c5 = inputs
        feat = self.jum_1([c4, c3], training=training)
        return self.jum_2([c5, feat], training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            width=self.width,
            groups=self.groups,
            align_corners=self.align_corners,
        )
        return config
