"""Augmentation: label integrity, joint geometry, determinism, official
resize/crop arithmetic."""

import numpy as np
import pytest
import tensorflow as tf

from keras_fastfcn.data import augment

MEAN = np.array(augment.IMAGENET_MEAN)
STD = np.array(augment.IMAGENET_STD)
IGNORE = 255


def _denormalize(image):
    return (np.asarray(image) * STD + MEAN) * 255.0


def _blocks(height, width, block, num_classes, seed=0):
    """Label of ``block`` x ``block`` squares of random classes, and an
    image whose colour encodes the class (class k -> colour palette[k])."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(
        0, num_classes, (-(-height // block), -(-width // block))
    )
    label = np.kron(grid, np.ones((block, block), np.int64))
    label = label[:height, :width].astype(np.int32)
    palette = rng.integers(0, 256, (num_classes, 3)).astype(np.uint8)
    return palette[label], label, palette


def _seed(i):
    return tf.constant([7, i], tf.int64)


@tf.function
def _train(image, label, seed, crop, base, blur=False, jitter=False):
    return augment.train_transform(
        image, label, seed, crop, base, IGNORE, blur=blur, jitter=jitter
    )


def test_label_values_stay_in_original_set_over_many_seeds():
    image, label, _ = _blocks(36, 52, 4, 6)
    label[0, :5] = IGNORE
    label[label == 4] = 9  # gaps in the label set
    allowed = set(np.unique(label).tolist()) | {IGNORE}
    for i in range(60):
        _, out = _train(image, label, _seed(i), 32, 32, blur=True, jitter=True)
        assert set(np.unique(out.numpy()).tolist()) <= allowed, i


def test_image_and_label_move_together():
    image, label, palette = _blocks(48, 72, 12, 5, seed=1)
    for i in range(12):
        out_image, out_label = _train(image, label, _seed(i), 32, 48)
        out_image = _denormalize(out_image.numpy())
        out_label = out_label.numpy()
        # Pixels inside a uniform 5x5 label window lie away from any block
        # edge, so bilinear and nearest resizing agree on their class.
        windows = np.lib.stride_tricks.sliding_window_view(out_label, (5, 5))
        uniform = (windows == windows[..., 2:3, 2:3]).all(axis=(-1, -2))
        centre = out_label[2:-2, 2:-2]
        inside = uniform & (centre != IGNORE)
        assert inside.sum() > 50
        expected = palette[centre[inside]]
        got = out_image[2:-2, 2:-2][inside]
        np.testing.assert_allclose(got, expected, atol=1.0)


def test_flip_moves_image_and_label_together():
    image, label, _ = _blocks(6, 10, 1, 4)
    flips = 0
    for i in range(20):
        out_image, out_label = augment.random_flip(image, label, _seed(i))
        flipped = not np.array_equal(out_label.numpy(), label)
        flips += flipped
        reference = (image, label)
        if flipped:
            reference = (image[:, ::-1], label[:, ::-1])
        np.testing.assert_array_equal(out_image.numpy(), reference[0])
        np.testing.assert_array_equal(out_label.numpy(), reference[1])
    assert 4 <= flips <= 16


def test_same_seed_same_output_and_seeds_differ():
    image, label, _ = _blocks(30, 44, 3, 7)
    first = _train(image, label, _seed(3), 24, 24, blur=True, jitter=True)
    again = _train(image, label, _seed(3), 24, 24, blur=True, jitter=True)
    other = _train(image, label, _seed(4), 24, 24, blur=True, jitter=True)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(first[0].numpy(), other[0].numpy())


def test_train_output_shapes_and_dtypes():
    image, label, _ = _blocks(30, 20, 3, 3)
    out_image, out_label = _train(image, label, _seed(0), 24, 16, blur=True)
    assert out_image.shape == (24, 24, 3) and out_image.dtype == tf.float32
    assert out_label.shape == (24, 24) and out_label.dtype == tf.int32


def _reference_window(image, label, out_h, out_w, top, left, size):
    """Resize the whole image, pad with mean/ignore, crop (NumPy pad)."""
    image = tf.image.resize(
        tf.cast(image, tf.float32), [out_h, out_w], antialias=True
    ).numpy()
    label = tf.image.resize(label[..., None], [out_h, out_w], "nearest")
    label = label.numpy()[..., 0]
    pad_h, pad_w = max(size - out_h, 0), max(size - out_w, 0)
    image = np.pad(image - MEAN * 255, [(0, pad_h), (0, pad_w), (0, 0)])
    image += MEAN * 255
    label = np.pad(label, [(0, pad_h), (0, pad_w)], constant_values=IGNORE)
    window = np.s_[top : top + size, left : left + size]
    return image[window], label[window]


@pytest.mark.parametrize(
    "out_size, top, left",
    [
        ((15, 22), 0, 0),  # downscale, padded on both sides
        ((60, 90), 36, 66),  # upscale, window at the far corner
        ((41, 61), 9, 30),  # odd scale factor
        ((30, 45), 0, 13),  # identity scale
        ((20, 30), 0, 6),  # padded rows only
    ],
)
def test_resized_window_equals_resize_pad_crop(out_size, top, left):
    image, label, _ = _blocks(30, 45, 1, 9)
    got_image, got_label = augment.resized_window(
        image, label, *out_size, top, left, 24, IGNORE
    )
    want_image, want_label = _reference_window(
        image, label, *out_size, top, left, 24
    )
    np.testing.assert_allclose(got_image.numpy(), want_image, atol=0.01)
    np.testing.assert_array_equal(got_label.numpy(), want_label)


_scale_and_crop = tf.function(augment.random_scale_and_crop)


def test_random_scale_short_side_range_and_aspect():
    # With a crop larger than any scaled image the window shows all of it.
    label = np.zeros((30, 45), np.int32)
    image = np.zeros((30, 45, 3), np.uint8)
    shorts = []
    for i in range(150):
        _, out = _scale_and_crop(image, label, _seed(i), 20, 64, IGNORE)
        valid = out.numpy() != IGNORE
        height, width = valid.any(1).sum(), valid.any(0).sum()
        assert 10 <= height <= 40
        assert width == int(1.0 * 45 * height / 30)  # official truncation
        shorts.append(height)
    assert min(shorts) <= 12 and max(shorts) >= 38


def test_portrait_image_scales_its_width():
    label = np.zeros((45, 30), np.int32)
    _, out = augment.random_scale_and_crop(
        np.zeros((45, 30, 3), np.uint8), label, _seed(1), 20, 64, IGNORE
    )
    valid = out.numpy() != IGNORE
    height, width = valid.any(1).sum(), valid.any(0).sum()
    assert 10 <= width <= 40 and height == int(1.0 * 45 * width / 30)


def test_random_ints_include_both_ends():
    draws = {int(augment._random_int(_seed(i), 0, 3)) for i in range(100)}
    assert draws == {0, 1, 2, 3}


def test_padding_uses_mean_colour_and_ignore_label():
    image, label, _ = _blocks(12, 16, 2, 3)
    for i in range(5):
        out_image, out_label = _train(image, label, _seed(i), 48, 12)
        padded = out_label.numpy() == IGNORE
        assert padded.any()  # the scaled image (short side <= 24) < 48
        np.testing.assert_allclose(out_image.numpy()[padded], 0.0, atol=1e-5)
        assert not np.any(np.abs(out_image.numpy()[~padded]).sum(-1) < 1e-6)


def _nearest_reference(label, height, width):
    rows = np.minimum(
        ((np.arange(height) + 0.5) * label.shape[0] / height).astype(int),
        label.shape[0] - 1,
    )
    cols = np.minimum(
        ((np.arange(width) + 0.5) * label.shape[1] / width).astype(int),
        label.shape[1] - 1,
    )
    return label[rows][:, cols]


@pytest.mark.parametrize(
    "shape, resized, offset",
    [
        # landscape 30x45 -> 16x24, left = round(8 / 2) = 4
        ((30, 45), (16, 24), (0, 4)),
        # 30x47 -> 16x25, left = round(4.5) = 4 (half to even, as Python)
        ((30, 47), (16, 25), (0, 4)),
        # portrait 45x30 -> 24x16, top = 4
        ((45, 30), (24, 16), (4, 0)),
    ],
)
def test_val_transform_matches_official_arithmetic(shape, resized, offset):
    image, label, _ = _blocks(*shape, 1, 9)
    out_image, out_label = augment.val_transform(image, label, 16)
    assert out_image.shape == (16, 16, 3) and out_label.shape == (16, 16)
    reference = _nearest_reference(label, *resized)
    top, left = offset
    np.testing.assert_array_equal(
        out_label.numpy(), reference[top : top + 16, left : left + 16]
    )


def test_eval_transform_keeps_full_resolution():
    image, label, _ = _blocks(7, 9, 1, 3)
    out_image, out_label = augment.eval_transform(image, label)
    np.testing.assert_allclose(
        out_image.numpy(), (image / 255.0 - MEAN) / STD, atol=1e-6
    )
    np.testing.assert_array_equal(out_label.numpy(), label)


def test_gaussian_blur():
    constant = np.full((9, 9, 3), 100.0, np.float32)
    np.testing.assert_allclose(
        augment.gaussian_blur(constant, 0.8).numpy(), constant, rtol=1e-6
    )
    impulse = np.zeros((9, 9, 3), np.float32)
    impulse[4, 4] = 1.0
    out = augment.gaussian_blur(impulse, 0.7).numpy()[..., 0]
    taps = np.exp(-0.5 * (np.arange(-3, 4) / 0.7) ** 2)
    taps /= taps.sum()
    np.testing.assert_allclose(out[1:8, 1:8], np.outer(taps, taps), atol=1e-6)
    np.testing.assert_allclose(
        augment.gaussian_blur(impulse, 0.0).numpy(), impulse, atol=1e-6
    )
