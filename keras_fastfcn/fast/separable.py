"""`SeparableConvNorm` (the JPU's depthwise -> BatchNorm -> pointwise)
with the dilated depthwise convolution split into phases
(`fast/phase_split.py`) and, where the BatchNorm uses its moving
statistics, the BatchNorm folded into the pointwise kernel."""

from __future__ import annotations

from keras import ops

from keras_fastfcn.fast.phase_split import dilated_depthwise_conv


def norm_is_affine(layer, training) -> bool:
    """True when `layer.norm_layer` uses its moving statistics (inference
    or a frozen BatchNorm): then it is a per-channel affine map."""
    return layer.norm == "batch" and not (
        training and layer.norm_layer.trainable
    )


def pointwise_with_folded_norm(layer, x):
    """`layer.pointwise(layer.norm_layer(x))` as one 1x1 convolution plus a
    bias, for `x` `(batch, height, width, in_channels)`.

    `bn(x) = x * scale + shift` per channel, so the product equals
    `x @ (scale * kernel) + shift @ kernel`: it saves a pass over the
    activations at the cost of rescaling the `(in_channels, filters)`
    kernel.
    """
    bn, pointwise = layer.norm_layer, layer.pointwise
    scale = ops.rsqrt(ops.cast(bn.moving_variance, "float32") + bn.epsilon)
    if bn.scale:
        scale = scale * ops.cast(bn.gamma, "float32")
    shift = -ops.cast(bn.moving_mean, "float32") * scale
    if bn.center:
        shift = shift + ops.cast(bn.beta, "float32")
    kernel = ops.cast(pointwise.kernel, "float32")[0, 0]
    bias = ops.matmul(shift[None, :], kernel)[0]
    if pointwise.use_bias:
        bias = bias + ops.cast(pointwise.bias, "float32")
    kernel = (kernel * scale[:, None])[None, None]
    x = ops.conv(x, ops.cast(kernel, x.dtype), padding="same")
    return x + ops.cast(bias, x.dtype)


def separable_conv_norm(layer, x, training=None):
    """The output of `SeparableConvNorm` `layer` for `x` `(batch, height,
    width, in_channels)`: `(batch, height, width, filters)`."""
    x = dilated_depthwise_conv(x, layer.depthwise.kernel, layer.dilation)
    if norm_is_affine(layer, training):
        return pointwise_with_folded_norm(layer, x)
    x = layer.norm_layer(x, training=training)
    return layer.pointwise(x)
