"""The heads a model name can start with, each stated once.

Adding a head: a layer file in `keras_fastfcn/heads/` plus one `HeadSpec`
entry below (its outputs, how it is built for a neck, and the official
checkpoint keys that identify it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from keras_fastfcn.heads.deeplabv3_head import DeepLabV3Head
from keras_fastfcn.heads.enc_head import EncHead
from keras_fastfcn.heads.fcn_head import FCNHead
from keras_fastfcn.heads.psp_head import PSPHead


@dataclass(frozen=True)
class HeadSpec:
    """One head.

    Attributes:
        name: the head's name, the start of model names (`"encnet"`).
        build: `(num_classes, neck, stride, dropout, se_loss) -> layer`,
            for a `NeckSpec` `neck` and the stride of the map it reads.
        se_output: the head can also predict class presence (EncNet's SE
            loss); `se_loss` defaults to it.
        checkpoint_keys: keys that all occur in this head's official
            checkpoints and never all in another head's.
        classifier_key: the official classifier weight; its first
            dimension is the number of classes.
    """

    name: str
    build: Callable
    checkpoint_keys: tuple[str, ...]
    classifier_key: str
    se_output: bool = False


def _encnet(num_classes, neck, stride, dropout, se_loss):
    del stride
    return EncHead(
        num_classes,
        conv_kernel_size=neck.head_kernel_size,
        se_loss=se_loss,
        dropout=dropout,
        name="head",
    )


def _deeplabv3(num_classes, neck, stride, dropout, se_loss):
    del neck, se_loss
    rates = tuple(r * 8 // stride for r in (12, 24, 36))
    return DeepLabV3Head(num_classes, rates=rates, dropout=dropout, name="head")


def _psp(num_classes, neck, stride, dropout, se_loss):
    del neck, stride, se_loss
    return PSPHead(num_classes, dropout=dropout, name="head")


def _fcn(num_classes, neck, stride, dropout, se_loss):
    del neck, stride, se_loss
    return FCNHead(num_classes, dropout=dropout, name="head")


HEADS: dict[str, HeadSpec] = {
    spec.name: spec
    for spec in (
        HeadSpec(
            "fcn",
            _fcn,
            ("head.conv5.4.weight", "head.conv5.0.weight"),
            "head.conv5.4.weight",
        ),
        HeadSpec(
            "psp",
            _psp,
            ("head.conv5.0.conv1.0.weight",),
            "head.conv5.5.weight",
        ),
        HeadSpec(
            "deeplabv3",
            _deeplabv3,
            ("head.aspp.b0.0.weight",),
            "head.block.4.weight",
        ),
        HeadSpec(
            "encnet",
            _encnet,
            ("head.encmodule.encoding.3.codewords",),
            "head.conv6.1.weight",
            se_output=True,
        ),
    )
}


def get_head(name: str) -> HeadSpec:
    """The `HeadSpec` called `name`; `ValueError` naming the valid ones."""
    if name not in HEADS:
        raise ValueError(
            f"Unknown head {name!r}; expected one of {tuple(HEADS)}."
        )
    return HEADS[name]
