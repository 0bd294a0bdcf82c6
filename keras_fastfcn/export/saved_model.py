"""SavedModel export laid out for TF Serving (`MODEL_DIR/<version>/`)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import keras

from keras_fastfcn.export.inference_model import require_tensorflow_backend
from keras_fastfcn.export.preprocessing import ResizePolicy
from keras_fastfcn.export.serving import DEFAULT_MAX_IMAGE_SIZE
from keras_fastfcn.export.serving import ServingFunctions

# Export settings, beside the graph (TF Serving ignores other files in
# assets.extra).
EXPORT_CONFIG = Path("assets.extra") / "keras_fastfcn.json"


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
    max_image_size: int = DEFAULT_MAX_IMAGE_SIZE,
    labels: dict | None = None,
    fast_paths: str | None = None,
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
        max_image_size: int, the largest height or width (pixels) the
            signatures accept; bigger images fail with an error naming the
            limit. Stored in `assets.extra/keras_fastfcn.json` (see
            `read_export_config`). Default `4096`.
        labels: what the class ids mean, stored in the same file so a TF
            Serving client can label the `class_map` output:
            `{"classes": [{"id", "name", "color"}], ...}` plus any other
            JSON values (`dataset`, `ignore_label`, `mean`, `std`, ...);
            `preset_labels` makes it from a preset's metadata. Default:
            none stored.
        fast_paths: `"cpu"` puts the CPU fast paths (Winograd / cropped
            taps, `keras_fastfcn.fast`) in the graph, for CPU serving;
            `"portable"` keeps direct convolutions, for GPU serving.
            Default: `"cpu"` when the exporting machine has no GPU.

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
    functions = ServingFunctions(
        model, policy, with_probabilities, max_image_size, fast_paths
    )
    model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(
        dir=model_dir, prefix=f".tmp-{version}-"
    ) as tmp:
        staged = Path(tmp) / "saved_model"
        write_signatures(functions.signatures(), staged)
        config = staged / EXPORT_CONFIG
        config.parent.mkdir(parents=True, exist_ok=True)
        settings = export_config(functions)
        if labels:
            _check_labels(labels, int(functions.model.output.shape[-1]))
            settings.update(labels)
        config.write_text(json.dumps(settings, indent=1))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staged, target)
    return target


def export_config(functions: ServingFunctions) -> dict:
    """The settings of an export, as stored in `EXPORT_CONFIG`."""
    policy = functions.policy
    return {
        "max_image_size": functions.max_image_size,
        "resize_policy": {
            "mode": policy.mode,
            "size": list(policy.size),
            "pad_multiple": policy.pad_multiple,
        },
        "probabilities": functions.with_probabilities,
        "fast_paths": functions.fast_paths,
    }


def preset_labels(metadata) -> dict:
    """The `labels` of `export_saved_model` from a
    `keras_fastfcn.models.presets.PresetMetadata`: classes (id, name,
    colour), dataset, ignore label, normalisation and training sizes."""
    return {
        "classes": metadata.classes(),
        "dataset": metadata.dataset,
        "ignore_label": metadata.ignore_label,
        "mean": list(metadata.mean),
        "std": list(metadata.std),
        "base_size": metadata.base_size,
        "crop_size": metadata.crop_size,
    }


def _check_labels(labels: dict, num_classes: int) -> None:
    classes = labels.get("classes")
    if classes is not None and len(classes) != num_classes:
        raise ValueError(
            f"labels name {len(classes)} classes but the model predicts "
            f"{num_classes}; pass one class per output channel."
        )


def read_export_config(version_dir: str | os.PathLike) -> dict:
    """The settings stored with a SavedModel version directory
    (`max_image_size`, `resize_policy`, `probabilities`, and `classes`
    etc. when exported with `labels`); `{}` for exports made before they
    were stored."""
    path = Path(version_dir) / EXPORT_CONFIG
    if not path.is_file():
        return {}
    return json.loads(path.read_text())
