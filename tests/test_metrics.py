"""Tests of keras_fastfcn.metrics against hand-computed and official values."""

import os
import sys

import keras
import numpy as np
import pytest
from keras import ops

from keras_fastfcn.metrics import ConfusionMatrix
from keras_fastfcn.metrics import MeanIoU
from keras_fastfcn.metrics import PixelAccuracy
from keras_fastfcn.metrics import format_iou_table
from keras_fastfcn.metrics import plot_confusion_matrix
from keras_fastfcn.metrics import segmentation_metrics
from tests.helpers import run_with_two_cpu_replicas

# Hand-computed example, 3 classes, one ignored pixel:
#   label [[0, 0, 1], [2, 255, 1]]
#   pred  [[0, 1, 1], [2,   0, 2]]
# confusion (rows true, cols pred): [[1, 1, 0], [0, 1, 1], [0, 0, 1]]
# pixel accuracy 3/5; IoU: c0 1/(2+1-1)=1/2, c1 1/(2+2-1)=1/3, c2 1/(1+2-1)=1/2
LABEL = np.array([[[0, 0, 1], [2, 255, 1]]])
PRED = np.array([[[0, 1, 1], [2, 0, 2]]])
HAND_MATRIX = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 1]])
HAND_IOU = np.array([1 / 2, 1 / 3, 1 / 2])


def one_hot_logits(pred, num_classes):
    """Logits whose argmax is `pred`."""
    return np.eye(num_classes, dtype=np.float32)[pred] * 5.0


def official_scores(logits, labels, num_classes):
    """encoding/utils/metrics.py: batch_pix_accuracy + batch_intersection_union
    (labels shifted so that ignore is -1 -> 0 after the +1)."""
    predict = np.argmax(logits, -1) + 1
    target = np.where(labels == 255, -1, labels) + 1
    labeled = np.sum(target > 0)
    correct = np.sum((predict == target) * (target > 0))
    predict = predict * (target > 0)
    intersection = predict * (predict == target)
    bins = dict(bins=num_classes, range=(1, num_classes))
    area_inter, _ = np.histogram(intersection, **bins)
    area_pred, _ = np.histogram(predict, **bins)
    area_lab, _ = np.histogram(target, **bins)
    return correct, labeled, area_inter, area_pred + area_lab - area_inter


def test_confusion_matrix_hand_computed():
    cm = ConfusionMatrix(3)
    cm.update(PRED, LABEL)
    np.testing.assert_array_equal(cm.matrix, HAND_MATRIX)
    assert cm.labeled == 5
    assert cm.pixel_accuracy() == pytest.approx(0.6)
    np.testing.assert_allclose(cm.iou(), HAND_IOU)
    assert cm.mean_iou() == pytest.approx(4 / 9)


def test_absent_class_counts_zero_in_official_mean_only():
    cm = ConfusionMatrix(4)  # class 3 never labelled nor predicted
    cm.update(PRED, LABEL)
    np.testing.assert_allclose(cm.iou(), list(HAND_IOU) + [0.0])
    assert cm.mean_iou() == pytest.approx((4 / 3) / 4)
    assert cm.mean_iou(present_only=True) == pytest.approx(4 / 9)
    assert cm.results() == pytest.approx(
        {"pixel_accuracy": 0.6, "mean_iou": 1 / 3, "mean_iou_present": 4 / 9}
    )


def test_ignored_pixels_do_not_count_whatever_the_prediction():
    cm = ConfusionMatrix(3)
    label = np.full((1, 4, 4), 255)
    cm.update(np.zeros((1, 4, 4), dtype=int), label)
    assert cm.labeled == 0
    assert cm.pixel_accuracy() == 0.0 and cm.mean_iou() == 0.0


