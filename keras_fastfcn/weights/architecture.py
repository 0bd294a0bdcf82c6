"""Recognise the architecture an official state dict was saved from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from keras_fastfcn.heads.registry import HEADS
from keras_fastfcn.necks.registry import NECKS

# (bottleneck?, blocks in layer2, blocks in layer3) -> depth.
RESNET_BLOCKS = {
    (False, 2, 2): 18,
    (False, 4, 6): 34,
    (True, 4, 6): 50,
    (True, 4, 23): 101,
    (True, 8, 36): 152,
}
AUX_PREFIX = "auxlayer."
SE_PREFIX = "head.encmodule.selayer."


@dataclass(frozen=True)
class CheckpointArchitecture:
    """What an official state dict holds, as `build_model` arguments.

    Attributes:
        model: model name (`"encnet_jpu"`, `"psp"`, ...) or `None` for a
            bare backbone or an unknown head.
        backbone: `"resnet50"` etc., or `None` if not recognised.
        num_classes: int or `None`.
        aux: bool, the checkpoint has the auxiliary head.
        se_loss: bool, the checkpoint has the EncNet SE layer.
        stem: `"deep"` (official) or `"standard"` (torchvision).
        base_width: int, stem width (64 for the paper's ResNets).
        neck_width: int or `None`, JPU branch width (512 official).
    """

    model: str | None
    backbone: str | None
    num_classes: int | None
    aux: bool
    se_loss: bool
    stem: str
    base_width: int | None
    neck_width: int | None

    def describe(self) -> str:
        """Short text such as `"encnet_jpu / resnet50, 150 classes"`."""
        model = self.model or "backbone only"
        text = f"{model} / {self.backbone or 'unknown backbone'}"
        if self.num_classes is not None:
            text += f", {self.num_classes} classes"
        return text


def _block_count(keys, prefix: str, layer: int) -> int:
    pattern = re.compile(rf"^{re.escape(prefix)}layer{layer}\.(\d+)\.")
    return len({m.group(1) for k in keys if (m := pattern.match(k))})


def _backbone(state: Mapping[str, np.ndarray], prefix: str):
    keys = list(state)
    bottleneck = f"{prefix}layer1.0.conv3.weight" in state
    blocks = (
        bottleneck,
        _block_count(keys, prefix, 2),
        _block_count(keys, prefix, 3),
    )
    depth = RESNET_BLOCKS.get(blocks)
    deep = f"{prefix}conv1.0.weight" in state
    stem_key = f"{prefix}conv1.0.weight" if deep else f"{prefix}conv1.weight"
    width = int(state[stem_key].shape[0]) if stem_key in state else None
    return (
        None if depth is None else f"resnet{depth}",
        "deep" if deep else "standard",
        width,
    )


def _neck(state: Mapping[str, np.ndarray]):
    """`(model-name suffix, neck width)`; the dilated baseline when no
    neck's checkpoint key is there."""
    for neck in NECKS.values():
        if neck.checkpoint_key and neck.checkpoint_key in state:
            return neck.suffix, int(state[neck.checkpoint_key].shape[0])
    return "", None


def _head(state: Mapping[str, np.ndarray]):
    return next(
        (
            head
            for head in HEADS.values()
            if all(key in state for key in head.checkpoint_keys)
        ),
        None,
    )


def infer_architecture(
    state: Mapping[str, np.ndarray],
) -> CheckpointArchitecture:
    """Guess the official architecture of a state dict from its keys.

    Segmentation checkpoints (`pretrained.*` keys) give the model name,
    backbone, class count and optional branches; ImageNet backbone files
    (bare `conv1.*`, `layer*.*` keys) give the backbone only. Dilated and
    plain backbones have the same tensors, so a checkpoint without JPU is
    reported as the dilated baseline (`"encnet"`, `"psp"`, ...), as the
    official code trains it.

    Args:
        state: `{official key: array}`.

    Returns:
        A `CheckpointArchitecture`; unknown parts are `None`.
    """
    segmentation = any(k.startswith("pretrained.") for k in state)
    prefix = "pretrained." if segmentation else ""
    backbone, stem, base_width = _backbone(state, prefix)
    head = _head(state)
    suffix, neck_width = _neck(state)
    num_classes = None
    if head is not None:
        num_classes = int(state[head.classifier_key].shape[0])
    return CheckpointArchitecture(
        model=None if head is None else head.name + suffix,
        backbone=backbone,
        num_classes=num_classes,
        aux=any(k.startswith(AUX_PREFIX) for k in state),
        se_loss=any(k.startswith(SE_PREFIX) for k in state),
        stem=stem,
        base_width=base_width,
        neck_width=neck_width,
    )
