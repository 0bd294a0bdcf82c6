"""In-graph preprocessing: resize policy, padding, ImageNet normalisation.

Everything here is plain TensorFlow so that it runs inside exported
SavedModels (TF Serving) with unknown image sizes, and eagerly in
`keras_fastfcn.cli.predict` with any Keras backend.
"""

from __future__ import annotations

import dataclasses
import re

import tensorflow as tf

from keras_fastfcn.data import normalize

RESIZE_MODES = ("none", "long_side", "fixed")


@dataclasses.dataclass(frozen=True)
class ResizePolicy:
    """How images are resized before the model sees them.

    The model runs at the resized size, padded at the bottom / right to a
    multiple of `pad_multiple`; its logits are cropped and resized back to
    the input size, so outputs always match the input image.

    Args:
        mode: `"none"` (keep the input size), `"long_side"` (scale so that
            the longer side is `size[0]`, keeping the aspect ratio) or
            `"fixed"` (resize to `size` = `(height, width)`, ignoring the
            aspect ratio). Default `"none"`.
        size: `(long_side,)` for `"long_side"`, `(height, width)` for
            `"fixed"`, `()` for `"none"`.
        pad_multiple: int, pad height and width up to a multiple of this
            (32 aligns the stride-32 features). Default `32`.
    """

    mode: str = "none"
    size: tuple[int, ...] = ()
    pad_multiple: int = 32

    def __post_init__(self):
        expected = {"none": 0, "long_side": 1, "fixed": 2}
        if self.mode not in expected:
            raise ValueError(
                f"Unknown resize mode {self.mode!r}; expected one of "
                f"{RESIZE_MODES}."
            )
        size = tuple(self.size)
        if len(size) != expected[self.mode] or any(
            not isinstance(s, int) or s < 1 for s in size
        ):
            raise ValueError(
                f"Resize mode {self.mode!r} takes {expected[self.mode]} "
                f"positive int size(s), got size={self.size!r}."
            )
        if not isinstance(self.pad_multiple, int) or self.pad_multiple < 1:
            raise ValueError(
                f"pad_multiple must be a positive int, got "
                f"{self.pad_multiple!r}."
            )
        object.__setattr__(self, "size", size)

    @classmethod
    def from_string(cls, text: str | None, pad_multiple: int = 32):
        """Parse a command-line size: `None`/`"none"` (keep the size),
        `"512"` (long side 512) or `"360x480"` (fixed height x width)."""
        if text is None or text.strip().lower() == "none":
            return cls("none", (), pad_multiple)
        text = text.strip().lower()
        if re.fullmatch(r"\d+", text):
            return cls("long_side", (int(text),), pad_multiple)
        if re.fullmatch(r"\d+x\d+", text):
            height, width = (int(v) for v in text.split("x"))
            return cls("fixed", (height, width), pad_multiple)
        raise ValueError(
            f"Cannot parse image size {text!r}: use 'none', a long-side "
            "length such as '512', or 'HEIGHTxWIDTH' such as '360x480'."
        )

    def target_size(self, height, width):
        """Model input size `(height, width)` (int32 scalars) before padding
        for an image of `height` x `width` pixels."""
        if self.mode == "fixed":
            return tf.constant(self.size[0]), tf.constant(self.size[1])
        if self.mode == "long_side":
            h = tf.cast(height, tf.float64)
            w = tf.cast(width, tf.float64)
            scale = self.size[0] / tf.maximum(h, w)
            new_h = tf.maximum(tf.cast(tf.round(h * scale), tf.int32), 1)
            new_w = tf.maximum(tf.cast(tf.round(w * scale), tf.int32), 1)
            return new_h, new_w
        return tf.cast(height, tf.int32), tf.cast(width, tf.int32)


def parse_input_size(text: str) -> tuple[int, int]:
    """Parse `"HEIGHTxWIDTH"` (e.g. `"512x512"`) into `(height, width)`."""
    match = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", str(text).lower())
    if not match or min(int(match[1]), int(match[2])) < 1:
        raise ValueError(
            f"Cannot parse input size {text!r}: use HEIGHTxWIDTH with "
            "positive integers, e.g. '512x512'."
        )
    return int(match[1]), int(match[2])


def check_image_batch(images, name: str = "images"):
    """Check at run time that `images` is a non-empty `(batch, height,
    width, 3)` batch; returns it, or raises `InvalidArgumentError` naming
    the problem.

    Serving signatures declare this shape, but TF Serving and loaded
    signatures do not enforce it, so it is checked in the graph.
    """
    images = tf.ensure_shape(images, (None, None, None, 3), name=name)
    shape = tf.shape(images)
    checks = [
        tf.debugging.assert_positive(
            shape[0],
            message=f"{name} is an empty batch; send at least one image",
        ),
        tf.debugging.assert_positive(
            tf.minimum(shape[1], shape[2]),
            message=f"{name} has zero height or width; send non-empty images",
        ),
    ]
    return after(checks, images)


def after(checks: list, tensor):
    """`tensor`, computed only once the assertion ops `checks` passed (in
    eager mode they already ran)."""
    if tf.executing_eagerly():
        return tensor
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


@dataclasses.dataclass
class PreparedImages:
    """Model inputs and what is needed to map logits back to the images.

    Attributes:
        images: float32 `(batch, padded_height, padded_width, 3)`.
        resized_size: int32 `(2,)`, the size before padding.
        original_size: int32 `(2,)`, the input image size.
    """

    images: tf.Tensor
    resized_size: tf.Tensor
    original_size: tf.Tensor


def prepare_images(images, policy: ResizePolicy) -> PreparedImages:
    """Resize (policy), pad and normalise a uint8 batch for the model.

    Args:
        images: uint8 `(batch, height, width, 3)` RGB.
        policy: the `ResizePolicy`.

    Returns:
        A `PreparedImages`. The padding is black, as in the official
        FastFCN evaluation (`keras_fastfcn.inference.OFFICIAL_PAD_VALUE`).
    """
    images = check_image_batch(images)
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    new_h, new_w = policy.target_size(height, width)
    pixels = tf.cast(images, tf.float32)
    if policy.mode != "none":
        pixels = tf.image.resize(
            pixels, tf.stack([new_h, new_w]), antialias=True
        )
    return PreparedImages(
        images=normalize(pad_to_multiple(pixels, policy.pad_multiple)),
        resized_size=tf.stack([new_h, new_w]),
        original_size=tf.stack([height, width]),
    )


def pad_to_multiple(images, multiple: int):
    """Zero-pad `(batch, height, width, channels)` at the bottom and right
    so that height and width are multiples of `multiple`."""
    if multiple == 1:
        return images
    shape = tf.shape(images)
    pad_h = (-shape[1]) % multiple
    pad_w = (-shape[2]) % multiple
    return tf.pad(images, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
