"""Post-hoc logit offsets (`keras_fastfcn.calibration`, `fastfcn
calibrate`)."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

import keras_fastfcn
from keras_fastfcn.calibration import fit_logit_bias
from keras_fastfcn.calibration import sample_log_probabilities
from keras_fastfcn.calibration import sampled_iou
from keras_fastfcn.cli import calibrate as calibrate_cli
from keras_fastfcn.data import load_dataset
from keras_fastfcn.data import palettes
from keras_fastfcn.models.presets import PresetMetadata
from keras_fastfcn.utils.cli import UserError
from tests.helpers import to_numpy


def test_fit_finds_the_offset_a_known_example_needs():
    # three of four pixels are class 1, each scored 0.5 below class 0: any
    # offset in (0.5, 2) on class 1 (relative to class 0) labels all four
    # right (mIoU 1); no offset leaves class 1 unfound (mIoU 0.125)
    scores = np.float32([[0, -2.0], [0, -0.5], [0, -0.5], [0, -0.5]])
    labels = np.array([0, 1, 1, 1])
    fit = fit_logit_bias(scores, labels)
    np.testing.assert_allclose(fit.iou_before, [0.25, 0.0])
    np.testing.assert_allclose(fit.iou_after, [1.0, 1.0])
    gap = fit.bias[1] - fit.bias[0]
    assert 0.5 < gap < 2.0
    assert fit.bias.sum() == pytest.approx(0.0, abs=1e-6)
    assert fit.pixels == 4


def test_fit_undoes_a_shift_of_the_scores():
    # noisy one-hot scores of 3 equally frequent classes; class 2's scores
    # pushed up by 1.5 (as class weighting does to a rare class)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=60_000)
    scores = 2.0 * np.eye(3)[labels] + rng.normal(size=(60_000, 3))
    scores[:, 2] += 1.5
    fit = fit_logit_bias(scores, labels)
    # the offsets found take back the push, to a grid step
    assert fit.bias[2] - fit.bias[:2].mean() == pytest.approx(-1.5, abs=0.2)
    assert fit.iou_after.mean() > fit.iou_before.mean() + 0.1
    # and are as good on the sample as the exact inverse shift
    exact = sampled_iou(scores, labels, np.array([0.0, 0.0, -1.5])).mean()
    assert fit.iou_after.mean() >= exact - 2e-3
    np.testing.assert_allclose(
        fit.iou_after, sampled_iou(scores, labels, fit.bias)
    )


def test_fit_refuses_bad_input():
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\)"):
        fit_logit_bias(np.zeros((2, 2)), np.array([0, 255]))
    with pytest.raises(ValueError, match="scores"):
        fit_logit_bias(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match="no labelled pixels"):
        fit_logit_bias(np.zeros((0, 2)), np.zeros(0, int))


needs_tf = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.data input"
)


@needs_tf
def test_sample_keeps_every_labelled_pixel_at_fraction_one():
    spec = load_dataset("sample", split="val")
    logits = np.float32([3.0] + [0.0] * (spec.num_classes - 1))

    def constant(images):
        return np.broadcast_to(logits, images.shape[:3] + logits.shape)

    log_probs, labels = sample_log_probabilities(
        constant,
        spec,
        fraction=1.0,
        base_size=120,
        crop_size=128,
        max_images=2,
        progress=False,
    )
    expected = np.concatenate(
        [
            spec.label_lut[np.asarray(Image.open(label))].ravel()
            for _, label in spec.pairs[:2]
        ]
    )
    expected = expected[expected != spec.ignore_label]
    np.testing.assert_array_equal(labels, expected)
    log_softmax = logits - np.log(np.exp(logits).sum())
    np.testing.assert_allclose(
        log_probs, np.broadcast_to(log_softmax, log_probs.shape), atol=1e-5
    )
    half, _ = sample_log_probabilities(
        constant,
        spec,
        fraction=0.5,
        base_size=120,
        crop_size=128,
        max_images=2,
        progress=False,
    )
    assert 0.45 < len(half) / len(labels) < 0.55


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras_fastfcn.build_model(
        "fcn_jpu", "resnet18", 11, base_width=8, neck_width=16
    )
    metadata = PresetMetadata(
        class_names=tuple(palettes.CAMVID_CLASSES),
        palette=palettes.CAMVID_PALETTE,
        base_size=96,
        crop_size=96,
        dataset="sample",
    )
    path = tmp_path_factory.mktemp("calibrate") / "preset"
    return keras_fastfcn.save_preset(model, path, metadata)


@needs_tf
def test_calibrate_writes_a_preset_that_applies_the_offsets(
    preset, tmp_path, capsys
):
    out = tmp_path / "calibrated"
    argv = ["--preset", str(preset), "--output", str(out), "--fraction", "0.5"]
    assert calibrate_cli.main(argv + ["--max-images", "3"]) == 0
    assert "| mean |" in capsys.readouterr().out
    record = json.loads((out / "metadata.json").read_text())["calibration"]
    bias = np.float32(record["logit_bias"])
    assert record["split"] == "train" and record["images"] == 3
    assert record["mean_iou_after"] >= record["mean_iou_before"]
    assert bias.shape == (11,) and np.abs(bias).max() > 0

    before = keras_fastfcn.from_preset(preset)
    after = keras_fastfcn.from_preset(out)
    assert after.logit_bias == pytest.approx(list(bias), abs=1e-6)
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(after(x)) - to_numpy(before(x)),
        np.broadcast_to(bias, (1, 64, 64, 11)),
        atol=1e-4,
    )
    # the calibrated preset scores the same pixel sample as the fit said
    first = record
    again = tmp_path / "again"
    assert (
        calibrate_cli.main(
            [
                "--preset",
                str(out),
                "--output",
                str(again),
                "--fraction",
                "0.5",
                "--max-images",
                "3",
            ]
        )
        == 0
    )
    record = json.loads((again / "metadata.json").read_text())["calibration"]
    assert record["mean_iou_before"] == pytest.approx(
        first["mean_iou_after"], abs=1e-3
    )
    assert record["mean_iou_after"] >= record["mean_iou_before"]
    # the source preset is unchanged and the output is not replaced
    assert keras_fastfcn.from_preset(preset).logit_bias is None
    with pytest.raises(FileExistsError, match="--overwrite"):
        calibrate_cli.main(argv)


def test_calibrate_refuses_bad_arguments(preset, tmp_path):
    with pytest.raises(UserError, match="source preset"):
        calibrate_cli.main(["--preset", str(preset), "--output", str(preset)])
    with pytest.raises(FileNotFoundError, match="not a preset directory"):
        calibrate_cli.main(["--preset", str(tmp_path)])
    with pytest.raises(UserError, match=r"--fraction must be in \(0, 1\]"):
        calibrate_cli.main(["--preset", str(preset), "--fraction", "0"])
