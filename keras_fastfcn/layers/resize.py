"""Bilinear resizing and adaptive average pooling with dynamic sizes.

`keras.ops.image.resize` needs static output sizes and has no
`align_corners=True` mode, which the official FastFCN code uses everywhere.
Both operations here are two small interpolation (or pooling) matrices
applied along height and width (`keras_fastfcn/ops/interpolation.py`),
built from the (possibly unknown) tensor shapes, so they work on every
backend and inside exported graphs with unknown input height / width.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_fastfcn.fast import rewrite
from keras_fastfcn.ops.interpolation import apply_separable
from keras_fastfcn.ops.interpolation import interpolation_matrix
from keras_fastfcn.ops.interpolation import interpolation_matrix_numpy
from keras_fastfcn.ops.interpolation import known_size
from keras_fastfcn.ops.interpolation import pooling_matrix
from keras_fastfcn.utils.serialization import serializable


def resize_bilinear(x, size, align_corners: bool = True):
    """Bilinearly resize `x` `(batch, height, width, channels)` to `size`.

    Args:
        x: tensor `(batch, height, width, channels)`.
        size: `(out_height, out_width)`; Python ints or scalar tensors.
        align_corners: `True` matches PyTorch `align_corners=True` (the
            official FastFCN setting); `False` matches half-pixel centres
            (`tf.image.resize`, PyTorch `align_corners=False`).

    Returns:
        Tensor `(batch, out_height, out_width, channels)`, dtype of `x`.
    """
    native = rewrite("resize", x, size, align_corners)
    if native is not None:
        return native
    shape = ops.shape(x)
    known = [known_size(v) for v in (shape[1], size[0], shape[2], size[1])]
    if None in known:
        rows = interpolation_matrix(shape[1], size[0], align_corners, x.dtype)
        cols = interpolation_matrix(shape[2], size[1], align_corners, x.dtype)
    else:
        rows = interpolation_matrix_numpy(known[0], known[1], align_corners)
        cols = interpolation_matrix_numpy(known[2], known[3], align_corners)
    fast = rewrite("separable_resize", x, rows, cols)
    return fast if fast is not None else apply_separable(x, rows, cols)


def adaptive_average_pool(x, bins: int):
    """PyTorch-exact `AdaptiveAvgPool2d(bins)` of NHWC `x`.

    Returns a tensor `(batch, bins, bins, channels)`.
    """
    shape = ops.shape(x)
    rows = pooling_matrix(shape[1], bins, x.dtype)
    cols = pooling_matrix(shape[2], bins, x.dtype)
    return apply_separable(x, rows, cols)


@serializable
class ResizeLike(keras.layers.Layer):
    """Resize a feature map to the spatial size of a reference tensor.

    Called as `layer([x, reference])` with `x` `(batch, h, w, channels)` and
    `reference` `(batch, H, W, any)`; returns `(batch, H, W, channels)`.
    Sizes may be unknown until run time.

    Args:
        align_corners: bool, PyTorch `align_corners` semantics. Default `True`.
    """

    def __init__(self, align_corners: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.align_corners = align_corners

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return resize_bilinear(x, (shape[1], shape[2]), self.align_corners)

    def compute_output_shape(self, input_shape):
        x_shape, ref_shape = input_shape
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])

    def get_config(self):
        config = super().get_config()
        config["align_corners"] = self.align_corners
        return config
