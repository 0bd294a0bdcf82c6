"""`serve_image_bytes`: segment a batch of encoded JPEG / PNG files.

Each image is decoded and segmented at its own size, exactly as if it were
sent alone to `serving_default`; the outputs are padded to the largest
image and `image_size` says where each one ends.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from keras_fastfcn.export.preprocessing import after

# Leading bytes of the formats `serve_image_bytes` accepts.
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG"
_PADDING_CLASS = -1


def decode_image(image_bytes, index):
    """Decode one JPEG / PNG string to uint8 `(height, width, 3)`; anything
    else fails with an `InvalidArgumentError` that names the batch index."""
    header = tf.strings.substr(image_bytes, 0, 4)
    is_jpeg = tf.strings.substr(header, 0, 3) == _JPEG_MAGIC
    is_png = tf.equal(header, _PNG_MAGIC)
    known_format = tf.debugging.Assert(
        tf.logical_or(is_jpeg, is_png),
        [
            tf.strings.format(
                "image_bytes[{}] is not a JPEG or PNG image (it starts "
                "with {}); send the encoded file's bytes, base64-encoded "
                'as {"b64": ...} in TF Serving JSON requests',
                (index, header),
            )
        ],
    )
    image_bytes = after([known_format], image_bytes)
    return tf.io.decode_image(
        image_bytes, channels=3, dtype=tf.uint8, expand_animations=False
    )


def _pad_to(tensor, size, value):
    """Pad `(h, w, ...)` at the bottom / right to `(size[0], size[1], ...)`
    with `value`."""
    shape = tf.shape(tensor)
    paddings = tf.concat(
        [
            tf.stack([[0, size[0] - shape[0]], [0, size[1] - shape[1]]]),
            tf.zeros([tf.rank(tensor) - 2, 2], tf.int32),
        ],
        axis=0,
    )
    return tf.pad(tensor, paddings, constant_values=value)


def segment_image_bytes(
    image_bytes,
    segment: Callable[[tf.Tensor], dict],
    with_probabilities: bool,
    num_classes: int | None = None,
) -> dict:
    """Segment each encoded image of `image_bytes` at its own size.

    Args:
        image_bytes: string `(batch,)` of encoded JPEG / PNG files.
        segment: uint8 `(1, height, width, 3)` -> `{"class_map": int32
            (1, height, width)}` (+ `"probabilities"` float32 `(1, height,
            width, classes)` if `with_probabilities`).
        with_probabilities: bool, whether `segment` returns probabilities.
        num_classes: int, only sets the static shape of `probabilities`.

    Returns:
        `class_map` int32 `(batch, max_height, max_width)` padded with -1,
        `image_size` int32 `(batch, 2)` and, if asked, `probabilities`
        padded with 0.
    """
    image_bytes = tf.ensure_shape(image_bytes, (None,), name="image_bytes")
    not_empty = tf.debugging.assert_positive(
        tf.size(image_bytes),
        message="image_bytes is an empty batch; send at least one image",
    )
    image_bytes = after([not_empty], image_bytes)
    count = tf.shape(image_bytes)[0]
    keys = ["class_map"] + (["probabilities"] if with_probabilities else [])
    dtypes = {"class_map": tf.int32, "probabilities": tf.float32}
    shapes = {
        "class_map": [None, None],
        "probabilities": [None, None, num_classes],
    }

    def run_one(i, sizes, arrays):
        image = decode_image(image_bytes[i], i)
        outputs = segment(image[None])
        arrays = tuple(
            array.write(i, outputs[key][0]) for key, array in zip(keys, arrays)
        )
        return i + 1, sizes.write(i, tf.shape(image)[:2]), arrays

    _, sizes, arrays = tf.while_loop(
        lambda i, *_: i < count,
        run_one,
        (
            tf.constant(0),
            tf.TensorArray(tf.int32, size=count, element_shape=[2]),
            tuple(_ragged_array(dtypes[key], count) for key in keys),
        ),
    )
    image_size = sizes.stack()
    max_size = tf.reduce_max(image_size, axis=0)

    def pad_one(i, arrays, padded):
        padded = tuple(
            out.write(i, _pad_to(array.read(i), max_size, _fill(key)))
            for key, array, out in zip(keys, arrays, padded)
        )
        return i + 1, arrays, padded

    _, _, padded = tf.while_loop(
        lambda i, *_: i < count,
        pad_one,
        (
            tf.constant(0),
            arrays,
            tuple(
                tf.TensorArray(
                    dtypes[key], size=count, element_shape=shapes[key]
                )
                for key in keys
            ),
        ),
    )
    results = {key: array.stack() for key, array in zip(keys, padded)}
    results["image_size"] = image_size
    return results


def _ragged_array(dtype, size):
    """A `TensorArray` whose elements may differ in shape."""
    return tf.TensorArray(
        dtype, size=size, infer_shape=False, element_shape=tf.TensorShape(None)
    )


def _fill(key: str):
    return _PADDING_CLASS if key == "class_map" else 0.0
