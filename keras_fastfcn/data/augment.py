"""Joint image/label transforms of the official FastFCN recipe.

All randomness uses stateless ops keyed by a ``seed`` tensor of shape
``(2,)``, so a transform is a pure function of its inputs and seed. Images
enter as uint8 ``(height, width, 3)`` and leave as float32 ImageNet-normalised
``(height, width, 3)``; labels are int32 ``(height, width)`` and are only
resized with nearest neighbour, flipped, cropped or padded with the ignore
label, so they never take a value they did not have.
"""

import tensorflow as tf

from keras_fastfcn.constants import IMAGENET_MEAN
from keras_fastfcn.constants import IMAGENET_STD

BLUR_KERNEL_RADIUS = 3
"""Taps each side of the Gaussian blur kernel (covers sigma < 1 well)."""


def _mean_pixel() -> tf.Tensor:
    """The ImageNet mean colour on the 0..255 scale, shape ``(3,)``."""
    return tf.constant(IMAGENET_MEAN, tf.float32) * 255.0


def _random_int(seed: tf.Tensor, low, high) -> tf.Tensor:
    """Uniform integer in ``[low, high]`` (both inclusive)."""
    return tf.random.stateless_uniform(
        [], seed, minval=low, maxval=high + 1, dtype=tf.int32
    )