def test_agrees_with_official_formula_over_a_dataset():
    rng = np.random.default_rng(0)
    num_classes = 6
    cm = ConfusionMatrix(num_classes)
    correct = labeled = 0
    inter = np.zeros(num_classes)
    union = np.zeros(num_classes)
    for _ in range(4):
        logits = rng.normal(size=(2, 9, 11, num_classes))
        labels = rng.integers(0, num_classes - 1, size=(2, 9, 11))  # no 5
        labels[rng.random(labels.shape) < 0.2] = 255
        cm.update(np.argmax(logits, -1), labels)
        c, lab, i, u = official_scores(logits, labels, num_classes)
        correct, labeled, inter, union = (
            correct + c,
            labeled + lab,
            inter + i,
            union + u,
        )
    eps = np.spacing(1)
    assert cm.pixel_accuracy() == pytest.approx(
        correct / (eps + labeled), rel=1e-12
    )
    official_iou = inter / (eps + union)
    np.testing.assert_allclose(cm.iou(), official_iou, rtol=1e-12)
    assert cm.mean_iou() == pytest.approx(official_iou.mean(), rel=1e-12)


def test_confusion_matrix_input_errors_and_merge():
    cm = ConfusionMatrix(3)
    with pytest.raises(ValueError, match="shape"):
        cm.update(np.zeros((1, 2, 3, 3)), LABEL)
    with pytest.raises(ValueError, match="label values"):
        cm.update(PRED, np.where(LABEL == 255, 9, LABEL))
    other = ConfusionMatrix(3)
    other.update(PRED, LABEL)
    cm.merge(other)
    cm.merge(other)
    np.testing.assert_array_equal(cm.matrix, 2 * HAND_MATRIX)
    with pytest.raises(ValueError, match="merge"):
        cm.merge(ConfusionMatrix(4))


def metric_value(metric):
    return float(ops.convert_to_numpy(metric.result()))


def test_keras_metrics_hand_computed_and_accumulated():
    logits = one_hot_logits(PRED, 4)
    accuracy, miou = PixelAccuracy(4), MeanIoU(4)
    present = MeanIoU(4, present_classes_only=True)
    for metric in (accuracy, miou, present):
        metric.update_state(LABEL, logits)
    assert metric_value(accuracy) == pytest.approx(0.6)
    assert metric_value(miou) == pytest.approx(1 / 3)
    assert metric_value(present) == pytest.approx(4 / 9)
    np.testing.assert_allclose(
        ops.convert_to_numpy(miou.per_class_iou()),
        list(HAND_IOU) + [0.0],
        rtol=1e-6,
    )
    # A second batch accumulates (dataset-level, not a mean of batches).
    label2 = np.array([[[3, 3, 3], [3, 3, 3]]])
    for metric in (accuracy, miou):
        metric.update_state(label2, one_hot_logits(np.full((1, 2, 3), 3), 4))
    assert metric_value(accuracy) == pytest.approx(9 / 11)
    assert metric_value(miou) == pytest.approx((4 / 3 + 1) / 4)
    accuracy.reset_state()
    assert metric_value(accuracy) == 0.0


def test_keras_metrics_sample_weight_and_invalid_labels():
    logits = one_hot_logits(np.concatenate([PRED, PRED]), 3)
    labels = np.concatenate([LABEL, np.zeros_like(LABEL)])
    accuracy = PixelAccuracy(3)
    accuracy.update_state(labels, logits, sample_weight=np.array([1.0, 0.0]))
    assert metric_value(accuracy) == pytest.approx(0.6)
    miou = MeanIoU(3)
    miou.update_state(np.where(LABEL == 255, 7, LABEL), one_hot_logits(PRED, 3))
    assert np.isnan(metric_value(miou))  # label 7 is neither class nor ignore
    with pytest.raises(ValueError, match="classes"):
        MeanIoU(5).update_state(LABEL, one_hot_logits(PRED, 3))


def test_keras_metrics_serialization_round_trip():
    metric = MeanIoU(7, ignore_label=0, present_classes_only=True)
    restored = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert isinstance(restored, MeanIoU)
    assert restored.get_config() == metric.get_config()
    restored = keras.metrics.deserialize(
        keras.metrics.serialize(PixelAccuracy(7))
    )
    assert isinstance(restored, PixelAccuracy) and restored.num_classes == 7


