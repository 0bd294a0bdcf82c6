"""Strongly dilated convolutions without the taps that only read padding.

A "same" convolution with kernel size `k` and dilation `d` is the sum over
its `k * k` taps of a 1x1 convolution of the image shifted by the tap's
offset `((i - k // 2) * d, (j - k // 2) * d)`. Where the shift reaches past
the border, the tap multiplies zero padding. For the ASPP of DeepLabV3
(dilations 12, 24, 36 on a 64x64 map) most of the work is such zeros: tap
`(0, 0)` with dilation 36 reads real pixels only in the 28x28 corner where
`row >= 36` and `col >= 36`. `cropped_tap_conv` runs each tap as one matrix
product over the rows and columns where it reads the image and adds it into
its part of the output. The arithmetic is the convolution's (sums in
another order), so results agree within float rounding
(tests/fast/test_cropped_taps.py).

`tap_coverage` is the fraction of the direct convolution's multiply-adds
that remain: 0.77, 0.56, 0.39 for dilations 12, 24, 36 on 64x64, 0.92 for
dilation 4. `fast/switch.py` picks it by `cropped_taps_pay_off`; the
measured timings behind that rule are in README "Speed".
"""

from __future__ import annotations

from typing import Sequence

from keras import ops

MAX_COVERAGE = 0.8
MIN_MULTIPLY_ADDS = 2**28  # pixels * in_channels * filters


def tap_ranges(size: int, kernel_size: int, dilation: int) -> list:
    """Along one axis of length `size`: for each tap `i < kernel_size`,
    `(start, stop, offset)` such that output positions `start..stop-1`
    read input positions `start + offset..stop + offset - 1`, or `None`
    when the tap reads only padding."""
    ranges = []
    for i in range(kernel_size):
        offset = (i - kernel_size // 2) * dilation
        start, stop = max(0, -offset), min(size, size - offset)
        ranges.append((start, stop, offset) if start < stop else None)
    return ranges


def tap_coverage(
    height: int, width: int, kernel_size: int, dilation: Sequence[int]
) -> float:
    """Multiply-adds of `cropped_tap_conv` over those of the direct "same"
    convolution (1.0 when no tap reaches past the border)."""

    def covered(size, rate):
        spans = tap_ranges(size, kernel_size, rate)
        return sum(stop - start for start, stop, _ in filter(None, spans))

    rows = covered(height, dilation[0])
    cols = covered(width, dilation[1])
    return rows * cols / (kernel_size**2 * height * width)


def cropped_taps_apply(
    input_shape: Sequence,
    kernel_shape: Sequence,
    strides: Sequence[int],
    padding: str,
) -> bool:
    """Whether `cropped_tap_conv` computes the convolution: square odd
    kernel larger than 1x1, stride 1, "same" padding, known height, width
    and channels (channels last)."""
    size = kernel_shape[0]
    return (
        size == kernel_shape[1]
        and size % 2 == 1
        and size > 1
        and tuple(strides) == (1, 1)
        and padding == "same"
        and None not in tuple(input_shape[1:])
    )


def cropped_taps_pay_off(
    input_shape: Sequence, kernel_shape: Sequence, dilation: Sequence[int]
) -> bool:
    """The measured rule of `"auto"`: at most `MAX_COVERAGE` of the
    multiply-adds remain and the image has at least `MIN_MULTIPLY_ADDS`
    `pixels * in_channels * filters`."""
    height, width = input_shape[1], input_shape[2]
    work = height * width * kernel_shape[2] * kernel_shape[3]
    coverage = tap_coverage(height, width, kernel_shape[0], dilation)
    return work >= MIN_MULTIPLY_ADDS and coverage <= MAX_COVERAGE


def cropped_tap_conv(x, kernel, dilation: Sequence[int]):
    """ "Same", stride-1 convolution as one 1x1 convolution per tap over
    the part of the image the tap reads.

    Args:
        x: tensor `(batch, height, width, in_channels)` with known height,
            width and channels.
        kernel: `(k, k, in_channels, filters)` with odd `k`, as
            `keras.layers.Conv2D` stores it.
        dilation: `(rows, cols)` dilation rates.

    Returns:
        Tensor `(batch, height, width, filters)`, equal to
        `keras.ops.conv(x, kernel, 1, "same", dilation_rate=dilation)` up
        to float rounding.
    """
    if not cropped_taps_apply(x.shape, kernel.shape, (1, 1), "same"):
        raise ValueError(
            "cropped_tap_conv needs a (k, k, in, out) kernel with odd k > 1 "
            "and an input of known height, width and channels; got input "
            f"{tuple(x.shape)} and kernel {tuple(kernel.shape)}. Use "
            "keras.ops.conv for other cases."
        )
    height, width = x.shape[1], x.shape[2]
    size = kernel.shape[0]
    kernel = ops.cast(kernel, x.dtype)
    rows = tap_ranges(height, size, dilation[0])
    cols = tap_ranges(width, size, dilation[1])
    total = None
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            if row is None or col is None:
                continue
            (top, bottom, dy), (left, right, dx) = row, col
            source = x[:, top + dy : bottom + dy, left + dx : right + dx, :]
            part = ops.conv(source, kernel[i : i + 1, j : j + 1])
            part = place_block(part, top, left, height, width)
            total = part if total is None else total + part
    return total


def place_block(block, top: int, left: int, height: int, width: int):
    """`block` `(batch, rows, cols, channels)` at rows `top..top+rows-1`
    and columns `left..left+cols-1` of a `(batch, height, width,
    channels)` map of zeros (`block` itself when it fills the map)."""
    rows, cols = block.shape[1], block.shape[2]
    if (top, left, rows, cols) == (0, 0, height, width):
        return block
    return ops.pad(
        block,
        [
            [0, 0],
            [top, height - top - rows],
            [left, width - left - cols],
            [0, 0],
        ],
    )
