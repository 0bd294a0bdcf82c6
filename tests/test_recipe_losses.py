"""Class-weighted cross-entropy and OHEM (issue #20) against hand-computed
numbers and a NumPy reference of PyTorch's weighted cross-entropy."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_fastfcn.losses import SegmentationCrossEntropy
from keras_fastfcn.losses import ohem_keep_mask
from keras_fastfcn.losses import segmentation_losses

# The 1x2x2x3 example of test_losses.py:
#   pixel (0,0): label 0, CE = log 3           = 1.0986123
#   pixel (0,1): label 0, CE = log(e + 2) - 1  = 0.5514447
#   pixel (1,0): label 2, CE = log(e^2 + 2)    = 2.2395448
#   pixel (1,1): label 255 (ignored)
LOGITS = np.array(
    [[[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [[0.0, 2.0, 0.0], [5.0, -5.0, 0.0]]]],
    dtype=np.float32,
)
LABELS = np.array([[[0, 0], [2, 255]]], dtype=np.int32)


def numpy_weighted_cross_entropy(logits, labels, weights, ignore_label=255):
    """PyTorch CrossEntropyLoss(weight, ignore_index, reduction='mean'):
    sum(w[y] * ce) / sum(w[y]) over the non-ignored pixels."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    valid = labels != ignore_label
    y = labels[valid].astype(np.int64)
    ce = -log_probs[valid][np.arange(y.size), y]
    w = np.asarray(weights, np.float64)[y]
    return float((w * ce).sum() / w.sum())


def value(loss, labels, logits):
    return float(ops.convert_to_numpy(loss(labels, logits)))


def test_weighted_cross_entropy_hand_computed():
    loss = SegmentationCrossEntropy(class_weights=[2.0, 5.0, 0.5])
    # (2 * 1.0986123 + 2 * 0.5514447 + 0.5 * 2.2395448) / (2 + 2 + 0.5)
    assert value(loss, LABELS, LOGITS) == pytest.approx(0.9821970, abs=1e-6)
    # Class 1 never occurs: its weight changes nothing.
    other = SegmentationCrossEntropy(class_weights=[2.0, 99.0, 0.5])
    assert value(other, LABELS, LOGITS) == pytest.approx(0.9821970, abs=1e-6)
    # Equal weights give the unweighted mean (1.2965339).
    equal = SegmentationCrossEntropy(class_weights=[3.0, 3.0, 3.0])
    assert value(equal, LABELS, LOGITS) == pytest.approx(1.2965339, abs=1e-6)


def test_weighted_cross_entropy_matches_numpy_reference_of_pytorch():
    rng = np.random.default_rng(1)
    logits = (rng.normal(size=(2, 5, 6, 4)) * 3).astype(np.float32)
    labels = rng.integers(0, 4, size=(2, 5, 6)).astype(np.int32)
    labels[0, :2] = 255
    weights = [0.3, 2.5, 1.0, 7.0]
    expected = numpy_weighted_cross_entropy(logits, labels, weights)
    loss = SegmentationCrossEntropy(class_weights=weights)
    assert value(loss, labels, logits) == pytest.approx(expected, rel=1e-5)
    unweighted = numpy_weighted_cross_entropy(logits, labels, [1.0] * 4)
    assert abs(expected - unweighted) > 1e-2  # the weights matter here


def test_weighted_cross_entropy_edge_cases():
    ignored = np.full((1, 2, 2), 255, np.int32)
    loss = SegmentationCrossEntropy(class_weights=[1.0, 1.0, 1.0])
    assert value(loss, ignored, LOGITS) == 0.0
    zero = SegmentationCrossEntropy(class_weights=[0.0, 1.0, 0.0])
    assert value(zero, LABELS, LOGITS) == 0.0  # sum of weights is 0
    bad = LABELS.copy()
    bad[0, 0, 0] = 7
    assert math.isnan(value(zero, bad, LOGITS))  # not hidden by weight 0
    with pytest.raises(ValueError, match="one weight per class"):
        SegmentationCrossEntropy(class_weights=[1.0, 2.0])(LABELS, LOGITS)
    with pytest.raises(ValueError, match="finite floats >= 0"):
        SegmentationCrossEntropy(class_weights=[1.0, -2.0, 1.0])


# OHEM example: one 2x3 image, 2 classes, logits [log p, log(1 - p)] and
# label 0, so p is the probability of the true class:
#   p = [[0.9, 0.2, 0.6], [0.75, 0.05, ignored]]
# valid p sorted: 0.05, 0.2, 0.6, 0.75, 0.9 (n = 5).
PROBS = np.array([[[0.9, 0.2, 0.6], [0.75, 0.05, 0.5]]], np.float64)
OHEM_LABELS = np.array([[[0, 0, 0], [0, 0, 255]]], np.int32)
OHEM_LOGITS = np.stack([np.log(PROBS), np.log(1 - PROBS)], -1).astype(
    np.float32
)


