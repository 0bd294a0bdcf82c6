"""Keras 3 implementation of FastFCN (JPU) and its segmentation heads."""

from keras_fastfcn import layers
from keras_fastfcn import losses
from keras_fastfcn import metrics
from keras_fastfcn import schedules
from keras_fastfcn.backbones.resnet import ResNetBackbone
from keras_fastfcn.models.from_checkpoint import convert_checkpoint
from keras_fastfcn.models.from_checkpoint import model_for_checkpoint
from keras_fastfcn.models.registry import build_model
from keras_fastfcn.models.registry import list_backbones
from keras_fastfcn.models.registry import list_models
from keras_fastfcn.models.segmenter import SegmentationModel

__version__ = "0.1.0"

__all__ = [
    "ResNetBackbone",
    "SegmentationModel",
    "build_model",
    "convert_checkpoint",
    "layers",
    "list_backbones",
    "list_models",
    "losses",
    "metrics",
    "model_for_checkpoint",
    "schedules",
]
