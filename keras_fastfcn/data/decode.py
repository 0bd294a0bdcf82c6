"""Reading images and labels inside tf.data, with checks naming the file.

Images become uint8 ``(height, width, 3)`` RGB (grayscale expanded, alpha
dropped). Labels become int32 ``(height, width)`` train ids through the
dataset's lookup table. Every check is an in-graph assertion whose message
names the file; `keras_fastfcn.data.validation.validate_dataset` is the
slower pre-check that reports every bad file at once.
"""

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from keras_fastfcn.data.labels import INVALID_LABEL
from keras_fastfcn.data.labels import LUT_SIZE
from keras_fastfcn.data.spec import DatasetSpec

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PNG_END = b"IEND"
_JPEG_END = b"\xff\xd9"
END_MARKER_WINDOW = 1024
"""Bytes at the end of a PNG/JPEG searched for its end marker."""

_FIX_HINT = " (fastfcn validate-data lists every bad file of a dataset)"


def _message(*parts) -> tf.Tensor:
    """Joins Python strings and tensors into one string tensor."""
    strings = []
    for part in parts:
        if isinstance(part, str):
            strings.append(part)
        elif part.dtype == tf.string:
            strings.append(part)
        else:
            strings.append(tf.strings.as_string(part))
    return tf.strings.join(strings)


def _checked(tensor: tf.Tensor, condition: tf.Tensor, *message) -> tf.Tensor:
    """Returns ``tensor`` after asserting ``condition`` (graph and eager)."""
    check = tf.debugging.Assert(condition, [_message(*message)], summarize=1)
    dependencies = [check] if check is not None else []
    with tf.control_dependencies(dependencies):
        return tf.identity(tensor)


def _head(contents: tf.Tensor, size: int = 32) -> tf.Tensor:
    """First ``size`` bytes, zero-padded when the file is shorter."""
    head = tf.strings.substr(contents, 0, size)
    return tf.strings.substr(tf.strings.join([head, b"\0" * size]), 0, size)


def _starts_with(head: tf.Tensor, signature: bytes) -> tf.Tensor:
    return tf.equal(tf.strings.substr(head, 0, len(signature)), signature)


def _has_marker_near_end(contents: tf.Tensor, marker: bytes) -> tf.Tensor:
    """Whether ``marker`` occurs in the last `END_MARKER_WINDOW` bytes."""
    length = tf.strings.length(contents)
    start = tf.maximum(length - END_MARKER_WINDOW, 0)
    tail = tf.io.decode_raw(
        tf.strings.substr(contents, start, END_MARKER_WINDOW), tf.uint8
    )
    tail = tf.concat([tf.zeros([len(marker)], tf.uint8), tail], axis=0)
    count = tf.shape(tail)[0] - len(marker) + 1
    found = tf.ones([count], tf.bool)
    for offset, byte in enumerate(marker):
        found &= tf.equal(tail[offset : offset + count], byte)
    return tf.reduce_any(found)


def _is_known_format(head: tf.Tensor) -> tf.Tensor:
    is_webp = _starts_with(head, b"RIFF") & tf.equal(
        tf.strings.substr(head, 8, 4), b"WEBP"
    )
    return (
        _starts_with(head, _PNG_SIGNATURE)
        | _starts_with(head, _JPEG_SIGNATURE)
        | _starts_with(head, b"GIF8")
        | _starts_with(head, b"BM")
        | is_webp
    )


def _check_encoded(
    contents: tf.Tensor, path: tf.Tensor, kind: str
) -> tf.Tensor:
    """Asserts a known image format that is not cut off; returns contents."""
    head = _head(contents)
    contents = _checked(
        contents,
        _is_known_format(head),
        f"{kind} file ",
        path,
        " is not a PNG/JPEG/BMP/GIF/WebP image (empty or corrupt?); "
        "replace or remove it" + _FIX_HINT,
    )
    is_png = _starts_with(head, _PNG_SIGNATURE)
    is_jpeg = _starts_with(head, _JPEG_SIGNATURE)
    complete = tf.logical_and(
        tf.logical_or(~is_png, _has_marker_near_end(contents, _PNG_END)),
        tf.logical_or(~is_jpeg, _has_marker_near_end(contents, _JPEG_END)),
    )
    return _checked(
        contents,
        complete,
        f"{kind} file ",
        path,
        f" is truncated: no PNG/JPEG end marker in its last "
        f"{END_MARKER_WINDOW} bytes; re-download or re-save it" + _FIX_HINT,
    )


