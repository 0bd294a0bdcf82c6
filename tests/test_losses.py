"""Tests of keras_fastfcn.losses against hand-computed and NumPy values."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_fastfcn.losses import SegmentationCrossEntropy
from keras_fastfcn.losses import SELoss
from keras_fastfcn.losses import replicate_targets
from keras_fastfcn.losses import se_targets
from keras_fastfcn.losses import segmentation_losses

# A 1x2x2x3 example worked out on paper:
#   pixel (0,0): logits [0, 0, 0], label 0 -> CE = log 3
#   pixel (0,1): logits [1, 0, 0], label 0 -> CE = log(e + 2) - 1
#   pixel (1,0): logits [0, 2, 0], label 2 -> CE = log(e^2 + 2)
#   pixel (1,1): label 255 (ignored)
LOGITS = np.array(
    [[[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [[0.0, 2.0, 0.0], [5.0, -5.0, 0.0]]]],
    dtype=np.float32,
)
LABELS = np.array([[[0, 0], [2, 255]]], dtype=np.int32)
HAND_CE = (
    math.log(3) + (math.log(math.e + 2) - 1) + math.log(math.e**2 + 2)
) / 3  # = 1.29653392


def numpy_cross_entropy(logits, labels, ignore_label=255):
    """PyTorch CrossEntropyLoss(ignore_index, reduction='mean')."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    valid = labels != ignore_label
    if not valid.any():
        return 0.0
    picked = np.take_along_axis(
        log_probs[valid], labels[valid][:, None].astype(np.int64), axis=-1
    )
    return float(-picked.mean())


def numpy_se_targets(labels, num_classes):
    targets = np.zeros((labels.shape[0], num_classes), dtype=np.float32)
    for b in range(labels.shape[0]):
        hist, _ = np.histogram(
            labels[b], bins=num_classes, range=(0, num_classes)
        )
        targets[b] = hist > 0
    return targets


def numpy_bce_with_logits(logits, targets):
    logits = logits.astype(np.float64)
    probs = 1 / (1 + np.exp(-logits))
    return float(
        -(targets * np.log(probs) + (1 - targets) * np.log(1 - probs)).mean()
    )


def test_cross_entropy_hand_computed_value():
    loss = SegmentationCrossEntropy()(LABELS, LOGITS)
    assert float(loss) == pytest.approx(1.2965339, abs=1e-6)
    assert float(loss) == pytest.approx(HAND_CE, abs=1e-6)


def test_cross_entropy_ignores_void_pixels_whatever_their_logits():
    changed = LOGITS.copy()
    changed[0, 1, 1] = [100.0, -100.0, 3.0]
    loss = SegmentationCrossEntropy()(LABELS, changed)
    assert float(loss) == pytest.approx(HAND_CE, abs=1e-6)


def test_cross_entropy_is_mean_over_valid_pixels_of_whole_batch():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 4, 5)).astype(np.float32) * 3
    labels = rng.integers(0, 5, size=(2, 3, 4)).astype(np.int32)
    labels[0] = 255  # image 0 almost all void: 1 valid pixel vs 12
    labels[0, 0, 0] = 3
    expected = numpy_cross_entropy(logits, labels)
    loss = SegmentationCrossEntropy()(labels, logits)
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    # Not the mean of per-image means.
    per_image = np.mean(
        [
            numpy_cross_entropy(logits[i : i + 1], labels[i : i + 1])
            for i in (0, 1)
        ]
    )
    assert abs(per_image - expected) > 1e-3


@pytest.mark.parametrize("ignore_label", [255, -1])
def test_cross_entropy_equals_keras_sparse_ce_with_ignore_class(ignore_label):
    rng = np.random.default_rng(3)
    logits = (rng.normal(size=(3, 6, 7, 11)) * 4).astype(np.float32)
    labels = rng.integers(0, 11, size=(3, 6, 7)).astype(np.int32)
    labels[rng.random(labels.shape) < 0.3] = ignore_label
    labels[1] = ignore_label  # one image all void
    ours = float(SegmentationCrossEntropy(ignore_label)(labels, logits))
    keras_loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=ignore_label
    )
    assert ours == pytest.approx(float(keras_loss(labels, logits)), rel=1e-6)
    reference = numpy_cross_entropy(logits, labels, ignore_label)
    assert ours == pytest.approx(reference, rel=1e-5)
    assert 1.0 < ours < 10.0


def test_cross_entropy_custom_ignore_label_and_trailing_axis():
    labels = np.where(LABELS == 255, -1, LABELS)[..., None]
    loss = SegmentationCrossEntropy(ignore_label=-1)(labels, LOGITS)
    assert float(loss) == pytest.approx(HAND_CE, abs=1e-6)


def test_all_ignored_batch_gives_zero_not_nan():
    labels = np.full((1, 2, 2), 255, dtype=np.int32)
    loss = SegmentationCrossEntropy()(labels, LOGITS)
    assert float(loss) == 0.0


