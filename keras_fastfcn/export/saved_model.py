"""SavedModel export laid out for TF Serving (`MODEL_DIR/<version>/`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import keras

from keras_fastfcn.export.inference_model import require_tensorflow_backend
from keras_fastfcn.export.preprocessing import ResizePolicy
from keras_fastfcn.export.serving import ServingFunctions


def next_version(model_dir: str | os.PathLike) -> int:
    """1 + the largest numeric sub-directory of `model_dir` (1 if none)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return 1
    versions = [int(p.name) for p in model_dir.iterdir() if p.name.isdigit()]
    return max(versions, default=0) + 1


def write_signatures(functions: dict, path: str | os.PathLike) -> None:
    """Save `{signature name: tf.function}` as a SavedModel at `path`
    (which must not exist).

    Variables are collected from the functions' graphs, so each is stored
    once (tracking the Keras model as well would store every weight a
    second time) and weights no signature reads (an auxiliary head) are
    left out.
    """
    archive = keras.export.ExportArchive()
    for name, function in functions.items():
        archive.add_endpoint(name, function)
    archive.write_out(str(path), verbose=False)


def export_saved_model(
    model: keras.Model,
    model_dir: str | os.PathLike,
    *,
    version: int | None = None,
    policy: ResizePolicy | None = None,
    with_probabilities: bool = False,
    overwrite: bool = False,
) -> Path:
    """Export `model` for TF Serving as `model_dir/<version>/`.

    The SavedModel holds the signatures of `ServingFunctions`
    (`serving_default`, `serve_image_bytes`, `serve_logits`) with
    preprocessing and postprocessing in the graph; auxiliary / SE outputs
    and their weights are left out. It is written to a hidden temporary
    directory beside the target and renamed when complete, so TF Serving
    never loads a half-written version.

    Args:
        model: a segmentation model (TensorFlow backend).
        model_dir: the directory TF Serving's `--model_base_path` points to.
        version: int, the version sub-directory. Default: one more than the
            largest existing version (1 for a new directory).
        policy: `ResizePolicy` for uint8 / byte inputs. Default: keep the
            input size, pad to a multiple of 32.
        with_probabilities: bool, add softmax `probabilities` outputs.
        overwrite: bool, replace an existing version directory.

    Returns:
        The version directory, `model_dir/<version>`.
    """
    require_tensorflow_backend("SavedModel export")
    model_dir = Path(model_dir)
    if version is None:
        version = next_version(model_dir)
    if not isinstance(version, int) or version < 0:
        raise ValueError(
            f"version must be a non-negative int (TF Serving reads numeric "
            f"directory names), got {version!r}."
        )
    target = model_dir / str(version)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} already exists. Choose another --version, leave it "
            "out to use the next free one, or pass overwrite=True "
            "(--overwrite)."
        )
    model_dir.mkdir(parents=True, exist_ok=True)
    functions = ServingFunctions(model, policy, with_probabilities)
    with tempfile.TemporaryDirectory(
        dir=model_dir, prefix=f".tmp-{version}-"
    ) as tmp:
        staged = Path(tmp) / "saved_model"
        write_signatures(functions.signatures(), staged)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staged, target)
    return target