def per_pixel_model(num_classes=4):
    inputs = keras.Input((None, None, 3))
    logits = keras.layers.Conv2D(num_classes, 1, name="logits")(inputs)
    return keras.Model(inputs, logits)


def dataset(num_classes=4, count=6):
    rng = np.random.default_rng(5)
    images = rng.normal(size=(count, 8, 8, 3)).astype(np.float32)
    labels = rng.integers(0, num_classes, size=(count, 8, 8)).astype(np.int32)
    labels[rng.random(labels.shape) < 0.25] = 255
    return images, labels


def test_keras_metrics_in_evaluate_match_confusion_matrix():
    keras.utils.set_random_seed(1)
    model = per_pixel_model()
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=255
        ),
        metrics=segmentation_metrics(4),
    )
    images, labels = dataset()
    result = model.evaluate(
        images, labels, batch_size=2, verbose=0, return_dict=True
    )
    cm = ConfusionMatrix(4)
    cm.update(np.argmax(ops.convert_to_numpy(model(images)), -1), labels)
    assert result["pixel_accuracy"] == pytest.approx(
        cm.pixel_accuracy(), rel=1e-6
    )
    assert result["mean_iou"] == pytest.approx(cm.mean_iou(), rel=1e-6)
    history = model.fit(images, labels, batch_size=3, epochs=1, verbose=0)
    assert 0.0 <= history.history["mean_iou"][0] <= 1.0


def test_format_iou_table():
    table = format_iou_table(["road", "sky", "car"], [0.5, 1 / 3, 0.0])
    assert table.splitlines() == [
        "#  class       IoU %",
        "--------------------",
        "0  road        50.00",
        "1  sky         33.33",
        "2  car          0.00",
        "--------------------",
        "   mean IoU    27.78",
    ]
    custom = format_iou_table(["a"], [0.25], summary={"pixel accuracy": 0.9})
    assert custom.splitlines()[-1].split() == ["pixel", "accuracy", "90.00"]
    with pytest.raises(ValueError, match="one IoU per class"):
        format_iou_table(["a", "b"], [0.1])


def check_png(path, min_size):
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] >= min_size and image.size[1] >= min_size
    assert not [
        f for f in os.listdir(os.path.dirname(path)) if f.startswith(".tmp")
    ]


