"""Pretrained weights: official FastFCN PyTorch checkpoints -> Keras.

- `keras_fastfcn.model_for_checkpoint(path)` / `convert_checkpoint(path,
  out)` (in `keras_fastfcn/models/from_checkpoint.py`, one layer up): an
  official segmentation checkpoint as a loaded Keras model, or written to
  `.weights.h5` / `.keras` (also `fastfcn convert`).
- `load_official_weights(model, path)`: into a model from `build_model`.
- `load_backbone_weights(backbone, path)`: ImageNet ResNet files (also
  reached through `build_model(..., backbone_weights="resnet50.pth")`).
- `read_checkpoint(path)`: a safe (`weights_only`) `.pth` / `.npz` reader
  that first checks the file (`verify_checkpoint`: zip CRC-32s).
"""

from keras_fastfcn.weights.architecture import CheckpointArchitecture
from keras_fastfcn.weights.architecture import infer_architecture
from keras_fastfcn.weights.checkpoint import CheckpointError
from keras_fastfcn.weights.checkpoint import read_checkpoint
from keras_fastfcn.weights.checkpoint import verify_checkpoint
from keras_fastfcn.weights.mapping import TensorMapping
from keras_fastfcn.weights.mapping import tensor_mappings
from keras_fastfcn.weights.official import load_backbone_weights
from keras_fastfcn.weights.official import load_official_weights
from keras_fastfcn.weights.transfer import LoadReport
from keras_fastfcn.weights.transfer import WeightMismatchError

__all__ = [
    "CheckpointArchitecture",
    "CheckpointError",
    "LoadReport",
    "TensorMapping",
    "WeightMismatchError",
    "infer_architecture",
    "load_backbone_weights",
    "load_official_weights",
    "read_checkpoint",
    "tensor_mappings",
    "verify_checkpoint",
]
