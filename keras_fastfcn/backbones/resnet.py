"""ResNet backbones with the official FastFCN deep stem and dilation."""

from __future__ import annotations

from typing import Sequence

import keras

from keras_fastfcn.layers.common import batch_norm
from keras_fastfcn.layers.common import conv2d
from keras_fastfcn.layers.common import synchronized_batch_norm
from keras_fastfcn.utils.serialization import serializable

# depth -> (block type, blocks per stage)
RESNET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
OUTPUT_STRIDES = (8, 16, 32)
STEMS = ("deep", "standard")


def stage_strides_and_dilations(output_stride: int):
    """Stride and dilation of stages 2-5 (`layer1..layer4`) of the ResNet.

    Output stride 32 is the plain ResNet; 16 dilates `layer4` by 2; 8
    dilates `layer3` by 2 and `layer4` by 4, as the official code.
    """
    if output_stride == 32:
        return (1, 2, 2, 2), (1, 1, 1, 1)
    if output_stride == 16:
        return (1, 2, 2, 1), (1, 1, 1, 2)
    if output_stride == 8:
        return (1, 2, 1, 1), (1, 1, 2, 4)
    raise ValueError(
        f"output_stride must be one of {OUTPUT_STRIDES}, got {output_stride}."
    )


def block_dilations(dilation: int, blocks: int, multi_grid=None):
    """Dilation of each block of a stage.

    The official code gives the first block of a dilated stage half the
    dilation (1 for dilation 2, 2 for dilation 4). With `multi_grid`, block
    `i` uses `dilation * multi_grid[i]` instead (DeepLabV3 multi-grid).
    """
    if multi_grid is not None:
        if len(multi_grid) != blocks:
            raise ValueError(
                f"multi_grid needs one rate per block ({blocks}), "
                f"got {tuple(multi_grid)}."
            )
        return [dilation * g for g in multi_grid]
    first = dilation // 2 if dilation > 1 else 1
    return [first] + [dilation] * (blocks - 1)


def _conv3x3(x, filters, name, strides=1, dilation=1):
    """3x3 conv; stride 2 pads symmetrically by 1 as PyTorch does."""
    if strides == 1:
        return conv2d(filters, 3, name, dilation=dilation)(x)
    x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return conv2d(filters, 3, name, strides=strides, padding="valid")(x)


def _shortcut(x, filters, strides, name):
    if x.shape[-1] == filters and strides == 1:
        return x
    x = conv2d(filters, 1, f"{name}-downsample-0", strides=strides)(x)
    return batch_norm(f"{name}-downsample-1")(x)


def _bottleneck(x, planes, strides, dilation, name, stage_dilation):
    del stage_dilation  # the official Bottleneck ignores it
    shortcut = _shortcut(x, planes * 4, strides, name)
    x = conv2d(planes, 1, f"{name}-conv1")(x)
    x = batch_norm(f"{name}-bn1")(x)
    x = keras.layers.ReLU(name=f"{name}-relu1")(x)
    x = _conv3x3(x, planes, f"{name}-conv2", strides, dilation)
    x = batch_norm(f"{name}-bn2")(x)
    x = keras.layers.ReLU(name=f"{name}-relu2")(x)
    x = conv2d(planes * 4, 1, f"{name}-conv3")(x)
    x = batch_norm(f"{name}-bn3")(x)
    x = keras.layers.Add(name=f"{name}-add")([x, shortcut])
    return keras.layers.ReLU(name=f"{name}-out")(x)


def _basic(x, planes, strides, dilation, name, stage_dilation):
    # Official BasicBlock: conv1 takes the block's (possibly halved)
    # dilation, conv2 the stage's full dilation.
    shortcut = _shortcut(x, planes, strides, name)
    x = _conv3x3(x, planes, f"{name}-conv1", strides, dilation)
    x = batch_norm(f"{name}-bn1")(x)
    x = keras.layers.ReLU(name=f"{name}-relu1")(x)
    x = _conv3x3(x, planes, f"{name}-conv2", 1, stage_dilation)
    x = batch_norm(f"{name}-bn2")(x)
    x = keras.layers.Add(name=f"{name}-add")([x, shortcut])
    return keras.layers.ReLU(name=f"{name}-out")(x)


def _stem(x, stem, width):
    if stem == "deep":
        x = _conv3x3(x, width, "conv1-0", strides=2)
        x = batch_norm("conv1-1")(x)
        x = keras.layers.ReLU(name="conv1-2")(x)
        x = conv2d(width, 3, "conv1-3")(x)
        x = batch_norm("conv1-4")(x)
        x = keras.layers.ReLU(name="conv1-5")(x)
        x = conv2d(2 * width, 3, "conv1-6")(x)
    else:
        x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
        x = conv2d(width, 7, "conv1", strides=2, padding="valid")(x)
    x = batch_norm("bn1")(x)
    return keras.layers.ReLU(name="relu")(x)


