"""3x3 convolutions as Winograd F(2x2, 3x3), for CPU inference.

Each 2x2 block of a "same" 3x3 convolution's output depends on the 4x4
block of input around it. Winograd's minimal filtering (Lavin & Gray,
"Fast Algorithms for Convolutional Neural Networks", 2016) transforms that
input block (`B^T d B`) and the kernel (`G g G^T`) into 4x4 arrays whose
element-wise product, transformed back (`A^T m A`), is the 2x2 output:
16 multiplies instead of 36. Summed over input channels, the 16
element-wise products are 16 matrix products `(tiles, in_channels) @
(in_channels, filters)`: 2.25x fewer multiply-adds than the direct
convolution. The input and output transforms only add and subtract and
the kernel transform halves, so float32 results stay within ~1e-6
relative of the direct convolution (tests/fast/test_winograd.py).

A dilated convolution is the same convolution on each of the `d * d`
phases of the image (`phase_split.split_phases`), so it takes the same route.

The transforms are memory-bound, so it only pays off for enough work per
call: large maps with many channels, not small maps, few channels or
dilations that leave odd phases needing much padding (README "Speed" has
the measured layers). `"auto"` (`fast/switch.py`) therefore uses it only
for TensorFlow float32 inference on a machine without GPU (GPU libraries
pick their own algorithms) and where `winograd_pays_off`; training,
exports and other backends keep the direct convolution unless
`fast_paths` says otherwise.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from keras import ops

from keras_fastfcn.fast.phase_split import merge_phases
from keras_fastfcn.fast.phase_split import split_phases

MIN_PIXELS = 32 * 32
MIN_CHANNEL_PRODUCT = 2**16
MIN_MULTIPLY_ADDS = 2**28  # pixels * in_channels * filters
MAX_PADDING_GROWTH = 1.5

# `G` of F(2x2, 3x3); row `4a + b` of the Kronecker product maps the nine
# taps `3i + j` of a kernel to element `(a, b)` of its 4x4 transform.
_G = np.array(
    [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]],
    "float32",
)
_KERNEL_TRANSFORM = np.kron(_G, _G)


def winograd_applies(
    input_shape: Sequence,
    kernel_shape: Sequence,
    strides: Sequence[int],
    padding: str,
    dilation_rate: Sequence[int],
) -> bool:
    """Whether the convolution is one `winograd_conv3x3` computes: 3x3
    kernel, stride 1, "same" padding, equal dilation in both directions,
    known channels (channels last), and known height and width unless the
    dilation is 1 (graphs traced for any image size, e.g. a SavedModel's
    serving signatures)."""
    sizes_known = None not in tuple(input_shape[1:3])
    return (
        tuple(kernel_shape[:2]) == (3, 3)
        and tuple(strides) == (1, 1)
        and padding == "same"
        and dilation_rate[0] == dilation_rate[1]
        and input_shape[3] is not None
        and (sizes_known or dilation_rate[0] == 1)
    )


def winograd_pays_off(
    input_shape: Sequence, kernel_shape: Sequence, dilation: int = 1
) -> bool:
    """The measured rule of `"auto"` (see the module docstring).

    Per image: at least 32x32 pixels, `in_channels * filters >= 2**16`,
    `pixels * in_channels * filters >= 2**28`, and the tiles (2x2 blocks
    of each dilation phase) cover at most 1.5x the image. When height and
    width are unknown (any-size graphs) only the channel rule is checked:
    such graphs serve images, whose maps are large.
    """
    height, width = input_shape[1], input_shape[2]
    channels = kernel_shape[2] * kernel_shape[3]
    if height is None or width is None:
        return dilation == 1 and channels >= MIN_CHANNEL_PRODUCT
    pixels = height * width

    def tiled(size):  # rows of the padded phases, all phases together
        phase = -(-size // dilation)
        return dilation * 2 * (-(-phase // 2))

    return (
        pixels >= MIN_PIXELS
        and channels >= MIN_CHANNEL_PRODUCT
        and pixels * channels >= MIN_MULTIPLY_ADDS
        and tiled(height) * tiled(width) <= MAX_PADDING_GROWTH * pixels
    )


def _transform_kernel(kernel):
    """`(3, 3, in, out)` -> `(16, in, out)`, element `4a + b` of `G g G^T`."""
    in_channels, filters = kernel.shape[2], kernel.shape[3]
    transform = ops.convert_to_tensor(_KERNEL_TRANSFORM, kernel.dtype)
    taps = ops.reshape(kernel, (9, in_channels * filters))
    return ops.reshape(ops.matmul(transform, taps), (16, in_channels, filters))


def _sizes(x) -> tuple:
    """The shape of `x`, each size a Python int where it is known while
    tracing and a scalar tensor where it is not."""
    return tuple(
        static if static is not None else dynamic
        for static, dynamic in zip(x.shape, ops.shape(x))
    )


def _overlapping_rows(x, axis: int, tiles):
    """Rows (`axis=1`) or columns (`axis=2`) `2t, 2t+1, 2t+2, 2t+3` of `x`
    for `t < tiles`, as four tensors; `x` has `2 * tiles + 2` of them.

    Reshaping pairs of rows into a new axis and indexing it copies
    contiguous blocks, several times faster on CPU than stride-2 slices.
    """
    shape = _sizes(x)[1:]
    if axis == 1:
        pairs = (tiles, 2) + shape[1:]
        first = ops.reshape(x[:, : 2 * tiles], (-1,) + pairs)
        second = ops.reshape(x[:, 2:], (-1,) + pairs)
        return first[:, :, 0], first[:, :, 1], second[:, :, 0], second[:, :, 1]
    pairs = (shape[0], tiles, 2, shape[2])
    first = ops.reshape(x[:, :, : 2 * tiles], (-1,) + pairs)
    second = ops.reshape(x[:, :, 2:], (-1,) + pairs)
    return (
        first[:, :, :, 0],
        first[:, :, :, 1],
        second[:, :, :, 0],
        second[:, :, :, 1],
    )


def _input_transform(d0, d1, d2, d3):
    """`B^T d` for four rows (or columns) `d0..d3` of 4x4 blocks."""
    return [d0 - d2, d1 + d2, d2 - d1, d1 - d3]


def _output_transform(m0, m1, m2, m3):
    """`A^T m` for four rows (or columns) of products: two outputs."""
    return m0 + m1 + m2, m1 - m2 - m3


def _undilated_winograd(x, transformed_kernel):
    """ "Same" 3x3 convolution, stride 1, of `x` `(batch, height, width,
    in)` with a `_transform_kernel` result: `(batch, height, width, out)`.
    Height and width may be unknown while tracing."""
    height, width, in_channels = _sizes(x)[1:]
    filters = transformed_kernel.shape[-1]
    tile_rows, tile_cols = (height + 1) // 2, (width + 1) // 2
    # One zero row / column of "same" padding on each side, one more
    # below / right when the size is odd.
    x = ops.pad(
        x,
        [
            [0, 0],
            [1, 1 + 2 * tile_rows - height],
            [1, 1 + 2 * tile_cols - width],
            [0, 0],
        ],
    )
    products = []
    row_parts = _overlapping_rows(x, 1, tile_rows)
    for a, rows in enumerate(_input_transform(*row_parts)):
        col_parts = _overlapping_rows(rows, 2, tile_cols)
        for b, block in enumerate(_input_transform(*col_parts)):
            block = ops.reshape(block, (-1, in_channels))
            products.append(ops.matmul(block, transformed_kernel[4 * a + b]))
    # `products[4a + b]` is element (a, b) of every tile's 4x4 product.
    top, bottom = zip(
        *(_output_transform(*products[b::4][:4]) for b in range(4))
    )
    # top[b] / bottom[b]: output row 0 / 1 of the tile, before columns.
    y = ops.stack(
        [
            ops.stack(list(_output_transform(*top))),
            ops.stack(list(_output_transform(*bottom))),
        ]
    )  # (row 0/1, column 0/1, batch * tiles, filters)
    y = ops.reshape(y, (2, 2, -1, tile_rows, tile_cols, filters))
    y = ops.transpose(y, (2, 3, 0, 4, 1, 5))
    y = ops.reshape(y, (-1, 2 * tile_rows, 2 * tile_cols, filters))
    return y[:, :height, :width, :]


def winograd_conv3x3(x, kernel, dilation: int = 1):
    """ "Same" 3x3 convolution with stride 1 by Winograd F(2x2, 3x3).

    Args:
        x: tensor `(batch, height, width, in_channels)`; channels must be
            known, height and width too when `dilation > 1` (any batch;
            odd sizes are fine).
        kernel: `(3, 3, in_channels, filters)`, as `keras.layers.Conv2D`
            stores it.
        dilation: int, dilation rate in both directions.

    Returns:
        Tensor `(batch, height, width, filters)`, equal to
        `keras.ops.conv(x, kernel, 1, "same", dilation_rate=dilation)`
        up to float rounding.
    """
    sizes_known = None not in tuple(x.shape[1:3])
    if (
        x.shape[3] is None
        or tuple(kernel.shape[:2]) != (3, 3)
        or (dilation != 1 and not sizes_known)
    ):
        raise ValueError(
            "winograd_conv3x3 needs a (3, 3, in, out) kernel and an input "
            "of known channels (and known height and width when dilated); "
            "got input "
            f"{tuple(x.shape)} and kernel {tuple(kernel.shape)}. Use "
            "keras.ops.conv for other cases."
        )
    transformed = _transform_kernel(ops.cast(kernel, x.dtype))
    if dilation == 1:
        return _undilated_winograd(x, transformed)
    phases, layout = split_phases(x, dilation)
    return merge_phases(_undilated_winograd(phases, transformed), layout)
