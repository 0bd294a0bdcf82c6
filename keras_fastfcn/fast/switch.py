"""The one switch over every CPU rewrite: `fast_paths(mode)`.

Modes, from none to all:

- `"off"`: the official operations exactly (every rewrite off): what the
  plain reading of `keras_fastfcn.layers` says, for reference checks.
- `"portable"`: only the exact rewrites that are ordinary graph operations
  (phase-split dilated depthwise convolution, BatchNorm folded into the
  JPU's pointwise convolutions, banded resize); convolutions direct. What
  FLOP counts and exported graphs (SavedModel, TFLite, ONNX) use.
- `"auto"` (default): everything. Convolutions run as Winograd F(2x2, 3x3)
  or with cropped taps where `choose_convolution`'s measured rules say so
  (TensorFlow float32 inference without a GPU only), and PSPNet's pyramid
  pooling is folded into its fusion convolution.
- `"cpu"`: as `"auto"` on any machine and backend (float32 inference):
  what a SavedModel exported for CPU serving carries, even when the
  exporting machine has a GPU.
- `"winograd"` / `"cropped"`: as `"auto"`, but every convolution that the
  algorithm can compute uses it (tests and benchmarks).

All modes give the same results within float rounding, from the same
variables.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Iterator
from typing import Sequence

import keras

from keras_fastfcn.constants import FAST_PATHS_MODES
from keras_fastfcn.fast.cropped_taps import cropped_taps_apply
from keras_fastfcn.fast.cropped_taps import cropped_taps_pay_off
from keras_fastfcn.fast.winograd import winograd_applies
from keras_fastfcn.fast.winograd import winograd_pays_off

MODES = FAST_PATHS_MODES

_MODE = contextvars.ContextVar("fast_paths", default="auto")


@contextlib.contextmanager
def fast_paths(mode: str) -> Iterator[None]:
    """Run (or trace) models inside this context with the rewrites of
    `mode` (see the module docstring): `"auto"`, `"off"`, `"portable"`,
    `"winograd"` or `"cropped"`."""
    if mode not in MODES:
        raise ValueError(
            f"Unknown fast-paths mode {mode!r}; expected one of {MODES}."
        )
    token = _MODE.set(mode)
    try:
        yield
    finally:
        _MODE.reset(token)


def fast_paths_mode() -> str:
    """The mode in force: the innermost `fast_paths` context, else `"auto"`."""
    return _MODE.get()


def exact_rewrites_enabled() -> bool:
    """Whether the portable rewrites (phase split, BatchNorm fold, banded
    resize) run: every mode but `"off"`."""
    return _MODE.get() != "off"


def layer_folds_enabled() -> bool:
    """Whether whole layers may be folded into others (PSPNet's pyramid
    into its fusion convolution): `"auto"`, `"cpu"`, `"winograd"`,
    `"cropped"`."""
    return _MODE.get() not in ("off", "portable")


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
    the current mode.

    Args:
        input_shape: `(batch, height, width, in_channels)`.
        kernel_shape: `(kernel_h, kernel_w, in_channels, filters)`.
        strides, padding, dilation_rate: as `keras.layers.Conv2D` has them.
        training: the call's training flag; `"auto"` keeps training direct.
    """
    mode = _MODE.get()
    if mode in ("off", "portable"):
        return "direct"
    winograd = winograd_applies(
        input_shape, kernel_shape, strides, padding, dilation_rate
    )
    cropped = cropped_taps_apply(input_shape, kernel_shape, strides, padding)
    if mode == "winograd":
        return "winograd" if winograd else "direct"
    if mode == "cropped":
        return "cropped" if cropped else "direct"
    if (
        training
        or keras.backend.standardize_dtype(dtype) != "float32"
        or (mode == "auto" and not _tensorflow_without_gpu())
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
