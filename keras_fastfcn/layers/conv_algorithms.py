"""Which algorithm each `FastConv2D` call runs.

- `"direct"`: the backend's convolution (FLOP counts and exports use it).
- `"winograd"`: 3x3 convolutions as Winograd F(2x2, 3x3)
  (`layers/winograd.py`).
- `"cropped"`: strongly dilated convolutions without the taps that only
  read zero padding (`layers/cropped_taps.py`).
- `"auto"` (default): for TensorFlow float32 inference on a machine
  without GPU, the cropped taps where `cropped_taps_pay_off`, else Winograd
  where `winograd_pays_off`, else direct; everywhere else (training, other
  backends, GPUs, whose libraries choose their own algorithms) direct.

All three give the same results within float rounding, from the same
variables. Exact rewrites of whole layers (PSPNet's pyramid pooling folded
into its fusion convolution, `heads/psp_head.py`) run under every name but
`"direct"`: `layer_rewrites_enabled`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Iterator
from typing import Sequence

import keras

from keras_fastfcn.layers.cropped_taps import cropped_taps_apply
from keras_fastfcn.layers.cropped_taps import cropped_taps_pay_off
from keras_fastfcn.layers.winograd import winograd_applies
from keras_fastfcn.layers.winograd import winograd_pays_off

ALGORITHMS = ("auto", "direct", "winograd", "cropped")

_ALGORITHM = contextvars.ContextVar("convolution_algorithm", default="auto")


@contextlib.contextmanager
def convolution_algorithm(name: str) -> Iterator[None]:
    """Choose how `FastConv2D` layers run while models are called (or
    traced) inside this context.

    Args:
        name: `"auto"` (default: the fastest measured one, see the module
            docstring), `"direct"` (always the backend's convolution),
            `"winograd"` (every 3x3 stride-1 "same" convolution with known
            sizes) or `"cropped"` (every stride-1 "same" convolution with
            an odd kernel larger than 1x1 and known sizes).
    """
    if name not in ALGORITHMS:
        raise ValueError(
            f"Unknown convolution algorithm {name!r}; expected one of "
            f"{ALGORITHMS}."
        )
    token = _ALGORITHM.set(name)
    try:
        yield
    finally:
        _ALGORITHM.reset(token)


@functools.lru_cache(maxsize=None)
def _tensorflow_without_gpu() -> bool:
    if keras.config.backend() != "tensorflow":
        return False
    return not keras.distribution.list_devices("gpu")


def choose_convolution(
    input_shape: Sequence,
    dtype,
    kernel_shape: Sequence,
    strides: Sequence[int],
    padding: str,
    dilation_rate: Sequence[int],
    training: bool | None = None,
) -> str:
    """`"direct"`, `"winograd"` or `"cropped"` for one convolution under
    the current `convolution_algorithm`.

    Args:
        input_shape: `(batch, height, width, in_channels)`.
        kernel_shape: `(kernel_h, kernel_w, in_channels, filters)`.
        strides, padding, dilation_rate: as `keras.layers.Conv2D` has them.
        training: the call's training flag; `"auto"` keeps training direct.
    """
    algorithm = _ALGORITHM.get()
    if algorithm == "direct":
        return "direct"
    winograd = winograd_applies(
        input_shape, kernel_shape, strides, padding, dilation_rate
    )
    cropped = cropped_taps_apply(input_shape, kernel_shape, strides, padding)
    if algorithm == "winograd":
        return "winograd" if winograd else "direct"
    if algorithm == "cropped":
        return "cropped" if cropped else "direct"
    if (
        training
        or keras.backend.standardize_dtype(dtype) != "float32"
        or not _tensorflow_without_gpu()
    ):
        return "direct"
    if cropped and cropped_taps_pay_off(
        input_shape, kernel_shape, dilation_rate
    ):
        return "cropped"
    if winograd and winograd_pays_off(
        input_shape, kernel_shape, dilation_rate[0]
    ):
        return "winograd"
    return "direct"


def layer_rewrites_enabled() -> bool:
    """Whether layers may replace their straightforward computation by an
    exact rewrite with fewer operations: always, except under
    `convolution_algorithm("direct")` (FLOP counts and exports)."""
    return _ALGORITHM.get() != "direct"
