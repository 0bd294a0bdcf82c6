"""Resize policy, normalisation, padding and logits restoration."""

import numpy as np
import pytest
import tensorflow as tf

from keras_fastfcn.export.postprocessing import restore_logits
from keras_fastfcn.export.postprocessing import segmentation_outputs
from keras_fastfcn.export.preprocessing import ResizePolicy
from keras_fastfcn.export.preprocessing import pad_to_multiple
from keras_fastfcn.export.preprocessing import parse_input_size
from keras_fastfcn.export.preprocessing import prepare_images


@pytest.mark.parametrize(
    "text, mode, size",
    [
        (None, "none", ()),
        ("none", "none", ()),
        ("512", "long_side", (512,)),
        ("360x480", "fixed", (360, 480)),
        (" 64X96 ", "fixed", (64, 96)),
    ],
)
def test_policy_from_string(text, mode, size):
    policy = ResizePolicy.from_string(text)
    assert (policy.mode, policy.size, policy.pad_multiple) == (mode, size, 32)


@pytest.mark.parametrize(
    "text, message",
    [
        ("big", "Cannot parse image size"),
        ("512x", "Cannot parse image size"),
        ("3x4x5", "Cannot parse image size"),
        ("-1", "Cannot parse image size"),
        ("0", "positive int"),
        ("0x32", "positive int"),
    ],
)
def test_policy_from_bad_string(text, message):
    with pytest.raises(ValueError, match=message):
        ResizePolicy.from_string(text)


def test_policy_rejects_wrong_sizes():
    with pytest.raises(ValueError, match="takes 2 positive"):
        ResizePolicy("fixed", (512,))
    with pytest.raises(ValueError, match="Unknown resize mode"):
        ResizePolicy("short_side", (512,))
    with pytest.raises(ValueError, match="pad_multiple"):
        ResizePolicy("none", (), 0)


def test_parse_input_size():
    assert parse_input_size("512x256") == (512, 256)
    with pytest.raises(ValueError, match="HEIGHTxWIDTH"):
        parse_input_size("512")


@pytest.mark.parametrize(
    "policy, image_size, expected",
    [
        # 96 / 70 * 50 = 68.57 -> 69
        (ResizePolicy("long_side", (96,)), (50, 70), (69, 96)),
        (ResizePolicy("long_side", (96,)), (70, 50), (96, 69)),
        # 512 / 480 * 360 = 384 exactly
        (ResizePolicy("long_side", (512,)), (360, 480), (384, 512)),
        (ResizePolicy("long_side", (64,)), (1, 1000), (1, 64)),
        (ResizePolicy("fixed", (64, 32)), (360, 480), (64, 32)),
        (ResizePolicy(), (37, 41), (37, 41)),
    ],
)
def test_target_size(policy, image_size, expected):
    height, width = policy.target_size(*image_size)
    assert (int(height), int(width)) == expected


def test_pad_to_multiple_pads_bottom_right_with_zeros():
    x = tf.ones((2, 33, 64, 3))
    padded = pad_to_multiple(x, 32).numpy()
    assert padded.shape == (2, 64, 64, 3)
    assert padded[:, :33].min() == 1.0
    assert padded[:, 33:].max() == 0.0


def test_prepare_images_long_side():
    images = np.full((2, 50, 70, 3), 200, np.uint8)
    prepared = prepare_images(images, ResizePolicy("long_side", (96,)))
    assert prepared.images.shape == (2, 96, 96, 3)
    assert prepared.resized_size.numpy().tolist() == [69, 96]
    assert prepared.original_size.numpy().tolist() == [50, 70]
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    # A constant image stays constant through the (antialiased) resize.
    inside = (200 / 255 - mean) / std
    np.testing.assert_allclose(
        prepared.images[:, :69],
        np.broadcast_to(inside, (2, 69, 96, 3)),
        atol=1e-5,
    )
    # The padding is black, as in the official evaluation.
    np.testing.assert_allclose(
        prepared.images[:, 69:],
        np.broadcast_to(-mean / std, (2, 27, 96, 3)),
        atol=1e-6,
    )


def test_prepare_images_rejects_empty_and_bad_shapes():
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty batch"):
        prepare_images(np.zeros((0, 8, 8, 3), np.uint8), ResizePolicy())
    with pytest.raises(tf.errors.InvalidArgumentError, match="zero height"):
        prepare_images(np.zeros((1, 0, 8, 3), np.uint8), ResizePolicy())
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compat"):
        prepare_images(np.zeros((1, 8, 8, 4), np.uint8), ResizePolicy())


def test_restore_logits_crops_padding_then_resizes():
    # Logits = row index in the valid 2x2 area, garbage in the padding.
    logits = np.full((1, 4, 4, 1), 99.0, np.float32)
    logits[0, :2, :2, 0] = [[0.0, 0.0], [1.0, 1.0]]
    restored = restore_logits(logits, [2, 2], [4, 4]).numpy()[0, :, :, 0]
    # Half-pixel bilinear 2 -> 4: rows 0, 0.25, 0.75, 1.
    np.testing.assert_allclose(
        restored[:, 0], [0.0, 0.25, 0.75, 1.0], atol=1e-6
    )
    assert restored.max() <= 1.0


def test_segmentation_outputs():
    logits = np.array([[[[1.0, 3.0, 2.0], [0.0, -1.0, 5.0]]]], np.float32)
    outputs = segmentation_outputs(logits, with_probabilities=True)
    assert outputs["class_map"].dtype == tf.int32
    assert outputs["class_map"].numpy().tolist() == [[[1, 2]]]
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(outputs["probabilities"], expected, rtol=1e-6)
    assert set(segmentation_outputs(logits, False)) == {"class_map"}