def decode_image(contents: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
    """Decodes an encoded image to RGB.

    Args:
        contents: Scalar string, the file bytes.
        path: Scalar string, the file name used in error messages.

    Returns:
        uint8 tensor ``(height, width, 3)``.
    """
    contents = _check_encoded(contents, path, "image")
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def _colors_to_raw(rgb: tf.Tensor, color_codes: np.ndarray) -> tf.Tensor:
    """int32 ``(height, width, 3)`` colours -> raw values (-1 if unknown)."""
    codes = color_codes.astype(np.int64)
    keys = codes[:, 0] * 65536 + codes[:, 1] * 256 + codes[:, 2]
    order = np.argsort(keys, kind="stable")
    sorted_keys = tf.constant(keys[order].astype(np.int32))
    values = tf.constant(order.astype(np.int32))
    query = rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]
    flat = tf.reshape(query, [-1])
    position = tf.searchsorted(sorted_keys, flat, out_type=tf.int32)
    position = tf.minimum(position, len(keys) - 1)
    found = tf.equal(tf.gather(sorted_keys, position), flat)
    raw = tf.where(found, tf.gather(values, position), -1)
    return tf.reshape(raw, tf.shape(query))


def decode_label_values(
    contents: tf.Tensor,
    path: tf.Tensor,
    color_codes: np.ndarray | None = None,
) -> tf.Tensor:
    """Decodes a label file to its raw values.

    8-bit files are read as uint8; 16-bit PNGs as uint16 (values of 256 or
    more are caught by `map_label_values`). Colour labels (3 channels,
    including palette PNGs, which TensorFlow expands to RGB) are converted
    with ``color_codes`` when given, and rejected otherwise.

    Args:
        contents: Scalar string, the file bytes.
        path: Scalar string, the file name used in error messages.
        color_codes: Optional ``(num_values, 3)`` colour of each raw value.

    Returns:
        int32 tensor ``(height, width)``; -1 marks unknown colours.
    """
    contents = _check_encoded(contents, path, "label")
    head = _head(contents)
    contents = _checked(
        contents,
        ~_starts_with(head, _JPEG_SIGNATURE),
        "label file ",
        path,
        " is a JPEG: lossy compression changes class indices; save labels "
        "as PNG",
    )
    bit_depth = tf.io.decode_raw(tf.strings.substr(head, 24, 1), tf.uint8)[0]
    is_16_bit = _starts_with(head, _PNG_SIGNATURE) & tf.equal(bit_depth, 16)
    raw = tf.cond(
        is_16_bit,
        lambda: tf.cast(tf.io.decode_png(contents, dtype=tf.uint16), tf.int32),
        lambda: tf.cast(
            tf.io.decode_image(contents, expand_animations=False), tf.int32
        ),
    )
    raw.set_shape([None, None, None])
    channels = tf.shape(raw)[2]
    if color_codes is None:
        raw = _checked(
            raw,
            tf.equal(channels, 1),
            "label file ",
            path,
            " has ",
            channels,
            " channels; labels must be single-channel PNGs of class "
            "indices (this dataset has no colour table for RGB or palette "
            "labels; convert them to grayscale class indices)",
        )
        return raw[..., 0]
    raw = _checked(
        raw,
        tf.equal(channels, 1) | tf.equal(channels, 3),
        "label file ",
        path,
        " has ",
        channels,
        " channels; expected class indices (1 channel) or the dataset's "
        "label colours (3 channels)",
    )
    return tf.cond(
        tf.equal(channels, 3),
        lambda: _colors_to_raw(raw, color_codes),
        lambda: raw[..., 0],
    )