@serializable
class ResNetBackbone(keras.Model):
    """ResNet v1 feature extractor returning the outputs of stages 1-5.

    The `"deep"` stem is the official FastFCN one (three 3x3 convs
    64-64-128, as ResNet-C / `resnet50s`); `"standard"` is the 7x7 stem of
    torchvision / Keras. Strides sit on the 3x3 conv of each block (v1.5).
    `output_stride` 32 is the plain network that feeds JPU; 8 and 16 are the
    dilated ("DilatedFCN") baselines. Layer names follow the official
    checkpoint keys with "-" for "." (`conv1-0`, `layer3-2-bn1`, ...).

    Input `(batch, height, width, 3)`, ImageNet-normalised RGB. Output: a
    dict `{"stage1": (batch, H/2, W/2, 2w), "stage2": (.., H/4, .., 4w'),
    "stage3": H/8, "stage4": H/16 or H/8, "stage5": H/32, H/16 or H/8}`
    where channels are 256/512/1024/2048 for bottleneck ResNets at the
    default width.

    Args:
        depth: int, one of 18, 34, 50, 101, 152. Default `50`.
        output_stride: int, 8, 16 or 32. Default `32`.
        stem: `"deep"` or `"standard"`. Default `"deep"`.
        base_width: int, channels of the first stage's blocks (64 for the
            paper); smaller values make light test / CPU models.
        multi_grid: optional tuple, per-block dilation multipliers of
            stage 5 (DeepLabV3 multi-grid), e.g. `(1, 2, 4)`.
        input_shape: tuple, default `(None, None, 3)`.
        sync_batch_norm: bool, BatchNorm statistics synchronised across
            `tf.distribute` replicas (TensorFlow only). Default `False`.

    Example:
    >>> backbone = ResNetBackbone(depth=18, base_width=8)
    >>> features = backbone(np.zeros((1, 64, 64, 3)))
    >>> features["stage5"].shape
    (1, 2, 2, 64)
    """

    def __init__(
        self,
        depth: int = 50,
        output_stride: int = 32,
        stem: str = "deep",
        base_width: int = 64,
        multi_grid: Sequence[int] | None = None,
        input_shape=(None, None, 3),
        sync_batch_norm: bool = False,
        **kwargs,
    ):
        if depth not in RESNET_DEPTHS:
            raise ValueError(
                f"ResNet depth must be one of {sorted(RESNET_DEPTHS)}, "
                f"got {depth}."
            )
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {stem!r}.")
        block_type, blocks = RESNET_DEPTHS[depth]
        strides, dilations = stage_strides_and_dilations(output_stride)
        block_fn = _bottleneck if block_type == "bottleneck" else _basic

        # === Functional Model ===
        inputs = keras.Input(shape=input_shape, name="images")
        with synchronized_batch_norm(sync_batch_norm):
            x = _stem(inputs, stem, base_width)
            features = {"stage1": x}
            x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)
            x = keras.layers.MaxPooling2D(3, 2, name="maxpool")(x)
            for stage, (count, stride, dilation) in enumerate(
                zip(blocks, strides, dilations)
            ):
                grid = multi_grid if stage == 3 else None
                rates = block_dilations(dilation, count, grid)
                planes = base_width * 2**stage
                for i, rate in enumerate(rates):
                    x = block_fn(
                        x,
                        planes,
                        stride if i == 0 else 1,
                        rate,
                        f"layer{stage + 1}-{i}",
                        dilation if grid is None else rate,
                    )
                features[f"stage{stage + 2}"] = x
        kwargs.setdefault("name", f"resnet{depth}")
        super().__init__(inputs=inputs, outputs=features, **kwargs)

        # === Config ===
        self.depth = depth
        self.output_stride = output_stride
        self.stem = stem
        self.base_width = base_width
        self.multi_grid = None if multi_grid is None else tuple(multi_grid)
        self.image_shape = tuple(input_shape)
        self.sync_batch_norm = sync_batch_norm

    @property
    def pyramid_outputs(self):
        """keras-hub style `{"P2".."P5"}` view of stages 2-5."""
        return {f"P{k}": self.output[f"stage{k}"] for k in (2, 3, 4, 5)}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "depth": self.depth,
            "output_stride": self.output_stride,
            "stem": self.stem,
            "base_width": self.base_width,
            "multi_grid": self.multi_grid,
            "input_shape": self.image_shape,
            "sync_batch_norm": self.sync_batch_norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
