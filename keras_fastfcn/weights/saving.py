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


def count_weights_in_file(path: str | os.PathLike) -> int:
    """The number of variables a Keras `.weights.h5` file holds."""
    import h5py

    arrays = []
    with h5py.File(path, "r") as file:
        file.visititems(
            lambda name, item: (
                arrays.append(name) if isinstance(item, h5py.Dataset) else None
            )
        )
    return len(arrays)


def load_weights_exactly(model: keras.Model, path: str | os.PathLike) -> None:
    """`model.load_weights(path)`, refusing a file with more variables than
    the model (Keras loads such a file silently, dropping what the model
    lacks: e.g. a decoder or auxiliary head the options left out).

    Raises:
        ValueError: the file does not fit the model's architecture.
    """
    model.load_weights(path)
    held, used = count_weights_in_file(path), len(model.weights)
    if held != used:
        raise ValueError(
            f"the file holds {held} variables, the model {used}: it was "
            "saved from another architecture"
        )


def copy_weights_by_path(source: keras.Model, target: keras.Model) -> None:
    """Assign every variable of `source` to the variable of `target` with
    the same path (`variable.path`), whatever order the two models list
    their layers in (a model rebuilt with an extra weightless layer may
    order them differently, so `set_weights(get_weights())` would not fit).

    Raises:
        ValueError: the models' variable paths or shapes differ.
    """
    targets = {variable.path: variable for variable in target.weights}
    sources = {variable.path: variable for variable in source.weights}
    if sorted(targets) != sorted(sources):
        missing = sorted(set(targets) - set(sources))[:5]
        extra = sorted(set(sources) - set(targets))[:5]
        raise ValueError(
            "The two models have different variables (only in the target: "
            f"{missing}; only in the source: {extra}); copy weights between "
            "models of the same architecture."
        )
    for path, variable in sources.items():
        if tuple(variable.shape) != tuple(targets[path].shape):
            raise ValueError(
                f"{path}: shape {tuple(variable.shape)} in the source, "
                f"{tuple(targets[path].shape)} in the target."
            )
        targets[path].assign(variable)