def _size(image: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    shape = tf.shape(image)
    return shape[0], shape[1]


def normalize(image: tf.Tensor) -> tf.Tensor:
    """``(x / 255 - mean) / std`` with the ImageNet statistics.

    Args:
        image: ``(height, width, 3)`` or batched, 0..255 values, any dtype.

    Returns:
        float32 tensor of the same shape.
    """
    image = tf.cast(image, tf.float32) / 255.0
    mean = tf.constant(IMAGENET_MEAN, tf.float32)
    return (image - mean) / tf.constant(IMAGENET_STD, tf.float32)


def short_side_size(
    height: tf.Tensor, width: tf.Tensor, short: tf.Tensor, long_is_width
) -> tuple[tf.Tensor, tf.Tensor]:
    """Output size with the short side ``short`` (long side truncated).

    Mirrors the official ``int(1.0 * long * short / short_in)``;
    ``long_is_width`` says which branch applies (the train and val
    transforms of the official code break ties differently).
    """
    h = tf.cast(height, tf.float64)
    w = tf.cast(width, tf.float64)
    s = tf.cast(short, tf.float64)
    out_h = tf.where(long_is_width, s, tf.floor(h * s / w))
    out_w = tf.where(long_is_width, tf.floor(w * s / h), s)
    return tf.cast(out_h, tf.int32), tf.cast(out_w, tf.int32)


def _nearest_indices(start, count, in_size, out_size) -> tf.Tensor:
    """Source rows of output rows ``start .. start + count - 1`` when
    resizing ``in_size`` -> ``out_size`` with half-pixel nearest neighbour
    (exactly as ``tf.image.resize(method="nearest")``)."""
    scale = tf.cast(in_size, tf.float32) / tf.cast(out_size, tf.float32)
    rows = tf.cast(tf.range(start, start + count), tf.float32)
    source = tf.cast(tf.floor((rows + 0.5) * scale), tf.int32)
    return tf.minimum(source, in_size - 1)


def resized_window(
    image: tf.Tensor,
    label: tf.Tensor,
    out_height: tf.Tensor,
    out_width: tf.Tensor,
    top: tf.Tensor,
    left: tf.Tensor,
    size: int,
    ignore_label: int,
) -> tuple[tf.Tensor, tf.Tensor]:
    """A ``size`` x ``size`` window of the resized, padded image and label.

    Equivalent to resizing to ``(out_height, out_width)`` (image bilinear
    with PIL-like antialiasing, label nearest), padding right/bottom to at
    least ``size`` (see `pad_to_size`) and cropping at ``(top, left)``, but
    only the window's pixels are computed.

    Args:
        image: ``(height, width, 3)`` image.
        label: int32 ``(height, width)`` label.
        out_height: Height of the (virtual) resized image.
        out_width: Width of the (virtual) resized image.
        top: Window row in the resized, padded image, at most
            ``max(out_height, size) - size``.
        left: Window column, at most ``max(out_width, size) - size``.
        size: Window height and width.
        ignore_label: Label padding value.

    Returns:
        float32 image ``(size, size, 3)`` on the 0..255 scale and int32
        label ``(size, size)``.
    """
    height, width = _size(label)
    rows = tf.minimum(size, out_height - top)
    cols = tf.minimum(size, out_width - left)
    out_size = tf.cast(tf.stack([out_height, out_width]), tf.float32)
    in_size = tf.cast(tf.stack([height, width]), tf.float32)
    image = tf.raw_ops.ScaleAndTranslate(
        images=tf.cast(image, tf.float32)[None],
        size=tf.stack([rows, cols]),
        scale=out_size / in_size,
        translation=-tf.cast(tf.stack([top, left]), tf.float32),
        kernel_type="triangle",
        antialias=True,
    )[0]
    label = tf.gather(label, _nearest_indices(top, rows, height, out_height))
    label = tf.gather(
        label, _nearest_indices(left, cols, width, out_width), axis=1
    )
    return pad_to_size(image, label, size, ignore_label)


def random_flip(
    image: tf.Tensor, label: tf.Tensor, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Flips image and label left-right together with probability 0.5."""
    image = tf.convert_to_tensor(image)
    label = tf.convert_to_tensor(label)
    flip = tf.random.stateless_uniform([], seed) < 0.5
    image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
    label = tf.cond(flip, lambda: tf.reverse(label, [1]), lambda: label)
    return image, label


def copy_paste(
    image: tf.Tensor,
    label: tf.Tensor,
    donor_image: tf.Tensor,
    donor_label: tf.Tensor,
    seed: tf.Tensor,
    class_ids,
    probability: float = 0.5,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Pastes the pixels of chosen classes from a donor example.

    With probability ``probability`` every donor pixel whose label is in
    ``class_ids`` replaces the same pixel of ``image`` and ``label``; the
    donor is first resized to the target size (bilinear image, nearest
    label) and mirrored left-right with probability 0.5. Meant for thin,
    rare classes (CamVid's poles and signs) that the model otherwise sees
    against too few backgrounds; pasting at the donor's own position keeps
    the street-scene geometry (poles stand at the kerb, not in the sky).

    Args:
        image: uint8 ``(height, width, 3)`` target image.
        label: int32 ``(height, width)`` target label.
        donor_image: uint8 ``(donor_height, donor_width, 3)``.
        donor_label: int32 ``(donor_height, donor_width)``.
        seed: ``(2,)`` stateless seed.
        class_ids: the train ids to paste (a non-empty sequence of ints).
        probability: chance of pasting at all.

    Returns:
        ``(image, label)`` with the dtypes and shape of the target.
    """
    class_ids = tf.constant(list(class_ids), tf.int32)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    image = tf.convert_to_tensor(image)
    label = tf.convert_to_tensor(label)
    height, width = _size(label)
    donor_label = tf.convert_to_tensor(donor_label)
    donor_image = tf.image.resize(
        donor_image, [height, width], method="bilinear"
    )
    donor_image = tf.cast(tf.round(donor_image), image.dtype)
    donor_label = tf.image.resize(
        donor_label[..., None], [height, width], method="nearest"
    )[..., 0]
    donor_image, donor_label = random_flip(donor_image, donor_label, seeds[0])
    paste = tf.reduce_any(
        tf.equal(donor_label[..., None], class_ids), axis=-1
    ) & (tf.random.stateless_uniform([], seeds[1]) < probability)
    image = tf.where(paste[..., None], donor_image, image)
    label = tf.where(paste, tf.cast(donor_label, label.dtype), label)
    return image, label


def pad_to_size(
    image: tf.Tensor, label: tf.Tensor, size: int, ignore_label: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """Pads right/bottom to at least ``size`` x ``size``.

    The image is padded with the ImageNet mean colour (0 after
    `normalize`), the label with ``ignore_label``.

    Args:
        image: float32 ``(height, width, 3)`` on the 0..255 scale.
        label: int32 ``(height, width)``.
        size: Minimum output height and width.
        ignore_label: Label fill value.

    Returns:
        The padded float32 image and int32 label.
    """
    height, width = _size(label)
    pad_h = tf.maximum(size - height, 0)
    pad_w = tf.maximum(size - width, 0)
    paddings = [[0, pad_h], [0, pad_w]]
    mean = _mean_pixel()
    image = tf.pad(image - mean, paddings + [[0, 0]]) + mean
    label = tf.pad(label, paddings, constant_values=ignore_label)
    return image, label


def random_scale_and_crop(
    image: tf.Tensor,
    label: tf.Tensor,
    seed: tf.Tensor,
    base_size: int,
    crop_size: int,
    ignore_label: int,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Random rescale, pad and random crop of the official recipe.

    The short side becomes an integer drawn uniformly from
    ``int(0.5 * base_size) .. int(2.0 * base_size)`` (inclusive; the long
    side keeps the aspect ratio, truncated as in the official code). The
    result is padded right/bottom to at least ``crop_size`` (mean colour /
    ``ignore_label``) and a uniformly random ``crop_size`` window is taken.
    Only the window is computed (see `resized_window`).

    Args:
        image: ``(height, width, 3)`` image.
        label: int32 ``(height, width)`` label.
        seed: ``(2,)`` stateless seed.
        base_size: Scale reference.
        crop_size: Output height and width.
        ignore_label: Label padding value.

    Returns:
        float32 image ``(crop_size, crop_size, 3)`` on the 0..255 scale and
        int32 label ``(crop_size, crop_size)``.
    """
    seeds = tf.random.experimental.stateless_split(seed, 3)
    short = _random_int(seeds[0], int(0.5 * base_size), int(2.0 * base_size))
    height, width = _size(label)
    out_h, out_w = short_side_size(height, width, short, height <= width)
    top = _random_int(seeds[1], 0, tf.maximum(out_h, crop_size) - crop_size)
    left = _random_int(seeds[2], 0, tf.maximum(out_w, crop_size) - crop_size)
    return resized_window(
        image, label, out_h, out_w, top, left, crop_size, ignore_label
    )


def gaussian_blur(image: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
    """Separable Gaussian blur with a 7-tap kernel, edges mirrored.

    Args:
        image: float32 ``(height, width, 3)``.
        sigma: Scalar standard deviation in pixels (clamped to >= 1e-3;
            sigma near 0 leaves the image unchanged).
    """
    sigma = tf.maximum(tf.cast(sigma, tf.float32), 1e-3)
    taps = tf.range(-BLUR_KERNEL_RADIUS, BLUR_KERNEL_RADIUS + 1)
    weights = tf.exp(-0.5 * tf.square(tf.cast(taps, tf.float32) / sigma))
    weights /= tf.reduce_sum(weights)
    r = BLUR_KERNEL_RADIUS
    padded = tf.pad(image[None], [[0, 0], [r, r], [r, r], [0, 0]], "SYMMETRIC")
    vertical = tf.tile(tf.reshape(weights, [-1, 1, 1, 1]), [1, 1, 3, 1])
    horizontal = tf.tile(tf.reshape(weights, [1, -1, 1, 1]), [1, 1, 3, 1])
    strides = [1, 1, 1, 1]
    out = tf.nn.depthwise_conv2d(padded, vertical, strides, "VALID")
    out = tf.nn.depthwise_conv2d(out, horizontal, strides, "VALID")
    return out[0]


def random_gaussian_blur(
    image: tf.Tensor, seed: tf.Tensor, probability: float = 0.5
) -> tf.Tensor:
    """Blurs with probability ``probability``, sigma uniform in [0, 1)
    (the official ``GaussianBlur(radius=random.random())``)."""
    seeds = tf.random.experimental.stateless_split(seed, 2)
    image = tf.convert_to_tensor(image)
    apply = tf.random.stateless_uniform([], seeds[0]) < probability
    sigma = tf.random.stateless_uniform([], seeds[1])
    return tf.cond(apply, lambda: gaussian_blur(image, sigma), lambda: image)


def random_color_jitter(
    image: tf.Tensor,
    seed: tf.Tensor,
    brightness: float = 0.2,
    contrast: float = 0.2,
    saturation: float = 0.2,
) -> tf.Tensor:
    """Random brightness, contrast and saturation (image only).

    Args:
        image: ``(height, width, 3)`` on the 0..255 scale.
        seed: ``(2,)`` stateless seed.
        brightness: Maximum added brightness, as a fraction of 255.
        contrast: Contrast factor drawn from ``[1 - c, 1 + c]``.
        saturation: Saturation factor drawn from ``[1 - s, 1 + s]``.

    Returns:
        float32 image on the 0..255 scale, clipped to 0..255.
    """
    seeds = tf.random.experimental.stateless_split(seed, 3)
    image = tf.cast(image, tf.float32) / 255.0
    image = tf.image.stateless_random_brightness(image, brightness, seeds[0])
    image = tf.image.stateless_random_contrast(
        image, 1.0 - contrast, 1.0 + contrast, seeds[1]
    )
    image = tf.image.stateless_random_saturation(
        tf.clip_by_value(image, 0.0, 1.0),
        1.0 - saturation,
        1.0 + saturation,
        seeds[2],
    )
    return tf.clip_by_value(image, 0.0, 1.0) * 255.0


def train_transform(
    image: tf.Tensor,
    label: tf.Tensor,
    seed: tf.Tensor,
    crop_size: int = 480,
    base_size: int = 520,
    ignore_label: int = 255,
    blur: bool = True,
    jitter: bool = False,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The official training transform (``_sync_transform``).

    Steps: optional colour jitter (image), horizontal flip, random short
    side in ``[base/2, 2 * base]``, pad to ``crop_size`` (mean colour /
    ignore label), random ``crop_size`` crop, optional Gaussian blur
    (p = 0.5, image), ImageNet normalisation.

    Differences from the official PIL code: the image is padded with the
    mean colour (0 after normalisation) instead of black, the blur is an
    exact 7-tap Gaussian (PIL approximates it with box blurs), and the
    colour jitter (off by default) is not part of the official recipe.

    Args:
        image: uint8 ``(height, width, 3)``.
        label: int32 ``(height, width)``.
        seed: ``(2,)`` int32/int64 stateless seed.
        crop_size: Output height and width.
        base_size: Scale reference of the random short side.
        ignore_label: Label padding value.
        blur: Apply the random Gaussian blur.
        jitter: Apply random brightness/contrast/saturation.

    Returns:
        float32 image ``(crop_size, crop_size, 3)`` and int32 label
        ``(crop_size, crop_size)``.
    """
    seeds = tf.random.experimental.stateless_split(seed, 4)
    if jitter:
        image = random_color_jitter(image, seeds[0])
    image, label = random_flip(image, label, seeds[1])
    image, label = random_scale_and_crop(
        image, label, seeds[2], base_size, crop_size, ignore_label
    )
    if blur:
        image = random_gaussian_blur(image, seeds[3])
    image = tf.ensure_shape(normalize(image), [crop_size, crop_size, 3])
    label = tf.ensure_shape(label, [crop_size, crop_size])
    return image, label


def _half_to_even(excess: tf.Tensor) -> tf.Tensor:
    """``round(excess / 2)`` with Python's round-half-to-even."""
    return tf.cast(tf.round(tf.cast(excess, tf.float64) / 2), tf.int32)


def val_transform(
    image: tf.Tensor,
    label: tf.Tensor,
    crop_size: int = 480,
    ignore_label: int = 255,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The official validation transform (``_val_sync_transform``).

    Resizes so the short side is ``crop_size``, then takes the central
    ``crop_size`` x ``crop_size`` window.

    Returns:
        float32 normalised image ``(crop_size, crop_size, 3)`` and int32
        label ``(crop_size, crop_size)``.
    """
    height, width = _size(label)
    out_h, out_w = short_side_size(height, width, crop_size, width > height)
    image, label = resized_window(
        image,
        label,
        out_h,
        out_w,
        _half_to_even(out_h - crop_size),
        _half_to_even(out_w - crop_size),
        crop_size,
        ignore_label,
    )
    image = tf.ensure_shape(normalize(image), [crop_size, crop_size, 3])
    label = tf.ensure_shape(label, [crop_size, crop_size])
    return image, label


def eval_transform(
    image: tf.Tensor, label: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Full-image evaluation: normalise the image, keep the label.

    Returns:
        float32 ``(height, width, 3)`` image and int32 ``(height, width)``
        label at the original resolution.
    """
    return normalize(image), tf.convert_to_tensor(label, tf.int32)
