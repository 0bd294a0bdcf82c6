"""`SegmentationModel`: backbone -> neck -> head (+ auxiliary head)."""

from __future__ import annotations

from typing import Sequence

import keras

from keras_fastfcn.heads.fcn_head import FCNHead
from keras_fastfcn.heads.registry import HEADS
from keras_fastfcn.heads.registry import get_head
from keras_fastfcn.layers.class_bias import ClassBias
from keras_fastfcn.layers.common import synchronized_batch_norm
from keras_fastfcn.layers.detail_decoder import DetailDecoder
from keras_fastfcn.layers.resize import ResizeLike
from keras_fastfcn.necks.registry import get_neck
from keras_fastfcn.utils.serialization import serializable


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
        head: a name in `heads.registry.HEADS` (`"fcn"`, `"psp"`,
            `"deeplabv3"`, `"encnet"`).
        neck: a name in `necks.registry.NECKS` (`"dilated"`, `"jpu"`,
            `"jpux"`, `"bilinear"`, `"fpn"`).
        num_classes: int, number of classes.
        aux: bool, add the FCN auxiliary head on stage 4. Default `False`.
        se_loss: bool, add class-presence logits (heads whose spec has
            `se_output`, i.e. EncNet). Default `False`.
        neck_width: int, channels of each JPU / FPN branch. Default `512`.
        sync_batch_norm: bool, BatchNorm layers of the neck and heads
            synchronise their statistics across `tf.distribute` replicas
            (TensorFlow only; pass it to the backbone too). Default `False`.
        dropout: float, spatial dropout before each classifier (official
            0.1); DeepLabV3's ASPP keeps its own 0.5. Default `0.1`.
        decoder_width: int, `0` (the paper): the head's stride-8 logits are
            upsampled to the input. `> 0`: a `DetailDecoder` of this width
            first refines them at stride 4 with the backbone's `"stage2"`
            features (not in the paper; draws thin classes such as poles
            that a stride-8 map cannot). Default `0`.
        logit_bias: optional list of one float per class added to the
            main logits (`ClassBias`; set after training by `fastfcn
            calibrate`, not trained). Default `None`: none.
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
        decoder_width: int = 0,
        logit_bias: Sequence[float] | None = None,
        **kwargs,
    ):
        head_spec, neck_spec = get_head(head), get_neck(neck)
        if decoder_width < 0:
            raise ValueError(
                f"decoder_width must be 0 (no decoder) or positive, got "
                f"{decoder_width}."
            )
        if se_loss and not head_spec.se_output:
            with_se = [h for h, spec in HEADS.items() if spec.se_output]
            raise ValueError(
                f"se_loss is a class-presence output that head {head!r} "
                f"does not have (heads with one: {with_se}). Use "
                "se_loss=False, or leave it unset to follow the head."
            )
        stride = getattr(backbone, "output_stride", 32)
        head_stride = stride if neck_spec.dilated_backbone else 8

        # === Functional Model ===
        inputs = keras.Input(shape=backbone.input_shape[1:], name="images")
        features = backbone(inputs)
        if decoder_width and "stage2" not in features:
            raise ValueError(
                f"decoder_width={decoder_width} needs the backbone's stride-4 "
                f"'stage2' features; {backbone.name!r} gives only "
                f"{sorted(features)}. Use decoder_width=0 with it."
            )
        with synchronized_batch_norm(sync_batch_norm):
            feat = neck_spec.apply(features, neck_width)
            head_layer = head_spec.build(
                num_classes, neck_spec, head_stride, dropout, se_loss
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
        if decoder_width:
            head_out = DetailDecoder(
                num_classes, decoder_width, dropout=dropout, name="decoder"
            )([head_out, features["stage2"]])
        if logit_bias is not None:
            if len(logit_bias) != num_classes:
                raise ValueError(
                    f"logit_bias holds {len(logit_bias)} values for "
                    f"{num_classes} classes; pass one per class (or None)."
                )
            head_out = ClassBias(logit_bias, name="logit_bias")(head_out)
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
        self.decoder_width = decoder_width
        self.logit_bias = (
            None if logit_bias is None else [float(v) for v in logit_bias]
        )

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
            "decoder_width": self.decoder_width,
            "logit_bias": self.logit_bias,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(
            config["backbone"]
        )
        return cls(**config)
