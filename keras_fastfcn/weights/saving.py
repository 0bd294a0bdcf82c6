"""Write a Keras model or its weights without ever leaving half a file."""

from __future__ import annotations

import os
from pathlib import Path

import keras

from keras_fastfcn.utils.files import atomic_path

WEIGHTS_SUFFIX = ".weights.h5"
MODEL_SUFFIX = ".keras"


def output_kind(path: str | os.PathLike) -> str:
    """`"weights"` for `*.weights.h5`, `"model"` for `*.keras`.

    Raises:
        ValueError: any other file name.
    """
    name = Path(path).name
    if name.endswith(WEIGHTS_SUFFIX):
        return "weights"
    if name.endswith(MODEL_SUFFIX):
        return "model"
    raise ValueError(
        f"Output {path} must end with {WEIGHTS_SUFFIX!r} (weights for "
        f"build_model) or {MODEL_SUFFIX!r} (whole model)."
    )


def save_atomically(model: keras.Model, path: str | os.PathLike) -> Path:
    """Save `model` (`.keras`) or its weights (`.weights.h5`) to `path`.

    Keras writes into a temporary file in the same folder, which then
    replaces `path` in one step: readers see the old file or the complete
    new one, never a partial write.

    Args:
        model: the model to save.
        path: output file, ending in `.weights.h5` or `.keras`.

    Returns:
        The written `Path`.

    Raises:
        ValueError: `path` has another suffix.
    """
    path = Path(path)
    kind = output_kind(path)
    with atomic_path(path) as tmp:
        if kind == "weights":
            model.save_weights(str(tmp), overwrite=True)
        else:
            model.save(str(tmp), overwrite=True)
    return path
