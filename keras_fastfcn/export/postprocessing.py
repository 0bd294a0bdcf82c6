"""In-graph postprocessing: logits back to the input size, class maps."""

from __future__ import annotations

import tensorflow as tf


def restore_logits(logits, resized_size, original_size):
    """Crop the padding off `logits` and resize them to the input size.

    Args:
        logits: float `(batch, padded_height, padded_width, classes)`.
        resized_size: int32 `(2,)`, the model input size before padding.
        original_size: int32 `(2,)`, the input image size.

    Returns:
        float32 `(batch, height, width, classes)` (bilinear, half-pixel
        centres: the inverse of the image resize).
    """
    logits = tf.cast(logits, tf.float32)
    logits = logits[:, : resized_size[0], : resized_size[1], :]
    return tf.image.resize(logits, original_size, method="bilinear")


def segmentation_outputs(logits, with_probabilities: bool) -> dict:
    """`{"class_map": int32 (batch, height, width)}` and, if asked,
    `"probabilities": float32 (batch, height, width, classes)` (softmax)."""
    outputs = {"class_map": tf.argmax(logits, axis=-1, output_type=tf.int32)}
    if with_probabilities:
        outputs["probabilities"] = tf.nn.softmax(logits, axis=-1)
    return outputs
