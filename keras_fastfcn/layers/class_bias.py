"""A fixed per-class offset on class logits (post-hoc calibration)."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from keras_fastfcn.utils.serialization import serializable


@serializable
class ClassBias(keras.layers.Layer):
    """Add a constant `bias[c]` to the logits of each class `c`.

    A model trained with class weights (ENet, median frequency) or OHEM
    over-predicts the rare classes; adding a per-class offset to its
    logits moves every decision boundary without retraining ("logit
    adjustment", Menon et al., 2021). `keras_fastfcn.calibration` fits the
    offsets on training images. The offsets are constants in the config,
    not weights: adding the layer leaves a model's weight file unchanged.

    Input `(..., num_classes)`; output the same shape and dtype.

    Args:
        bias: one float per class.

    Example:
    >>> layer = keras_fastfcn.layers.ClassBias([0.0, 1.0])
    >>> layer(np.zeros((1, 2, 2, 2))).numpy()[0, 0, 0]
    array([0., 1.], dtype=float32)
    """

    def __init__(self, bias: Sequence[float], **kwargs):
        super().__init__(**kwargs)
        self.bias = [float(value) for value in bias]
        if not self.bias:
            raise ValueError("ClassBias needs one bias per class, got none.")

    def build(self, input_shape):
        classes = input_shape[-1]
        if classes is not None and classes != len(self.bias):
            raise ValueError(
                f"ClassBias holds {len(self.bias)} biases but its input has "
                f"{classes} classes; pass one bias per class."
            )

    def call(self, logits):
        return logits + ops.convert_to_tensor(self.bias, dtype=logits.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(bias=list(self.bias))
        return config
