"""Build the Keras model that fits an official checkpoint, load it, and
convert checkpoint files (`fastfcn convert`)."""

from __future__ import annotations

import os
from pathlib import Path

from keras_fastfcn.heads.registry import get_head
from keras_fastfcn.models.registry import build_model
from keras_fastfcn.models.registry import parse_model_name
from keras_fastfcn.models.segmenter import SegmentationModel
from keras_fastfcn.necks.registry import get_neck
from keras_fastfcn.weights.architecture import infer_architecture
from keras_fastfcn.weights.official import Checkpoint
from keras_fastfcn.weights.official import load_official_weights
from keras_fastfcn.weights.official import read_state
from keras_fastfcn.weights.saving import output_kind
from keras_fastfcn.weights.saving import save_atomically
from keras_fastfcn.weights.transfer import LoadReport


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
    state, source = read_state(checkpoint)
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
            arch.se_loss and get_head(parse_model_name(name)[0]).se_output
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
    default_stride = 8 if get_neck(model.neck).dilated_backbone else 32
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
