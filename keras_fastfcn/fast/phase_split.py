"""Dilated depthwise convolution without `SpaceToBatchND`.

A 3x3 convolution with dilation `d` only ever mixes pixels whose row and
column indices agree modulo `d`. Splitting the image into its `d * d`
phases (every `d`-th pixel, starting at each offset) therefore turns it
into an ordinary, undilated convolution over a batch of `d * d` small
images, and "same" zero padding of the dilated convolution becomes "same"
zero padding of each phase. TensorFlow's CPU kernels implement dilation
with `SpaceToBatchND` / `BatchToSpaceND` around padded inputs; doing the
phase split with one reshape + transpose each way gives the same result
(tests/fast/test_rewrites.py) and is faster for the JPU's dilations 2, 4
and 8 (README "Speed").
"""

from __future__ import annotations

from keras import ops


def _is_concrete(size) -> bool:
    """A Python int or a run-time tensor, not a symbolic dimension."""
    return isinstance(size, int) or ops.is_tensor(size)


def dilated_depthwise_conv(x, kernel, dilation: int):
    """Depthwise convolution of `x` with `kernel`, "same" padding, stride 1.

    Args:
        x: tensor `(batch, height, width, channels)`; height and width may
            be unknown until run time and need not divide `dilation`.
        kernel: `(kernel_h, kernel_w, channels, 1)`, as
            `keras.layers.DepthwiseConv2D` stores it (odd sizes).
        dilation: int, dilation rate in both directions.

    Returns:
        Tensor `(batch, height, width, channels)`, equal to
        `keras.ops.depthwise_conv(x, kernel, 1, "same", dilation_rate=d)`.
    """
    kernel = ops.cast(kernel, x.dtype)
    shape = ops.shape(x)
    height, width = shape[1], shape[2]
    if dilation == 1 or not _is_concrete(height) or not _is_concrete(width):
        # Symbolic sizes (JAX shape inference) cannot be split into phases;
        # the result is the same, only the kernel differs.
        return ops.depthwise_conv(
            x, kernel, strides=1, padding="same", dilation_rate=dilation
        )
    phases, layout = split_phases(x, dilation)
    phases = ops.depthwise_conv(phases, kernel, strides=1, padding="same")
    return merge_phases(phases, layout)


def split_phases(x, dilation: int):
    """Split `x` into its `dilation ** 2` phases, stacked along the batch.

    Args:
        x: tensor `(batch, height, width, channels)` with concrete height
            and width (they need not divide `dilation`: zeros are appended
            below / right, which a dilated "same" convolution reads anyway).
        dilation: int, the dilation rate.

    Returns:
        `(phases, layout)`: phases `(batch * dilation**2, rows, cols,
        channels)`, phase `(i, j)` of image `b` at index
        `b * dilation**2 + i * dilation + j` holding pixels
        `(i + dilation * r, j + dilation * c)`; `layout` is what
        `merge_phases` needs to undo the split.
    """
    shape = ops.shape(x)
    height, width, channels = shape[1], shape[2], x.shape[-1]
    # (d - size % d) % d, not (-size) % d: tf2onnx turns the modulo of a
    # negative size into ONNX Runtime's truncating one (-45 % 2 = -1), which
    # cropped a row instead of padding one.
    pad_h = (dilation - height % dilation) % dilation
    pad_w = (dilation - width % dilation) % dilation
    x = ops.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
    rows = (height + pad_h) // dilation
    cols = (width + pad_w) // dilation
    x = ops.reshape(x, (-1, rows, dilation, cols, dilation, channels))
    x = ops.transpose(x, (0, 2, 4, 1, 3, 5))
    x = ops.reshape(x, (-1, rows, cols, channels))
    return x, (dilation, height, width, rows, cols)


def merge_phases(phases, layout):
    """Inverse of `split_phases` for phases of any channel count.

    Args:
        phases: `(batch * dilation**2, rows, cols, channels)`.
        layout: the second value `split_phases` returned.

    Returns:
        Tensor `(batch, height, width, channels)`.
    """
    dilation, height, width, rows, cols = layout
    channels = phases.shape[-1]
    x = ops.reshape(phases, (-1, dilation, dilation, rows, cols, channels))
    x = ops.transpose(x, (0, 3, 1, 4, 2, 5))
    x = ops.reshape(x, (-1, rows * dilation, cols * dilation, channels))
    return x[:, :height, :width, :]
