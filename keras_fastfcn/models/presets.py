"""Presets: a model with everything needed to use it, in keras-hub's layout.

A preset is a directory of three files::

    config.json        the architecture: keras.saving.serialize_keras_object
                       of the model (its class and `get_config`)
    model.weights.h5   the weights (model.save_weights)
    metadata.json      what the model means: class names, palette, ignore
                       label, input normalisation (mean / std), training
                       base_size / crop_size, dataset, the training config
                       and the final metrics when known

    save_preset(model, "runs/x/preset", PresetMetadata(class_names=...))
    model = from_preset("runs/x/preset")
    metadata = load_preset_metadata("runs/x/preset")

`config.json` and `model.weights.h5` are what keras-hub writes for a
backbone / task preset, so a preset directory can be uploaded as it is.
Remote handles are not read here (nothing is downloaded). To plug them in
later: keras-hub resolves `kaggle://OWNER/MODEL/keras/VARIANT` (through
`kagglehub`), `hf://OWNER/REPO` (through `huggingface_hub`) and `gs://`
handles with `get_file(handle, "config.json")` of
`keras_hub/src/utils/preset_utils.py` (an internal module; the same for the
other two files), which downloads each file into a local cache and returns
its path; `from_preset` would call it for the three names and read the
cached directory exactly as a local one. `keras_hub.upload_preset(uri,
directory)` uploads a preset directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_fastfcn.constants import IMAGENET_MEAN
from keras_fastfcn.constants import IMAGENET_STD
from keras_fastfcn.models import registry  # noqa: F401  (registers classes)
from keras_fastfcn.utils import files

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE)
FORMAT_VERSION = 1
# Hub handles are refused (nothing is downloaded here); other schemes
# (`gs://`, `ram://`) are read through `tf.io.gfile`.
REMOTE_PREFIXES = ("kaggle://", "hf://", "http://", "https://")


@dataclasses.dataclass(frozen=True)
class PresetMetadata:
    """What a preset's model predicts and how it was made.

    Attributes:
        class_names: one name per class id (`num_classes` names).
        palette: `(num_classes, 3)` uint8 RGB display colour per class id
            (stored as a list of `[r, g, b]`).
        ignore_label: label value of unlabelled pixels in the training data.
        mean, std: per-channel RGB normalisation of `[0, 1]` images.
        base_size: training base size (long side the images were scaled
            around), or `None` if unknown.
        crop_size: training crop size, or `None` if unknown.
        dataset: dataset name (`"ade20k"`, `"sample"`, ...) or `None`.
        training: the training configuration (JSON values) or `None`.
        metrics: final evaluation metrics (`{"mean_iou": ...}`) or `None`.
        calibration: how `fastfcn calibrate` fitted the model's
            `logit_bias` (split, pixels, mIoU before and after) or `None`.
    """

    class_names: tuple[str, ...]
    palette: np.ndarray
    ignore_label: int = 255
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    base_size: int | None = None
    crop_size: int | None = None
    dataset: str | None = None
    training: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None

    def __post_init__(self):
        names = tuple(str(name) for name in self.class_names)
        palette = np.asarray(self.palette)
        if not names:
            raise ValueError("A preset needs at least one class name.")
        if palette.shape != (len(names), 3) or (
            palette.size and (palette.min() < 0 or palette.max() > 255)
        ):
            raise ValueError(
                f"palette must be ({len(names)}, 3) RGB values in 0..255 "
                f"(one colour per class name), got shape {palette.shape}."
            )
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("mean and std must have 3 (RGB) values each.")
        object.__setattr__(self, "class_names", names)
        object.__setattr__(self, "palette", palette.astype(np.uint8))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict[str, Any]:
        """JSON values, as stored in `metadata.json`."""
        return {
            "format_version": FORMAT_VERSION,
            "keras_fastfcn_version": _package_version(),
            "keras_version": keras.__version__,
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "palette": self.palette.tolist(),
            "ignore_label": int(self.ignore_label),
            "mean": list(self.mean),
            "std": list(self.std),
            "base_size": self.base_size,
            "crop_size": self.crop_size,
            "dataset": self.dataset,
            "training": self.training,
            "metrics": self.metrics,
            "calibration": self.calibration,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "PresetMetadata":
        """The inverse of `to_dict` (unknown keys are ignored)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in fields})

    def classes(self) -> list[dict[str, Any]]:
        """`[{"id", "name", "color"}]`, one per class id."""
        return [
            {"id": i, "name": name, "color": [int(c) for c in colour]}
            for i, (name, colour) in enumerate(
                zip(self.class_names, self.palette)
            )
        ]


def _package_version() -> str | None:
    try:
        return importlib.metadata.version("keras-fastfcn")
    except importlib.metadata.PackageNotFoundError:
        return None


def _model_classes(model: keras.Model) -> int | None:
    num_classes = getattr(model, "num_classes", None)
    if isinstance(num_classes, int):
        return num_classes
    outputs = model.outputs if isinstance(model.outputs, list) else []
    return int(outputs[0].shape[-1]) if outputs else None