def test_out_of_range_label_gives_nan():
    labels = LABELS.copy()
    labels[0, 0, 0] = 7  # 3 classes; 7 is neither a class nor ignored
    loss = SegmentationCrossEntropy()(labels, LOGITS)
    assert math.isnan(float(loss))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_cross_entropy_is_float32_for_low_precision_logits(dtype):
    logits = ops.cast(LOGITS * 40.0, dtype)  # softmax would overflow in fp16
    loss = SegmentationCrossEntropy()(LABELS, logits)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    expected = numpy_cross_entropy(
        np.asarray(ops.convert_to_numpy(ops.cast(logits, "float32"))), LABELS
    )
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_se_targets_hand_computed():
    labels = np.array(
        [[[0, 0], [2, 255]], [[1, 1], [7, 255]]], dtype=np.int32
    )  # 7 is out of range for 3 classes: not counted, like torch.histc
    targets = se_targets(labels, num_classes=3)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(targets), [[1, 0, 1], [0, 1, 0]]
    )


def test_se_targets_match_numpy_histogram():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 6, size=(3, 5, 7)).astype(np.int32)
    labels[labels == 5] = 255
    labels[1][labels[1] == 2] = 255
    np.testing.assert_array_equal(
        ops.convert_to_numpy(se_targets(labels, 5)), numpy_se_targets(labels, 5)
    )


def test_se_loss_hand_computed_value():
    # targets [1, 0, 1]; BCE(x=0,z=1)=log 2, BCE(1,0)=BCE(-1,1)=log(1+e).
    se_logits = np.array([[0.0, 1.0, -1.0]], dtype=np.float32)
    loss = SELoss()(LABELS, se_logits)
    expected = (math.log(2) + 2 * math.log(1 + math.e)) / 3  # 1.10655685
    assert float(loss) == pytest.approx(expected, abs=1e-6)


def test_se_loss_matches_numpy_reference_for_large_logits():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, size=(2, 3, 3)).astype(np.int32)
    se_logits = rng.normal(size=(2, 4)).astype(np.float32) * 10
    expected = numpy_bce_with_logits(se_logits, numpy_se_targets(labels, 4))
    loss = SELoss()(labels, ops.cast(se_logits, "float16"))
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    assert float(loss) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("loss", [SegmentationCrossEntropy(7), SELoss(7)])
def test_loss_serialization_round_trip(loss):
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    assert restored.ignore_label == 7


def test_unsupported_reduction_is_rejected():
    with pytest.raises(ValueError, match="reduction"):
        SegmentationCrossEntropy(reduction="sum")


def test_segmentation_losses_names_and_weights():
    loss, weights = segmentation_losses(
        ["logits", "aux_logits", "se_logits"], num_classes=3, aux_weight=0.4
    )
    assert set(loss) == {"logits", "aux_logits", "se_logits"}
    assert isinstance(loss["se_logits"], SELoss)
    assert isinstance(loss["aux_logits"], SegmentationCrossEntropy)
    assert weights == {"logits": 1.0, "aux_logits": 0.4, "se_logits": 0.2}
    with pytest.raises(ValueError, match="logits"):
        segmentation_losses(["aux_logits"], num_classes=3)
    with pytest.raises(ValueError, match="outputs named"):
        segmentation_losses(["logits", "boundary"], num_classes=3)


def toy_dict_model(num_classes=5):
    """A few layers with the output names of keras_fastfcn models."""
    inputs = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(
        inputs
    )
    outputs = {
        "logits": keras.layers.Conv2D(num_classes, 1, name="logits")(features),
        "aux_logits": keras.layers.Conv2D(num_classes, 1, name="aux_logits")(
            inputs
        ),
        "se_logits": keras.layers.Dense(num_classes, name="se_logits")(
            keras.layers.GlobalAveragePooling2D()(features)
        ),
    }
    return keras.Model(inputs, outputs)


def tiny_fastfcn_model():
    import keras_fastfcn

    return keras_fastfcn.build_model(
        "encnet_jpu",
        "resnet18",
        num_classes=5,
        base_width=8,
        neck_width=16,
        aux=True,
        se_loss=True,
    )


@pytest.mark.parametrize(
    "build",
    [
        toy_dict_model,
        pytest.param(
            tiny_fastfcn_model,
            marks=pytest.mark.skipif(
                keras.backend.backend() != "tensorflow",
                reason="building + compiling the model takes ~100 s on JAX/CPU",
            ),
        ),
    ],
)
def test_compile_fit_and_evaluate_with_dict_outputs(build):
    keras.utils.set_random_seed(0)
    model = build()
    rng = np.random.default_rng(3)
    images = rng.normal(size=(2, 64, 64, 3)).astype(np.float32)
    labels = rng.integers(0, 5, size=(2, 64, 64)).astype(np.int32)
    labels[:, :8] = 255
    labels[1][labels[1] == 4] = 255  # class 4 absent from image 1
    loss, loss_weights = segmentation_losses(model, num_classes=5)
    with pytest.raises(ValueError, match="num_classes"):
        segmentation_losses(model, num_classes=6)
    model.compile(
        optimizer=keras.optimizers.SGD(1e-3),
        loss=loss,
        loss_weights=loss_weights,
    )
    targets = replicate_targets(labels, loss)
    history = model.fit(images, targets, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    outputs = model(images, training=False)
    outputs = {
        k: np.asarray(ops.convert_to_numpy(v)) for k, v in outputs.items()
    }
    expected = (
        numpy_cross_entropy(outputs["logits"], labels)
        + 0.2 * numpy_cross_entropy(outputs["aux_logits"], labels)
        + 0.2
        * numpy_bce_with_logits(
            outputs["se_logits"], numpy_se_targets(labels, 5)
        )
    )
    result = model.evaluate(
        images, targets, batch_size=2, verbose=0, return_dict=True
    )
    assert result["loss"] == pytest.approx(expected, rel=1e-4)
