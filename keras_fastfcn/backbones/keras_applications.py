"""Use Keras ecosystem models (keras.applications, keras-hub) as backbones.

They feed every non-dilated model (`*_jpu`, `*_jpux`, `*_bilinear`,
`*_fpn`) with their stride-8/16/32 features, so ImageNet weights from the
Keras ecosystem can be used.
"""

from __future__ import annotations

import re

import keras
from keras import ops

from keras_fastfcn.constants import IMAGENET_MEAN
from keras_fastfcn.constants import IMAGENET_STD
from keras_fastfcn.utils.serialization import serializable

CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)

KERAS_APPLICATION_RESNETS = {
    "keras_resnet50": "ResNet50",
    "keras_resnet101": "ResNet101",
    "keras_resnet152": "ResNet152",
}


@serializable
class ImageNetToCaffe(keras.layers.Layer):
    """Convert ImageNet-normalised RGB to the "caffe" input of Keras ResNets.

    Input and output `(batch, height, width, 3)`: `(x * std + mean) * 255`,
    RGB -> BGR, minus the caffe BGR mean, which is what
    `keras.applications.resnet.preprocess_input` produces from raw pixels.
    """

    def call(self, x):
        mean = ops.convert_to_tensor(IMAGENET_MEAN, dtype=x.dtype)
        std = ops.convert_to_tensor(IMAGENET_STD, dtype=x.dtype)
        pixels = (x * std + mean) * 255.0
        bgr = ops.flip(pixels, axis=-1)
        return bgr - ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype=x.dtype)


def _last_block_output(model: keras.Model, stage: int) -> keras.KerasTensor:
    pattern = re.compile(rf"conv{stage}_block(\d+)_out$")
    blocks = [
        (int(m.group(1)), layer)
        for layer in model.layers
        if (m := pattern.match(layer.name))
    ]
    if not blocks:
        raise ValueError(
            f"Model {model.name!r} has no layer named 'conv{stage}_block*_out';"
            " expected a keras.applications ResNet."
        )
    return max(blocks, key=lambda item: item[0])[1].output


def features_from_model(model: keras.Model) -> keras.Model:
    """Wrap an existing Keras model as a `{"stage3", "stage4", "stage5"}`
    feature extractor (with the stride-4 `"stage2"` when the model has it,
    for `decoder_width`).

    Accepts a `keras.applications` ResNet (layers `conv{3,4,5}_block*_out`;
    ImageNet-normalised RGB is converted to its caffe input) or any model
    with keras-hub style `pyramid_outputs` holding `P3`, `P4`, `P5` (which
    receives the input unchanged).

    Args:
        model: a `keras.Model`.

    Returns:
        A `keras.Model` mapping `(batch, height, width, 3)` images to a dict
        of stride-8/16/32 feature maps.
    """
    pyramid = getattr(model, "pyramid_outputs", None)
    if pyramid:
        missing = [k for k in ("P3", "P4", "P5") if k not in pyramid]
        if missing:
            raise ValueError(
                f"Backbone {model.name!r} pyramid_outputs lacks {missing}; "
                "the JPU needs P3, P4 and P5 (strides 8, 16, 32)."
            )
        outputs = {f"stage{k}": pyramid[f"P{k}"] for k in (3, 4, 5)}
        if "P2" in pyramid:
            outputs["stage2"] = pyramid["P2"]
        return keras.Model(model.inputs, outputs, name=f"{model.name}_features")
    outputs = {f"stage{k}": _last_block_output(model, k) for k in (2, 3, 4, 5)}
    extractor = keras.Model(model.inputs, outputs, name=f"{model.name}_stages")
    inputs = keras.Input(shape=model.input_shape[1:], name="images")
    features = extractor(ImageNetToCaffe(name="to_caffe")(inputs))
    return keras.Model(inputs, features, name=f"{model.name}_features")


def keras_application_backbone(
    name: str,
    weights: str | None = None,
    input_shape=(None, None, 3),
) -> keras.Model:
    """Build a `keras.applications` ResNet as a feature backbone.

    Args:
        name: `"keras_resnet50"`, `"keras_resnet101"` or `"keras_resnet152"`.
        weights: `None` (random), `"imagenet"` (downloaded by Keras) or the
            path of a weights file for the application without top.
        input_shape: tuple, default `(None, None, 3)`.
    """
    if name not in KERAS_APPLICATION_RESNETS:
        raise ValueError(
            f"Unknown Keras application backbone {name!r}; expected one of "
            f"{sorted(KERAS_APPLICATION_RESNETS)}."
        )
    constructor = getattr(keras.applications, KERAS_APPLICATION_RESNETS[name])
    model = constructor(
        include_top=False, weights=weights, input_shape=tuple(input_shape)
    )
    return features_from_model(model)