def keep_mask(probs, labels, thresh, min_kept):
    mask = ohem_keep_mask(
        ops.convert_to_tensor(probs.astype(np.float32)),
        ops.convert_to_tensor(labels != 255),
        thresh,
        min_kept,
    )
    return np.asarray(ops.convert_to_numpy(mask))


def test_ohem_keeps_pixels_under_the_threshold():
    # thresh 0.7, min_kept 2: p_(min(2, 4)) = 0.6 < 0.7, so p < 0.7 counts.
    mask = keep_mask(PROBS, OHEM_LABELS, 0.7, 2)
    np.testing.assert_array_equal(
        mask, [[[False, True, True], [False, True, False]]]
    )
    loss = SegmentationCrossEntropy(ohem_thresh=0.7, ohem_min_kept=2)
    # (-log 0.2 - log 0.6 - log 0.05) / 3
    hand = (1.6094379 + 0.5108256 + 2.9957323) / 3
    assert value(loss, OHEM_LABELS, OHEM_LOGITS) == pytest.approx(
        hand, abs=1e-6
    )
    assert hand == pytest.approx(1.7053319, abs=1e-7)


def test_ohem_min_kept_overrides_the_threshold():
    # min_kept 3: threshold p_(3) = 0.75 > 0.7, keeps the 3 hardest.
    mask = keep_mask(PROBS, OHEM_LABELS, 0.7, 3)
    np.testing.assert_array_equal(
        mask, [[[False, True, True], [False, True, False]]]
    )
    # thresh 0.1 (only 0.05 is hard), min_kept 3: still the 3 hardest.
    mask = keep_mask(PROBS, OHEM_LABELS, 0.1, 3)
    np.testing.assert_array_equal(
        mask, [[[False, True, True], [False, True, False]]]
    )
    # min_kept 4: threshold p_(min(4, 4)) = 0.9: p < 0.9 keeps 4 pixels.
    mask = keep_mask(PROBS, OHEM_LABELS, 0.7, 4)
    np.testing.assert_array_equal(
        mask, [[[False, True, True], [True, True, False]]]
    )
    loss = SegmentationCrossEntropy(ohem_thresh=0.7, ohem_min_kept=4)
    # (-log 0.2 - log 0.6 - log 0.75 - log 0.05) / 4
    assert value(loss, OHEM_LABELS, OHEM_LOGITS) == pytest.approx(
        1.3509195, abs=1e-6
    )
    # min_kept far above n: threshold p_(n - 1) = 0.9, as mmseg.
    mask = keep_mask(PROBS, OHEM_LABELS, 0.7, 1000)
    assert mask.sum() == 4 and not mask[0, 0, 0]
    # A threshold of 1 keeps every valid pixel (all p < 1).
    mask = keep_mask(PROBS, OHEM_LABELS, 1.0, 1)
    np.testing.assert_array_equal(mask, OHEM_LABELS != 255)


def test_ohem_min_kept_counts_per_image():
    # Two images, nothing under thresh 0.7; valid p sorted:
    # 0.72, 0.75, 0.8, 0.9, 0.95. min_kept 1 per image -> 2 per batch:
    # threshold p_(2) = 0.8 keeps 0.75 (image 0) and 0.72 (image 1).
    probs = np.array([[[0.9, 0.8, 0.75]], [[0.95, 0.72, 0.5]]])
    labels = np.array([[[0, 0, 0]], [[0, 0, 255]]], np.int32)
    mask = keep_mask(probs, labels, 0.7, 1)
    np.testing.assert_array_equal(
        mask, [[[False, False, True]], [[False, True, False]]]
    )


def test_ohem_with_every_pixel_ignored_gives_zero():
    labels = np.full_like(OHEM_LABELS, 255)
    assert not keep_mask(PROBS, labels, 0.7, 2).any()
    loss = SegmentationCrossEntropy(ohem_thresh=0.7, ohem_min_kept=2)
    assert value(loss, labels, OHEM_LOGITS) == 0.0


def test_ohem_and_class_weights_combine():
    # Kept pixels as in test_ohem_keeps_pixels_under_the_threshold, all of
    # class 0; with weight 3 on class 0 the weighted mean is unchanged.
    loss = SegmentationCrossEntropy(
        class_weights=[3.0, 1.0], ohem_thresh=0.7, ohem_min_kept=2
    )
    assert value(loss, OHEM_LABELS, OHEM_LOGITS) == pytest.approx(
        1.7053319, abs=1e-6
    )
    # Pixel (0, 0) relabelled 1: its p becomes 0.1 (hard), weight 1:
    # (3 * (1.6094379 + 0.5108256 + 2.9957323) + 2.3025851) / 10
    labels = OHEM_LABELS.copy()
    labels[0, 0, 0] = 1
    assert value(loss, labels, OHEM_LOGITS) == pytest.approx(
        1.7650573, abs=1e-6
    )


