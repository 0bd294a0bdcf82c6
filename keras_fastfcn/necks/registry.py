"""The necks a model name can end in, each stated once.

A neck maps the backbone's feature dict (`"stage3"` stride 8, `"stage4"`,
`"stage5"`) to the stride-8 map the head reads. Adding a neck: a layer in
`keras_fastfcn/layers/` plus one `NeckSpec` entry below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from keras_fastfcn.layers.fpn import FPNNeck
from keras_fastfcn.layers.jpu import JPU
from keras_fastfcn.layers.jpu_x import JPUX
from keras_fastfcn.layers.resize import ResizeLike


@dataclass(frozen=True)
class NeckSpec:
    """One neck.

    Attributes:
        name: the neck's name (`"jpu"`).
        suffix: what it adds to a head's name in model names (`"_jpu"`).
        apply: `(features, width) -> (batch, h/8, w/8, channels)` on the
            Keras functional graph.
        dilated_backbone: the neck reads a dilated (output stride 8 / 16)
            backbone as it is; all others take a plain stride-32 one.
        head_kernel_size: kernel of EncNet's first head convolution after
            this neck (the official code uses 1x1 after the JPUs, whose
            output is already a 4-branch mix, else 3x3).
        checkpoint_key: a key only this neck's official checkpoints hold;
            its first dimension is the neck width. `None`: no official
            checkpoints (the dilated baseline is recognised by having no
            other neck).
    """

    name: str
    suffix: str
    apply: Callable
    dilated_backbone: bool = False
    head_kernel_size: int = 3
    checkpoint_key: str | None = None


def _dilated(features, width):
    del width
    return features["stage5"]


def _jpu(features, width):
    return JPU(width, name="jpu")(
        [features["stage3"], features["stage4"], features["stage5"]]
    )


def _jpux(features, width):
    # GroupNorm(32) as the official code; fewer groups for narrow necks.
    groups = min(32, width // 2)
    return JPUX(width, groups=groups, name="jpu")(
        [features["stage3"], features["stage4"], features["stage5"]]
    )


def _bilinear(features, width):
    del width
    return ResizeLike(name="neck")([features["stage5"], features["stage3"]])


def _fpn(features, width):
    return FPNNeck(width, name="neck")(
        [features["stage3"], features["stage4"], features["stage5"]]
    )


NECKS: dict[str, NeckSpec] = {
    spec.name: spec
    for spec in (
        NeckSpec("dilated", "", _dilated, dilated_backbone=True),
        NeckSpec(
            "jpu",
            "_jpu",
            _jpu,
            head_kernel_size=1,
            checkpoint_key="jpu.conv5.0.weight",
        ),
        NeckSpec(
            "jpux",
            "_jpux",
            _jpux,
            head_kernel_size=1,
            checkpoint_key="jpu.jum_2.conv_l.0.weight",
        ),
        NeckSpec("bilinear", "_bilinear", _bilinear),
        NeckSpec("fpn", "_fpn", _fpn),
    )
}


def get_neck(name: str) -> NeckSpec:
    """The `NeckSpec` called `name`; `ValueError` naming the valid ones."""
    if name not in NECKS:
        raise ValueError(
            f"Unknown neck {name!r}; expected one of {tuple(NECKS)}."
        )
    return NECKS[name]


def official_necks() -> list[NeckSpec]:
    """The necks the official code has (`jpu=None`, `JPU`, `JPU_X`): those
    its checkpoints can fill."""
    return [
        neck
        for neck in NECKS.values()
        if neck.dilated_backbone or neck.checkpoint_key is not None
    ]