def map_label_values(
    raw: tf.Tensor, path: tf.Tensor, spec: DatasetSpec
) -> tf.Tensor:
    """Maps raw label values to train ids, asserting every value is known.

    Args:
        raw: int32 ``(height, width)`` raw values.
        path: Scalar string, the label file name used in error messages.
        spec: Dataset whose lookup table, classes and ignore label apply.

    Returns:
        int32 ``(height, width)`` train ids or ``spec.ignore_label``.
    """
    lut = tf.constant(spec.label_lut, tf.int32)
    inside = (raw >= 0) & (raw < LUT_SIZE)
    looked_up = tf.gather(lut, tf.clip_by_value(raw, 0, LUT_SIZE - 1))
    mapped = tf.where(inside, looked_up, INVALID_LABEL)
    valid = (mapped >= 0) & (mapped < spec.num_classes)
    valid |= tf.equal(mapped, spec.ignore_label)
    bad_count = tf.reduce_sum(tf.cast(~valid, tf.int32))
    largest_bad = tf.reduce_max(tf.where(valid, tf.int32.min, raw))
    return _checked(
        mapped,
        tf.equal(bad_count, 0),
        "label file ",
        path,
        ": ",
        bad_count,
        f" pixels have raw values that dataset '{spec.name}' does not "
        "define (largest: ",
        largest_bad,
        f"; -1 = colour not in the colour table); valid raw values: "
        f"{spec.valid_raw_values}. Fix the labels, or use the dataset / "
        "num_classes / ignore_label that matches them" + _FIX_HINT,
    )


def make_example_decoder(
    spec: DatasetSpec,
) -> Callable[..., tuple[tf.Tensor, tf.Tensor]]:
    """Returns ``decode(image_bytes, label_bytes, image_name, label_name)``.

    The encoded bytes become a uint8 ``(height, width, 3)`` image and int32
    ``(height, width)`` train ids; sizes must match (asserted). The names
    only appear in error messages (file paths, or the file names stored in
    a TFRecord).
    """
    color_codes = spec.label_color_codes

    def decode(image_bytes, label_bytes, image_name, label_name):
        image = decode_image(image_bytes, image_name)
        raw = decode_label_values(label_bytes, label_name, color_codes)
        label = map_label_values(raw, label_name, spec)
        return image, check_same_size(image, label, image_name, label_name)

    return decode


def check_same_size(
    image: tf.Tensor,
    label: tf.Tensor,
    image_name: tf.Tensor,
    label_name: tf.Tensor,
) -> tf.Tensor:
    """Returns ``label`` (``(height, width)``) after asserting that it has
    the size of ``image`` (``(height, width, 3)``); the names appear in the
    message."""
    image_size = tf.shape(image)[:2]
    label_size = tf.shape(label)
    return _checked(
        label,
        tf.reduce_all(tf.equal(image_size, label_size)),
        "image ",
        image_name,
        " is ",
        image_size[0],
        "x",
        image_size[1],
        " (HxW) but its label ",
        label_name,
        " is ",
        label_size[0],
        "x",
        label_size[1],
        "; an image and its label must have the same size",
    )


def make_example_loader(
    spec: DatasetSpec,
) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """Returns ``load(image_path, label_path) -> (image, label)`` for tf.data.

    The image is uint8 ``(height, width, 3)`` and the label int32
    ``(height, width)`` train ids; sizes must match (asserted).
    """
    decode = make_example_decoder(spec)

    def load(image_path: tf.Tensor, label_path: tf.Tensor):
        return decode(
            tf.io.read_file(image_path),
            tf.io.read_file(label_path),
            image_path,
            label_path,
        )

    return load


def load_example(spec: DatasetSpec, index: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Eagerly loads example ``index`` of ``spec`` (for tests and tools)."""
    image_path, label_path = spec.pairs[index]
    return make_example_loader(spec)(
        tf.constant(image_path), tf.constant(label_path)
    )
