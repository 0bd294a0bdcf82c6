"""`rewrite(kind, ...)`: the one call through which plain layers reach
their exact rewrites (the other seam is `FastConv2D`, which `conv2d` in
`layers/common.py` builds).

- `"resize"`, from `layers.resize.resize_bilinear`: the backend's own
  bilinear resize operation where a `native_resize` context installed one
  (exports: TFLite's int8 kernels and ONNX Runtime run it far faster than
  the interpolation matrices), in every mode but `"off"`;
- `"separable_resize"`, from the same function when no native resize is
  installed: banded products (`banded_resize.py`), every mode but `"off"`;
- `"separable_conv_norm"`, from `layers.separable.SeparableConvNorm`:
  phase split and BatchNorm fold (`separable.py`), every mode but `"off"`;
- `"pyramid_fusion"`, from `heads.psp_head.PSPHead`: the pyramid folded
  into the fusion convolution (`folded_pyramid.py`), in `"auto"`,
  `"winograd"` and `"cropped"`.

Each returns the rewritten result, or `None` when it does not apply (mode,
unknown sizes): the caller then runs its plain computation.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Callable
from typing import Iterator

import numpy as np

from keras_fastfcn.fast.banded_resize import banded_separable
from keras_fastfcn.fast.folded_pyramid import pyramid_fusion
from keras_fastfcn.fast.separable import separable_conv_norm
from keras_fastfcn.fast.switch import exact_rewrites_enabled
from keras_fastfcn.fast.switch import layer_folds_enabled
from keras_fastfcn.ops.interpolation import known_size

_NATIVE_RESIZE = contextvars.ContextVar("native_resize", default=None)


@contextlib.contextmanager
def native_resize(resize: Callable) -> Iterator[None]:
    """Inside this context `resize_bilinear` calls `resize(x, size,
    align_corners)` (a backend's own operation with the same semantics,
    e.g. TensorFlow's `ResizeBilinear`, installed by
    `keras_fastfcn.export`) instead of applying interpolation matrices."""
    token = _NATIVE_RESIZE.set(resize)
    try:
        yield
    finally:
        _NATIVE_RESIZE.reset(token)


def _resize(x, size, align_corners: bool):
    resize = _NATIVE_RESIZE.get()
    if resize is None or not exact_rewrites_enabled():
        return None
    return resize(x, size, align_corners)


def _separable_resize(x, row_matrix, col_matrix):
    if not exact_rewrites_enabled():
        return None
    if not isinstance(row_matrix, np.ndarray):
        return None
    return banded_separable(x, row_matrix, col_matrix)


def _separable_conv_norm(layer, x, training=None):
    if not exact_rewrites_enabled():
        return None
    return separable_conv_norm(layer, x, training)


def _pyramid_fusion(pyramid, fusion, x, training=None):
    size = (known_size(x.shape[1]), known_size(x.shape[2]))
    if not layer_folds_enabled() or None in size:
        return None
    return pyramid_fusion(pyramid, fusion, x, size, training)


_REWRITES = {
    "resize": _resize,
    "separable_resize": _separable_resize,
    "separable_conv_norm": _separable_conv_norm,
    "pyramid_fusion": _pyramid_fusion,
}


def rewrite(kind: str, *args, **kwargs):
    """The rewritten result of `kind` (see the module table) for `args`, or
    `None` when the plain computation must run."""
    return _REWRITES[kind](*args, **kwargs)
