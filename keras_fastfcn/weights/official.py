"""Load official FastFCN checkpoint tensors into Keras models.

`load_official_weights` fills a segmentation model built by
`keras_fastfcn.build_model`, `load_backbone_weights` a `ResNetBackbone`.
Building the model that fits a checkpoint is `keras_fastfcn.models.
from_checkpoint` (one layer up: this package never imports `models`).
"""

from __future__ import annotations

import os
from typing import Mapping
from typing import Union

import keras
import numpy as np

from keras_fastfcn.backbones.resnet import ResNetBackbone
from keras_fastfcn.necks.registry import get_neck
from keras_fastfcn.necks.registry import official_necks
from keras_fastfcn.weights.architecture import AUX_PREFIX
from keras_fastfcn.weights.architecture import SE_PREFIX
from keras_fastfcn.weights.architecture import CheckpointArchitecture
from keras_fastfcn.weights.architecture import infer_architecture
from keras_fastfcn.weights.checkpoint import read_checkpoint
from keras_fastfcn.weights.checkpoint import state_dict_from_mapping
from keras_fastfcn.weights.mapping import tensor_mappings
from keras_fastfcn.weights.transfer import LoadReport
from keras_fastfcn.weights.transfer import assign_state_dict

BACKBONE_PREFIX = "pretrained."
CLASSIFIER_REASON = "unused ImageNet classifier tensors"

Checkpoint = Union[str, os.PathLike, Mapping[str, np.ndarray]]


def read_state(checkpoint: Checkpoint) -> tuple[dict[str, np.ndarray], str]:
    """`({key: array}, description)` of a checkpoint file or state dict."""
    if isinstance(checkpoint, Mapping):
        return state_dict_from_mapping(checkpoint), "The state dict"
    return read_checkpoint(checkpoint), str(checkpoint)


def _check_segmentation_model(model) -> None:
    if not all(hasattr(model, a) for a in ("head", "neck", "backbone")):
        raise ValueError(
            f"Expected a SegmentationModel from build_model, got "
            f"{type(model).__name__}."
        )
    if get_neck(model.neck) not in official_necks():
        raise ValueError(
            f"Model {model.name!r} has the {model.neck!r} neck, which the "
            "official code does not have; official checkpoints fit the "
            "dilated, _jpu and _jpux models."
        )
    if not isinstance(model.backbone, ResNetBackbone):
        raise ValueError(
            f"Model {model.name!r} uses a {type(model.backbone).__name__} "
            "backbone; official checkpoints need the ResNet backbones "
            "('resnet50', 'resnet101', 'resnet152')."
        )


def _model_description(model: keras.Model) -> str:
    return (
        f"{model.name} / resnet{model.backbone.depth}, "
        f"{model.num_classes} classes"
    )


def _architecture_hint(arch: CheckpointArchitecture, model) -> str:
    if arch.model is None:
        return ""
    return (
        f"The checkpoint looks like {arch.describe()} "
        f"(aux={arch.aux}, se_loss={arch.se_loss}); the model is "
        f"{_model_description(model)} (aux={model.aux}, "
        f"se_loss={model.se_loss})."
    )


def load_official_weights(
    model: keras.Model,
    checkpoint: Checkpoint,
    *,
    progress: bool = False,
) -> LoadReport:
    """Copy an official FastFCN segmentation checkpoint into `model`.

    Every tensor must fit: a missing, unexpected or mis-shaped tensor
    raises, and nothing is assigned then. Skipped (and reported): the
    backbone's unused `pretrained.fc.*`, `num_batches_tracked`, and the
    `auxlayer.*` / `head.encmodule.selayer.*` tensors when `model` was
    built without `aux` / `se_loss` (they only serve training losses).

    Args:
        model: from `build_model` (`encnet`, `psp`, `deeplabv3`, `fcn`, each
            dilated, `_jpu` or `_jpux`, on a ResNet backbone).
        checkpoint: a `.pth` / `.pth.tar` / `.npz` file, or a state dict.
        progress: bool, show a progress bar.

    Returns:
        A `LoadReport` of loaded and skipped keys.

    Raises:
        FileNotFoundError, CheckpointError: unreadable file.
        WeightMismatchError: the checkpoint does not fit `model`.
        ValueError: `model` has no official counterpart.
    """
    _check_segmentation_model(model)
    state, source = read_state(checkpoint)
    mappings = tensor_mappings(model)
    keys = {m.key for m in mappings}
    has_aux = any(k.startswith(AUX_PREFIX) for k in keys)
    has_se = any(k.startswith(SE_PREFIX) for k in keys)

    def skip(key: str) -> str | None:
        if key.startswith(BACKBONE_PREFIX + "fc."):
            return CLASSIFIER_REASON
        if key.startswith(AUX_PREFIX) and not has_aux:
            return "auxiliary-head tensors (model built with aux=False)"
        if key.startswith(SE_PREFIX) and not has_se:
            return "SE-layer tensors (model built with se_loss=False)"
        return None

    return assign_state_dict(
        mappings,
        state,
        skip=skip,
        source=source,
        target=f"model {_model_description(model)}",
        hint=_architecture_hint(infer_architecture(state), model),
        progress=progress,
    )


def load_backbone_weights(
    backbone: ResNetBackbone,
    checkpoint: Checkpoint,
    *,
    progress: bool = False,
) -> LoadReport:
    """Copy ImageNet ResNet weights from a PyTorch file into `backbone`.

    Accepts the official deep-stem ResNet files (`resnet50-ebb6acbb.pth`:
    bare `conv1.0.weight`, `layer1.0.bn1.*`, ... keys) for the `"deep"`
    stem, torchvision-layout ResNets for the `"standard"` stem, and the
    `pretrained.*` part of a segmentation checkpoint (its other tensors
    are skipped and reported). `fc.*` and `num_batches_tracked` are skipped.

    Args:
        backbone: a `ResNetBackbone`.
        checkpoint: a `.pth` / `.pth.tar` / `.npz` file, or a state dict.
        progress: bool, show a progress bar.

    Returns:
        A `LoadReport`.

    Raises:
        FileNotFoundError, CheckpointError: unreadable file.
        WeightMismatchError: the tensors do not fit `backbone`.
    """
    state, source = read_state(checkpoint)
    prefix = ""
    outside = []
    if any(k.startswith(BACKBONE_PREFIX) for k in state):
        prefix = BACKBONE_PREFIX
        outside = [k for k in state if not k.startswith(prefix)]
        state = {
            k[len(prefix) :]: v
            for k, v in state.items()
            if k.startswith(prefix)
        }

    def skip(key: str) -> str | None:
        if key.startswith("fc."):
            return CLASSIFIER_REASON
        return None

    arch = infer_architecture(state)
    target = (
        f"backbone resnet{backbone.depth} ({backbone.stem} stem, "
        f"base width {backbone.base_width})"
    )
    hint = (
        f"The checkpoint looks like {arch.backbone} ({arch.stem} stem, "
        f"base width {arch.base_width})."
        if arch.backbone
        else ""
    )
    report = assign_state_dict(
        tensor_mappings(backbone),
        state,
        skip=skip,
        source=source,
        target=target,
        hint=hint,
        progress=progress,
    )
    report.skipped = {prefix + k: r for k, r in report.skipped.items()}
    for key in outside:
        report.skipped[key] = "tensors outside the backbone"
    return report