def test_plot_confusion_matrix_pil_fallback(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    cm = ConfusionMatrix(3)
    cm.update(PRED, LABEL)
    path = str(tmp_path / "cm.png")
    assert plot_confusion_matrix(cm, ["road", "sky", "car"], path) == path
    check_png(path, 3 * 24)
    # like every writer of the package, missing folders are created
    nested = str(tmp_path / "new" / "x.png")
    assert plot_confusion_matrix(cm, ["a", "b", "c"], nested) == nested
    check_png(nested, 3 * 24)
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["x.png"]
    with pytest.raises(ValueError, match="class names"):
        plot_confusion_matrix(cm, ["a"], path)


def test_plot_confusion_matrix_matplotlib(tmp_path):
    pytest.importorskip("matplotlib")
    path = str(tmp_path / "cm.png")
    plot_confusion_matrix(HAND_MATRIX, ["road", "sky", "car"], path)
    check_png(path, 100)


MIRRORED_SCRIPT = """
    import numpy as np
    import keras
    import test_metrics as t
    from keras_fastfcn.metrics import segmentation_metrics
    from keras_fastfcn.losses import SegmentationCrossEntropy
    keras.utils.set_random_seed(1)
    with strategy.scope():
        model = t.per_pixel_model()
        model.compile(loss=SegmentationCrossEntropy(),
                      metrics=segmentation_metrics(4))
    images, labels = t.dataset()
    result = model.evaluate(images, labels, batch_size=4, verbose=0,
                            return_dict=True)
    predictions = np.argmax(model.predict(images, verbose=0), -1)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "result": result,
                      "predictions": predictions.tolist()}))
    """


def test_keras_metrics_under_mirrored_strategy():
    report = run_with_two_cpu_replicas(MIRRORED_SCRIPT)
    assert report["replicas"] == 2
    _, labels = dataset()
    cm = ConfusionMatrix(4)
    cm.update(np.array(report["predictions"]), labels)
    # 6 images, batch 4 over 2 replicas: the last batch is split unevenly;
    # the sums must still cover every pixel exactly once.
    assert report["result"]["pixel_accuracy"] == pytest.approx(
        cm.pixel_accuracy(), rel=1e-6
    )
    assert report["result"]["mean_iou"] == pytest.approx(
        cm.mean_iou(), rel=1e-6
    )


def test_metrics_are_keras_mean_iou_with_exact_integer_counts():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 6, size=(4, 9, 13)).astype(np.int32)
    labels[rng.random(labels.shape) < 0.2] = 255
    labels[labels == 4] = 5  # class 4 never labelled
    logits = rng.normal(size=(4, 9, 13, 6)).astype(np.float32)
    logits[..., 4] -= 10.0  # and never predicted: zero union
    miou, accuracy = MeanIoU(6), PixelAccuracy(6)
    present = MeanIoU(6, present_classes_only=True)
    stock = keras.metrics.MeanIoU(
        6, ignore_class=255, sparse_y_pred=False
    )  # Keras' own result: mean over classes with a non-empty union
    for metric in (miou, accuracy, present, stock):
        assert isinstance(metric, keras.metrics.MeanIoU)
        metric.update_state(labels[:2], logits[:2])
        metric.update_state(labels[2:], logits[2:])
    reference = ConfusionMatrix(6)
    reference.update(np.argmax(logits, -1), labels)
    counts = ops.convert_to_numpy(miou.confusion_matrix())
    assert "int" in str(counts.dtype)
    np.testing.assert_array_equal(counts, reference.matrix)
    assert reference.iou()[4] == 0.0 and 0.05 < reference.mean_iou() < 0.3
    assert metric_value(miou) == pytest.approx(reference.mean_iou(), rel=1e-6)
    assert metric_value(present) == pytest.approx(
        reference.mean_iou(present_only=True), rel=1e-6
    )
    assert metric_value(present) == pytest.approx(metric_value(stock), rel=1e-6)
    assert metric_value(accuracy) == pytest.approx(
        reference.pixel_accuracy(), rel=1e-6
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(miou.per_class_iou()), reference.iou(), rtol=1e-6
    )
    assert float(ops.convert_to_numpy(miou.pixel_accuracy())) == (
        pytest.approx(reference.pixel_accuracy(), rel=1e-6)
    )


def test_counts_stay_exact_past_float32_integers():
    # 17 x 1_000_001 = 17_000_017 > 2**24: float32 counts would round it.
    labels = np.zeros((1, 1, 1_000_001), np.int32)
    logits = np.zeros((1, 1, 1_000_001, 2), np.float32)
    logits[..., 0] = 1.0
    metric = PixelAccuracy(2)
    for _ in range(17):
        metric.update_state(labels, logits)
    counts = ops.convert_to_numpy(metric.confusion_matrix())
    assert int(counts[0, 0]) == 17_000_017
    assert int(np.float32(17_000_017)) != 17_000_017
    assert metric_value(metric) == 1.0


def test_metric_configs_of_earlier_versions_load():
    old = {
        "name": "mean_iou",
        "dtype": "float32",
        "num_classes": 5,
        "ignore_label": 255,
        "present_classes_only": False,
    }
    metric = MeanIoU.from_config(old)
    assert "int" in str(metric.confusion_matrix().dtype)
    metric.update_state(
        np.array([[[0, 1]]]), one_hot_logits(np.array([[[0, 0]]]), 5)
    )
    assert metric_value(metric) == pytest.approx(0.5 / 5)