def test_ohem_and_weights_in_compiled_functions():
    """The same values with unknown shapes in a graph (TF) or jit (JAX)."""
    loss = SegmentationCrossEntropy(
        class_weights=[3.0, 1.0], ohem_thresh=0.7, ohem_min_kept=2
    )
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(
            loss,
            input_signature=[
                tf.TensorSpec([None, None, None], tf.int32),
                tf.TensorSpec([None, None, None, 2], tf.float32),
            ],
        )
    elif backend == "jax":
        import jax

        compiled = jax.jit(loss)
    else:
        pytest.skip(f"no graph compilation tested on {backend}")
    assert value(compiled, OHEM_LABELS, OHEM_LOGITS) == pytest.approx(
        1.7053319, abs=1e-6
    )


def test_new_arguments_serialize():
    loss = SegmentationCrossEntropy(
        7, class_weights=[1.0, 2.5], ohem_thresh=0.7, ohem_min_kept=50
    )
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert restored.get_config() == loss.get_config()
    assert restored.class_weights == [1.0, 2.5]
    assert (restored.ohem_thresh, restored.ohem_min_kept) == (0.7, 50)
    with pytest.raises(ValueError, match="ohem_thresh"):
        SegmentationCrossEntropy(ohem_thresh=1.5)
    with pytest.raises(ValueError, match="ohem_min_kept"):
        SegmentationCrossEntropy(ohem_thresh=0.7, ohem_min_kept=0)


def test_segmentation_losses_pass_weights_to_both_ce_and_ohem_to_main():
    loss, _ = segmentation_losses(
        ["logits", "aux_logits", "se_logits"],
        num_classes=3,
        class_weights=[1.0, 2.0, 3.0],
        ohem_thresh=0.7,
        ohem_min_kept=10,
    )
    assert loss["logits"].class_weights == [1.0, 2.0, 3.0]
    assert loss["aux_logits"].class_weights == [1.0, 2.0, 3.0]
    assert (loss["logits"].ohem_thresh, loss["logits"].ohem_min_kept) == (
        0.7,
        10,
    )
    assert loss["aux_logits"].ohem_thresh is None
    with pytest.raises(ValueError, match="one weight per class"):
        segmentation_losses(["logits"], num_classes=3, class_weights=[1.0])


def test_fit_with_class_weights_and_ohem():
    """Both options train a dict-output model through `model.fit`."""
    inputs = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    model = keras.Model(
        inputs,
        {
            "logits": keras.layers.Conv2D(3, 1, name="logits")(features),
            "aux_logits": keras.layers.Conv2D(3, 1, name="aux_logits")(inputs),
        },
    )
    loss, loss_weights = segmentation_losses(
        model, 3, class_weights=[0.5, 1.0, 4.0], ohem_thresh=0.7
    )
    model.compile(
        keras.optimizers.SGD(0.1), loss=loss, loss_weights=loss_weights
    )
    rng = np.random.default_rng(0)
    images = rng.normal(size=(4, 8, 8, 3)).astype(np.float32)
    labels = rng.integers(0, 3, size=(4, 8, 8)).astype(np.int32)
    labels[:, 0] = 255
    targets = {"logits": labels, "aux_logits": labels}
    history = model.fit(images, targets, batch_size=2, epochs=2, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[1] < losses[0]


MIRRORED_SCRIPT = """
import numpy as np
import keras
from keras_fastfcn.losses import SegmentationCrossEntropy

rng = np.random.default_rng(0)
logits = (rng.normal(size=(2, 6, 6, 3)) * 2).astype(np.float32)
labels = rng.integers(0, 3, size=(2, 6, 6)).astype(np.int32)
labels[0, :2] = 255
loss = SegmentationCrossEntropy(
    class_weights=[0.5, 1.0, 4.0], ohem_thresh=0.5, ohem_min_kept=10
)
per_image = [
    float(loss(labels[i : i + 1], logits[i : i + 1])) for i in range(2)
]
with strategy.scope():
    inputs = keras.Input((6, 6, 3))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(loss=loss)
value = model.evaluate(logits, labels, batch_size=2, verbose=0)
print(json.dumps({"per_image": per_image, "mirrored": float(value)}))
"""


def test_ohem_per_replica_under_mirrored_strategy():
    """Each replica mines its own image (min_kept per image): the mirrored
    loss is the mean of the two single-image losses."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.distribute is TensorFlow only")
    from tests.helpers import run_with_two_cpu_replicas

    report = run_with_two_cpu_replicas(MIRRORED_SCRIPT)
    first, second = report["per_image"]
    assert abs(first - second) > 1e-2
    assert report["mirrored"] == pytest.approx((first + second) / 2, rel=1e-5)