def save_preset(
    model: keras.Model,
    path: str | os.PathLike,
    metadata: PresetMetadata | dict[str, Any],
    *,
    overwrite: bool = False,
) -> Path:
    """Write `model` and `metadata` as a preset directory at `path`.

    The three files are written into a hidden temporary directory beside
    `path`, which is renamed into place when complete: a reader sees the
    old preset or the new one, never a half-written one.

    Args:
        model: a segmentation model (e.g. from `build_model`).
        path: the preset directory to create.
        metadata: `PresetMetadata` (or its `to_dict` form); its class count
            must match the model's.
        overwrite: replace an existing preset at `path`.

    Returns:
        `path`.
    """
    if isinstance(metadata, dict):
        metadata = PresetMetadata.from_dict(metadata)
    num_classes = _model_classes(model)
    if num_classes is not None and num_classes != metadata.num_classes:
        raise ValueError(
            f"The model predicts {num_classes} classes but the metadata "
            f"names {metadata.num_classes}; pass one name per class."
        )
    if files.exists(path) and not overwrite:
        raise FileExistsError(
            f"{path} already exists; choose another directory or pass "
            "overwrite=True."
        )
    if files.exists(path) and not files.isdir(path):
        raise FileExistsError(f"{path} is a file; a preset is a directory.")
    if files.is_remote(path):
        return _save_remote_preset(model, str(path), metadata)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    old = path.parent / f".{path.name}.{uuid.uuid4().hex}.old"
    try:
        staged.mkdir()
        config = keras.saving.serialize_keras_object(model)
        _write_json(staged / CONFIG_FILE, config)
        model.save_weights(staged / WEIGHTS_FILE)
        _write_json(staged / METADATA_FILE, metadata.to_dict())
        if path.exists():
            os.replace(path, old)
        os.replace(staged, path)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return path


def _save_remote_preset(model, path: str, metadata) -> str:
    """A preset on a filesystem without atomic folder renames (`gs://`):
    each file is written atomically, `metadata.json` last."""
    files.makedirs(path)
    with files.atomic_path(files.join(path, WEIGHTS_FILE)) as tmp:
        model.save_weights(tmp)
    config = keras.saving.serialize_keras_object(model)
    for name, values in ((CONFIG_FILE, config), (METADATA_FILE, metadata)):
        values = values.to_dict() if name == METADATA_FILE else values
        files.atomic_write_text(
            files.join(path, name), json.dumps(values, indent=1)
        )
    return path


def _write_json(path: Path, values: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(values, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def _local_copy(path: str):
    """`path` itself, or for a remote file a local copy (h5py reads local
    files only)."""
    if not files.is_remote(path):
        yield path
        return
    folder = tempfile.mkdtemp(prefix="keras_fastfcn-")
    local = os.path.join(folder, WEIGHTS_FILE)
    try:
        with open(local, "wb") as handle:
            handle.write(files.read_bytes(path))
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def is_preset(path: str | os.PathLike) -> bool:
    """Whether `path` is a directory holding a preset's `config.json`."""
    return files.isfile(files.join(path, CONFIG_FILE))


def _preset_file(path: str | os.PathLike, name: str) -> str:
    text = str(path)
    if text.startswith(REMOTE_PREFIXES):
        raise ValueError(
            f"Cannot read the remote preset {text}: download it first "
            f"(its {', '.join(PRESET_FILES)}, e.g. with kagglehub or "
            "huggingface_hub) and pass the local directory."
        )
    if not files.isdir(path):
        raise FileNotFoundError(
            f"Preset {path} is not a directory; pass one written by "
            "save_preset (e.g. RUN_DIR/preset from fastfcn train)."
        )
    file = files.join(path, name)
    if not files.isfile(file):
        raise FileNotFoundError(
            f"Preset {path} has no {name}; it is incomplete or not a "
            "preset: write it again with save_preset (or fastfcn convert "
            "--preset)."
        )
    return file


def _read_json(path: str | os.PathLike, name: str) -> dict[str, Any]:
    file = _preset_file(path, name)
    try:
        values = json.loads(files.read_text(file))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{file} is not valid JSON ({error}); the preset is corrupt: "
            "write it again with save_preset."
        ) from error
    if not isinstance(values, dict):
        raise ValueError(
            f"{file} holds a {type(values).__name__}, not a JSON object; "
            "the preset is corrupt: write it again with save_preset."
        )
    return values


def load_preset_metadata(path: str | os.PathLike) -> PresetMetadata:
    """The `PresetMetadata` of the preset directory `path`."""
    values = _read_json(path, METADATA_FILE)
    try:
        return PresetMetadata.from_dict(values)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{files.join(path, METADATA_FILE)} is not valid preset metadata "
            f"({error}); write the preset again with save_preset."
        ) from error


def from_preset(path: str | os.PathLike) -> keras.Model:
    """Build the model of the preset directory `path` and load its weights.

    Returns:
        The model (not compiled); it maps `(batch, height, width, 3)`
        normalised images to `(batch, height, width, num_classes)` logits
        (plus aux / SE outputs if it was saved with them).
    """
    config = _read_json(path, CONFIG_FILE)
    try:
        model = keras.saving.deserialize_keras_object(config)
        if not isinstance(model, keras.Model):
            raise TypeError(f"it describes {type(model).__name__}, not a model")
    except Exception as error:  # noqa: BLE001  (any bad config)
        raise ValueError(
            f"Cannot build a model from {files.join(path, CONFIG_FILE)} "
            f"({type(error).__name__}: {error}); the preset is corrupt or "
            "from another package: write it again with save_preset."
        ) from error
    weights = _preset_file(path, WEIGHTS_FILE)
    try:
        with _local_copy(weights) as local:
            model.load_weights(local)
    except Exception as error:  # noqa: BLE001  (h5py / shape errors)
        raise ValueError(
            f"Cannot load {weights} into the model of its config.json "
            f"({type(error).__name__}: {error}); the preset is corrupt: "
            "write it again with save_preset."
        ) from error
    return model
