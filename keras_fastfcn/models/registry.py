"""Model names of the FastFCN paper and `build_model`, the front door."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Sequence

import keras

from keras_fastfcn.backbones.keras_applications import KERAS_APPLICATION_RESNETS
from keras_fastfcn.backbones.keras_applications import features_from_model
from keras_fastfcn.backbones.keras_applications import (
    keras_application_backbone,
)
from keras_fastfcn.backbones.resnet import ResNetBackbone
from keras_fastfcn.heads.registry import HEADS
from keras_fastfcn.models.segmenter import SegmentationModel
from keras_fastfcn.necks.registry import NECKS

# backbone_weights files read as PyTorch / NumPy state dicts.
TORCH_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".pth.tar", ".npz")
RESNET_BACKBONES = {
    "resnet18": 18,
    "resnet34": 34,
    "resnet50": 50,
    "resnet101": 101,
    "resnet152": 152,
}


def list_models() -> list[str]:
    """All model names: `{fcn, psp, deeplabv3, encnet}` x
    `{"" (dilated), _jpu, _jpux, _bilinear, _fpn}`."""
    return [head + neck.suffix for head in HEADS for neck in NECKS.values()]


def list_backbones() -> list[str]:
    """Backbone names accepted by `build_model`."""
    return list(RESNET_BACKBONES) + list(KERAS_APPLICATION_RESNETS)


def parse_model_name(name: str) -> tuple[str, str]:
    """Split a model name into `(head, neck)`; `ValueError` if unknown."""
    for head in HEADS:
        for neck in NECKS.values():
            if name == head + neck.suffix:
                return head, neck.name
    raise ValueError(
        f"Unknown model name {name!r}. Valid names: {', '.join(list_models())}."
    )


def _backbone(
    backbone,
    neck: str,
    output_stride: int | None,
    backbone_weights: str | None,
    input_shape,
    sync_batch_norm: bool,
    backbone_kwargs: dict,
) -> keras.Model:
    dilated = NECKS[neck].dilated_backbone
    stride = output_stride or (8 if dilated else 32)
    if not dilated and stride != 32:
        raise ValueError(
            f"The {neck!r} neck takes a plain stride-32 backbone; "
            f"output_stride={stride} is only for dilated models."
        )
    if isinstance(backbone, keras.Model):
        if dilated:
            raise ValueError(
                "A Keras-ecosystem backbone has no dilation; use it with a "
                "non-dilated model such as 'encnet_jpu'."
            )
        if isinstance(backbone.output, dict) and "stage3" in backbone.output:
            return backbone
        return features_from_model(backbone)
    if backbone in KERAS_APPLICATION_RESNETS:
        if dilated:
            raise ValueError(
                f"Backbone {backbone!r} has no dilation; use it with a "
                "non-dilated model such as 'encnet_jpu', or use "
                f"{backbone.removeprefix('keras_')!r}."
            )
        return keras_application_backbone(
            backbone, weights=backbone_weights, input_shape=input_shape
        )
    if backbone not in RESNET_BACKBONES:
        raise ValueError(
            f"Unknown backbone {backbone!r}. Valid backbones: "
            f"{', '.join(list_backbones())}, or a keras.Model."
        )
    model = ResNetBackbone(
        depth=RESNET_BACKBONES[backbone],
        output_stride=stride,
        input_shape=input_shape,
        sync_batch_norm=sync_batch_norm,
        name="backbone",
        **backbone_kwargs,
    )
    if backbone_weights is not None:
        _load_resnet_weights(model, backbone_weights)
    return model


def _load_backbone_h5(model: ResNetBackbone, path) -> None:
    """`model.load_weights(path)`, with one error naming the file when it is
    not the `.weights.h5` of a `ResNetBackbone` of this architecture (a
    whole segmentation model's weights, another depth, not HDF5)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"backbone_weights {path} does not exist.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
            error = None
        except Exception as exception:  # noqa: BLE001  (reported below)
            error = exception
    skipped = [w for w in caught if "could not be loaded" in str(w.message)]
    if error is not None or skipped:
        reason = error if error is not None else skipped[0].message
        raise ValueError(
            f"backbone_weights {path} is not the .weights.h5 of a "
            f"ResNet-{model.depth} backbone "
            f"({str(reason).splitlines()[0][:160]}). Pass ImageNet backbone "
            "weights (.pth / .npz, or a .weights.h5 saved from the same "
            "backbone); load a whole model's weights with "
            "model.load_weights(...) instead."
        )


def _load_resnet_weights(model: ResNetBackbone, path) -> None:
    """Load a `.weights.h5` file, or a PyTorch / `.npz` ImageNet ResNet
    state dict (official deep-stem or torchvision layout)."""
    if not str(path).endswith(TORCH_CHECKPOINT_SUFFIXES):
        _load_backbone_h5(model, path)
        return
    from keras_fastfcn.weights.official import load_backbone_weights

    report = load_backbone_weights(model, path)
    logging.getLogger(__name__).info("%s: %s", path, report.summary())


def build_model(
    name: str,
    backbone: str | keras.Model = "resnet50",
    num_classes: int = 150,
    *,
    aux: bool = False,
    se_loss: bool = False,
    output_stride: int | None = None,
    backbone_weights: str | None = None,
    input_shape=(None, None, 3),
    neck_width: int = 512,
    sync_batch_norm: bool = False,
    dropout: float = 0.1,
    decoder_width: int = 0,
    logit_bias: Sequence[float] | None = None,
    **backbone_kwargs,
) -> SegmentationModel:
    """Build a FastFCN-family segmentation model by name.

    Args:
        name: model name, see `list_models()`, e.g. `"encnet_jpu"` (EncNet
            on a stride-32 ResNet with JPU), `"psp"` (PSPNet on a dilated,
            output-stride-8 ResNet).
        backbone: a name from `list_backbones()` or a `keras.Model`
            (`keras.applications` ResNet, or a model with keras-hub style
            `pyramid_outputs`), the latter only for non-dilated models.
        num_classes: int, number of classes. Default `150` (ADE20K).
        aux: bool, add the auxiliary FCN head on stage 4.
        se_loss: bool, EncNet only: add the class-presence output.
        output_stride: 8 or 16 for dilated models (default 8).
        backbone_weights: weights for the backbone: a `.weights.h5` file of
            a `ResNetBackbone`, an ImageNet ResNet state dict (`.pth`,
            `.pth.tar`, `.pt` read with `torch.load(weights_only=True)`, or
            `.npz`: the official deep-stem files such as
            `resnet50-ebb6acbb.pth`, or torchvision layout with
            `stem="standard"`; `fc.*` is skipped), or for `keras_resnet*`
            backbones `"imagenet"` or a Keras application weights file.
        input_shape: `(height, width, 3)`, `None` for unknown sizes.
        neck_width: int, JPU / FPN branch width. Default `512`.
        sync_batch_norm: bool, synchronise BatchNorm statistics across
            `tf.distribute` replicas (TensorFlow only). Default `False`.
        dropout: float, spatial dropout before the classifiers. Default
            `0.1` (official).
        decoder_width: int, `> 0` adds a stride-4 `DetailDecoder` of this
            width before the final upsampling (not in the paper; for thin
            classes). Default `0` (the paper).
        logit_bias: one float per class added to the main logits
            (`ClassBias`; `fastfcn calibrate` fits them after training).
            Default `None`: none.
        **backbone_kwargs: passed to `ResNetBackbone` (`stem`,
            `base_width`, `multi_grid`).

    Returns:
        A `SegmentationModel`; see its docstring for inputs and outputs.

    Example:
    >>> model = keras_fastfcn.build_model("encnet_jpu", num_classes=150)
    >>> model(np.zeros((1, 512, 512, 3))).shape
    (1, 512, 512, 150)
    """
    head, neck = parse_model_name(name)
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"num_classes must be a positive int, got {num_classes!r}."
        )
    features = _backbone(
        backbone,
        neck,
        output_stride,
        backbone_weights,
        input_shape,
        sync_batch_norm,
        backbone_kwargs,
    )
    return SegmentationModel(
        features,
        head=head,
        neck=neck,
        num_classes=num_classes,
        aux=aux,
        se_loss=se_loss,
        neck_width=neck_width,
        sync_batch_norm=sync_batch_norm,
        dropout=dropout,
        decoder_width=decoder_width,
        logit_bias=logit_bias,
        name=name,
    )
