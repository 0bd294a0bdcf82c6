"""`SegmentationModel`: backbone -> neck -> head (+ auxiliary head)."""

from __future__ import annotations

import keras

from keras_fastfcn.heads.deeplabv3_head import DeepLabV3Head
from keras_fastfcn.heads.enc_head import EncHead
from keras_fastfcn.heads.fcn_head import FCNHead
from keras_fastfcn.heads.psp_head import PSPHead
from keras_fastfcn.layers.common import synchronized_batch_norm
from keras_fastfcn.layers.fpn import FPNNeck
from keras_fastfcn.layers.jpu import JPU
from keras_fastfcn.layers.jpu_x import JPUX
from keras_fastfcn.layers.resize import ResizeLike
from keras_fastfcn.utils.serialization import serializable

HEADS = ("fcn", "psp", "deeplabv3", "encnet")
NECKS = ("dilated", "jpu", "jpux", "bilinear", "fpn")


def _neck(neck: str, features: dict, width: int):
    c3, c4, c5 = features["stage3"], features["stage4"], features["stage5"]
    if neck == "dilated":
        return c5
    if neck == "jpu":
        return JPU(width, name="jpu")([c3, c4, c5])
    if neck == "jpux":
        # GroupNorm(32) as the official code; fewer groups for narrow necks.
        groups = min(32, width // 2)
        return JPUX(width, groups=groups, name="jpu")([c3, c4, c5])
    if neck == "bilinear":
        return ResizeLike(name="neck")([c5, c3])
    if neck == "fpn":
        return FPNNeck(width, name="neck")([c3, c4, c5])
    raise ValueError(f"Unknown neck {neck!r}; expected one of {NECKS}.")


def _head(
    head: str,
    neck: str,
    num_classes: int,
    se_loss: bool,
    stride: int,
    dropout: float,
):
    if head == "fcn":
        return FCNHead(num_classes, dropout=dropout, name="head")
    if head == "psp":
        return PSPHead(num_classes, dropout=dropout, name="head")
    if head == "deeplabv3":
        rates = tuple(r * 8 // stride for r in (12, 24, 36))
        return DeepLabV3Head(
            num_classes, rates=rates, dropout=dropout, name="head"
        )
    if head == "encnet":
        kernel = 1 if neck in ("jpu", "jpux") else 3
        return EncHead(
            num_classes,
            conv_kernel_size=kernel,
            se_loss=se_loss,
            dropout=dropout,
            name="head",
        )
    raise ValueError(f"Unknown head {head!r}; expected one of {HEADS}.")


@serializable
class SegmentationModel(keras.Model):
    """A FastFCN-family semantic segmentation model.

    `backbone` gives stride-8/16/32 features; the `neck` turns them into one
    stride-8 feature map (`"dilated"`: the backbone's last stage as it is;
    `"jpu"`, `"jpux"`, `"bilinear"`, `"fpn"`); the `head` predicts class
    logits, which are upsampled (bilinear, align corners) to the input size.

    Input `(batch, height, width, 3)`: RGB normalised with the ImageNet
    mean and std. Output: logits `(batch, height, width, num_classes)`; with
    `aux` or `se_loss`, a dict `{"logits", "aux_logits" (batch, height,
    width, num_classes), "se_logits" (batch, num_classes)}`. Outputs are
    float32 under mixed precision. Any height and width work; multiples of
    32 (8 for dilated models) align features with the official code.

    Args:
        backbone: `keras.Model` whose output dict holds `"stage3"`,
            `"stage4"`, `"stage5"` (e.g. `ResNetBackbone`).
        head: one of `"fcn"`, `"psp"`, `"deeplabv3"`, `"encnet"`.
        neck: one of `"dilated"`, `"jpu"`, `"jpux"`, `"bilinear"`, `"fpn"`.
        num_classes: int, number of classes.
        aux: bool, add the FCN auxiliary head on stage 4. Default `False`.
        se_loss: bool, EncNet only: add class-presence logits.
            Default `False`.
        neck_width: int, channels of each JPU / FPN branch. Default `512`.
        sync_batch_norm: bool, BatchNorm layers of the neck and heads
            synchronise their statistics across `tf.distribute` replicas
            (TensorFlow only; pass it to the backbone too). Default `False`.
        dropout: float, spatial dropout before each classifier (official
            0.1); DeepLabV3's ASPP keeps its own 0.5. Default `0.1`.
    """

    def __init__(
        self,
        backbone: keras.Model,
        head: str,
        neck: str,
        num_classes: int,
        aux: bool = False,
        se_loss: bool = False,
        neck_width: int = 512,
        sync_batch_norm: bool = False,
        dropout: float = 0.1,
        **kwargs,
    ):
        if se_loss and head != "encnet":
            raise ValueError(
                f"se_loss is an EncNet output; head {head!r} has none. "
                "Use an encnet model or se_loss=False."
            )
        stride = getattr(backbone, "output_stride", 32)
        head_stride = stride if neck == "dilated" else 8

        # === Functional Model ===
        inputs = keras.Input(shape=backbone.input_shape[1:], name="images")
        features = backbone(inputs)
        with synchronized_batch_norm(sync_batch_norm):
            feat = _neck(neck, features, neck_width)
            head_layer = _head(
                head, neck, num_classes, se_loss, head_stride, dropout
            )
            head_out = head_layer(feat)
            aux_out = None
            if aux:
                aux_layer = FCNHead(
                    num_classes, dropout=dropout, name="auxlayer"
                )
                aux_out = aux_layer(features["stage4"])
        if se_loss:
            head_out, se_logits = head_out
        logits = ResizeLike(name="logits", dtype="float32")([head_out, inputs])
        outputs = {"logits": logits}
        if aux:
            outputs["aux_logits"] = ResizeLike(
                name="aux_logits", dtype="float32"
            )([aux_out, inputs])
        if se_loss:
            outputs["se_logits"] = keras.layers.Activation(
                "linear", dtype="float32", name="se_logits"
            )(se_logits)
        if len(outputs) == 1:
            outputs = logits
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.head = head
        self.neck = neck
        self.num_classes = num_classes
        self.aux = aux
        self.se_loss = se_loss
        self.neck_width = neck_width
        self.sync_batch_norm = sync_batch_norm
        self.dropout = dropout

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "head": self.head,
            "neck": self.neck,
            "num_classes": self.num_classes,
            "aux": self.aux,
            "se_loss": self.se_loss,
            "neck_width": self.neck_width,
            "sync_batch_norm": self.sync_batch_norm,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(
            config["backbone"]
        )
        return cls(**config)
