"""Load official FastFCN checkpoints into Keras models and convert files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping
from typing import Union

import numpy as np

from keras_fastfcn.backbones.resnet import ResNetBackbone
from keras_fastfcn.models.registry import build_model
from keras_fastfcn.models.segmenter import SegmentationModel
from keras_fastfcn.weights.architecture import AUX_PREFIX
from keras_fastfcn.weights.architecture import SE_PREFIX
from keras_fastfcn.weights.architecture import CheckpointArchitecture
from keras_fastfcn.weights.architecture import infer_architecture
from keras_fastfcn.weights.checkpoint import read_checkpoint
from keras_fastfcn.weights.checkpoint import state_dict_from_mapping
from keras_fastfcn.weights.mapping import tensor_mappings
from keras_fastfcn.weights.saving import output_kind
from keras_fastfcn.weights.saving import save_atomically
from keras_fastfcn.weights.transfer import LoadReport
from keras_fastfcn.weights.transfer import assign_state_dict

#: Necks that exist in the official code (`jpu=None` / `JPU` / `JPU_X`).
OFFICIAL_NECKS = ("dilated", "jpu", "jpux")
BACKBONE_PREFIX = "pretrained."
CLASSIFIER_REASON = "unused ImageNet classifier tensors"

Checkpoint = Union[str, os.PathLike, Mapping[str, np.ndarray]]


def _read(checkpoint: Checkpoint) -> tuple[dict[str, np.ndarray], str]:
    if isinstance(checkpoint, Mapping):
        return state_dict_from_mapping(checkpoint), "The state dict"
    return read_checkpoint(checkpoint), str(checkpoint)


def _check_segmentation_model(model) -> None:
    if not isinstance(model, SegmentationModel):
        raise ValueError(
            f"Expected a SegmentationModel from build_model, got "
            f"{type(model).__name__}."
        )
    if model.neck not in OFFICIAL_NECKS:
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


def _model_description(model: SegmentationModel) -> str:
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
    model: SegmentationModel,
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
    state, source = _read(checkpoint)
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
    state, source = _read(checkpoint)
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


def _pick(option, inferred, what: str, source: str):
    if option is None:
        if inferred is None:
            raise ValueError(
                f"Cannot tell the {what} of {source} from its keys; pass it "
                f"explicitly (--{what.replace('_', '-')})."
            )
        return inferred
    return option


def model_for_checkpoint(
    checkpoint: Checkpoint,
    model: str | None = None,
    backbone: str | None = None,
    num_classes: int | None = None,
    *,
    aux: bool | None = None,
    se_loss: bool | None = None,
    input_shape=(None, None, 3),
    progress: bool = False,
) -> tuple[SegmentationModel, LoadReport]:
    """Build the Keras model of an official checkpoint and load it.

    Options left `None` are read from the checkpoint's keys (model name,
    backbone depth, class count, aux / SE branches, and the stem / JPU
    widths); options given must agree with the checkpoint.

    Args:
        checkpoint: a `.pth` / `.pth.tar` / `.npz` file, or a state dict.
        model: model name such as `"encnet_jpu"`, or `None`.
        backbone: `"resnet50"`, `"resnet101"`, `"resnet152"`, or `None`.
        num_classes: int or `None`.
        aux: bool or `None`, build the auxiliary head.
        se_loss: bool or `None`, build the EncNet SE branch.
        input_shape: `(height, width, 3)` of the model input.
        progress: bool, show a progress bar.

    Returns:
        `(model, report)`: the loaded `SegmentationModel` and a
        `LoadReport`.

    Raises:
        ValueError: the options contradict the checkpoint (one line).
        WeightMismatchError: the checkpoint does not fit the model.
    """
    state, source = _read(checkpoint)
    arch = infer_architecture(state)
    if arch.model is None and arch.backbone is not None and model is None:
        raise ValueError(
            f"{source} holds only a {arch.backbone} backbone (no head); "
            "use build_model(..., backbone_weights=PATH) to start training "
            "from it."
        )
    name = _pick(model, arch.model, "model", source)
    depth = _pick(backbone, arch.backbone, "backbone", source)
    classes = _pick(num_classes, arch.num_classes, "num_classes", source)
    wanted = (name, depth, classes)
    found = (arch.model, arch.backbone, arch.num_classes)
    if arch.model is not None and wanted != found:
        raise ValueError(
            f"{source} holds {arch.describe()}, not {name} / {depth}, "
            f"{classes} classes; pass --model {arch.model} --backbone "
            f"{arch.backbone} --num-classes {arch.num_classes}."
        )
    keras_model = build_model(
        name,
        depth,
        classes,
        aux=arch.aux if aux is None else aux,
        se_loss=(
            arch.se_loss and name.startswith("encnet")
            if se_loss is None
            else se_loss
        ),
        input_shape=input_shape,
        neck_width=arch.neck_width or 512,
        stem=arch.stem,
        base_width=arch.base_width or 64,
    )
    report = load_official_weights(keras_model, state, progress=progress)
    return keras_model, report


def build_model_call(model: SegmentationModel) -> str:
    """The `build_model(...)` call that rebuilds `model`'s architecture:
    name, backbone, classes, `aux`, `se_loss`, and every other argument
    that differs from `build_model`'s default (`neck_width`, `base_width`,
    `stem`, `output_stride`), so that `.weights.h5` files load into it."""
    backbone = model.backbone
    arguments = [
        repr(model.name),
        repr(f"resnet{backbone.depth}"),
        str(model.num_classes),
        f"aux={model.aux}",
        f"se_loss={model.se_loss}",
    ]
    default_stride = 8 if model.neck == "dilated" else 32
    for name, value, default in (
        ("neck_width", model.neck_width, 512),
        ("base_width", backbone.base_width, 64),
        ("stem", backbone.stem, "deep"),
        ("output_stride", backbone.output_stride, default_stride),
    ):
        if value != default:
            arguments.append(f"{name}={value!r}")
    return f"build_model({', '.join(arguments)})"


def convert_checkpoint(
    checkpoint: str | os.PathLike,
    output: str | os.PathLike,
    model: str | None = None,
    backbone: str | None = None,
    num_classes: int | None = None,
    *,
    aux: bool | None = None,
    se_loss: bool | None = None,
    progress: bool = False,
) -> tuple[SegmentationModel, LoadReport]:
    """Convert an official `.pth` checkpoint to `.weights.h5` or `.keras`.

    See `model_for_checkpoint` for the options. The output is written to a
    temporary file beside `output` and renamed into place.

    Returns:
        `(model, report)`.
    """
    output_kind(output)  # fail on a bad name before the slow part
    keras_model, report = model_for_checkpoint(
        checkpoint,
        model,
        backbone,
        num_classes,
        aux=aux,
        se_loss=se_loss,
        progress=progress,
    )
    save_atomically(keras_model, Path(output))
    return keras_model, report
