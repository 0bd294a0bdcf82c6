"""Keras 3 implementation of FastFCN (JPU) and its segmentation heads.

`import keras_fastfcn` registers every layer and model class for `.keras`
loading. The command-line tools defer that (and so TensorFlow) until an
option needs it, so that `--help` and option errors answer at once: the
`fastfcn` command and `train.py` set `KERAS_FASTFCN_DEFER_IMPORTS`, then
call `load_api()`.
"""

import importlib
import os
import sys

__version__ = "0.1.0"

# public name -> module that defines it (`None`: the name is a module)
_API = {
    "layers": None,
    "losses": None,
    "metrics": None,
    "schedules": None,
    "ResNetBackbone": "keras_fastfcn.backbones.resnet",
    "SegmentationModel": "keras_fastfcn.models.segmenter",
    "build_model": "keras_fastfcn.models.registry",
    "list_backbones": "keras_fastfcn.models.registry",
    "list_models": "keras_fastfcn.models.registry",
    "convert_checkpoint": "keras_fastfcn.models.from_checkpoint",
    "model_for_checkpoint": "keras_fastfcn.models.from_checkpoint",
    "PresetMetadata": "keras_fastfcn.models.presets",
    "from_preset": "keras_fastfcn.models.presets",
    "load_preset_metadata": "keras_fastfcn.models.presets",
    "save_preset": "keras_fastfcn.models.presets",
}
DEFER_VARIABLE = "KERAS_FASTFCN_DEFER_IMPORTS"

__all__ = sorted(_API)


def _resolve(name: str):
    module = _API[name]
    if module is None:
        return importlib.import_module(f"keras_fastfcn.{name}")
    return getattr(importlib.import_module(module), name)


def load_api() -> None:
    """Import the public API (and so register every Keras class)."""
    for name in _API:
        globals()[name] = _resolve(name)


def __getattr__(name: str):
    if name in _API:
        value = _resolve(name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_fastfcn' has no attribute {name!r}")


def _deferred() -> bool:
    return os.environ.get(DEFER_VARIABLE) == "1" or (
        os.path.basename(sys.argv[0]) == "fastfcn" if sys.argv else False
    )


if not _deferred():
    load_api()
