"""Parity measurement helpers and the export command line's checks."""

import numpy as np
import pytest

from keras_fastfcn.benchmarks.export_parity import ParityResult
from keras_fastfcn.benchmarks.export_parity import compare_logits
from keras_fastfcn.benchmarks.export_parity import format_table
from keras_fastfcn.benchmarks.export_parity import goal_lines
from keras_fastfcn.benchmarks.export_parity import measure_parity
from keras_fastfcn.benchmarks.export_parity import parity_images
from keras_fastfcn.benchmarks.export_parity import time_runners
from keras_fastfcn.cli.export import main as export_main
from tests.export.tiny_models import TINY_CLI_OPTIONS


def test_compare_logits_by_hand():
    reference = np.zeros((1, 2, 2, 3), np.float32)
    reference[..., 0] = 1.0  # class 0 everywhere
    other = reference.copy()
    other[0, 0, 0] = [0.0, 2.0, 0.0]  # one pixel flips to class 1
    other[0, 1, 1, 2] = 0.5
    max_abs, mean_abs, agreement = compare_logits(reference, other)
    assert max_abs == 2.0
    assert mean_abs == pytest.approx((1.0 + 2.0 + 0.5) / 12)
    assert agreement == 0.75
    with pytest.raises(ValueError, match="shapes differ"):
        compare_logits(reference, other[:, :1])


def test_measure_parity_and_table():
    images = np.random.default_rng(0).normal(size=(3, 4, 4, 3))
    images = images.astype(np.float32)
    runners = {
        "keras": lambda x: x * 2.0,
        "exact": lambda x: x * 2.0,
        "noisy": lambda x: x * 2.0 + 0.25,
    }
    results = measure_parity(runners, images, runs=2, sizes_mb={"exact": 1.5})
    assert [r.name for r in results] == ["keras", "exact", "noisy"]
    assert results[1].max_abs_diff == 0 and results[1].argmax_agreement == 1
    assert results[2].max_abs_diff == pytest.approx(0.25)
    assert results[2].argmax_agreement == 1  # a constant shift keeps argmax
    assert all(r.latency_ms >= 0 for r in results)
    table = format_table(
        [
            ParityResult("keras", 0, 0, 1, 10.0, 1.0),
            ParityResult("onnx", 1e-5, 1e-6, 0.99995, 5.0, 0.5, 12.25),
        ]
    )
    lines = table.splitlines()
    assert lines[0].startswith("| format | max abs diff | max diff / max")
    assert lines[3] == (
        "| onnx | 1e-05 | 0 | 1e-06 | 99.995% | 5.0 ± 0.5 | 2.00x | 12.2 |"
    )
    # the relative difference is against the largest |Keras logit|
    largest = np.abs(images * 2.0).max()
    assert results[2].relative_max_diff == pytest.approx(0.25 / largest)


def test_runners_take_turns():
    calls = []
    runners = {name: (lambda x, n=name: calls.append(n)) for name in "abc"}
    timings = time_runners(runners, np.zeros(1), runs=3, warmup=1)
    assert calls == list("abc") * 4
    assert set(timings) == set("abc")
    assert all(median >= 0 and std >= 0 for median, std in timings.values())


def row(name, latency, relative=0.0, agreement=1.0):
    """A result whose largest logit is 1 (max diff = relative diff)."""
    return ParityResult(
        name, relative, 0, agreement, latency, 0, None, relative
    )


def test_goal_lines_give_each_measured_goal():
    results = [
        row("keras", 100.0),
        row("keras_direct", 150.0),
        row("saved_model", 105.0, relative=5e-5),
        row("onnx", 160.0, relative=2e-4),
        row("tflite", 120.0, agreement=0.99995),
        row("tflite_int8", 50.0, relative=0.3, agreement=0.98),
    ]
    lines = goal_lines(results)
    assert lines == [
        "- saved_model parity: max diff 5e-05 x the largest logit (goal <= "
        "0.0001), arg-max agreement 100.000% (goal >= 99.99%): met",
        "- onnx parity: max diff 0.0002 x the largest logit (goal <= "
        "0.0001), arg-max agreement 100.000% (goal >= 99.99%): NOT met",
        "- tflite parity: max diff 0 x the largest logit (goal <= 0.0001), "
        "arg-max agreement 99.995% (goal >= 99.99%): met",
        "- saved_model latency / Keras fast paths: 1.05 (goal <= 1.1): met",
        "- onnx latency / Keras direct: 1.07 (goal <= 1): NOT met",
        "- TFLite int8 speed-up over fp32: 2.40x (goal >= 2x): met",
    ]
    assert goal_lines([row("keras", 1.0)]) == []


def test_parity_images_without_files_are_seeded_noise():
    a = parity_images(None, (8, 16), 2, seed=3)
    b = parity_images(None, (8, 16), 2, seed=3)
    assert a.shape == (2, 8, 16, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "options, error, message",
    [
        ([], ValueError, "exactly one of"),
        (["--random-weights"], ValueError, "needs --num-classes"),
        (
            ["--weights", "missing.weights.h5", *TINY_CLI_OPTIONS],
            FileNotFoundError,
            "does not exist",
        ),
        (
            ["--random-weights", *TINY_CLI_OPTIONS, "--format", "tflite"],
            ValueError,
            "needs a fixed input size",
        ),
        (
            ["--random-weights", *TINY_CLI_OPTIONS, "--input-size", "64x64"],
            ValueError,
            "--input-size is for tflite / onnx",
        ),
        (
            [
                "--random-weights",
                *TINY_CLI_OPTIONS,
                "--format",
                "onnx",
                "--size",
                "512",
            ],
            ValueError,
            "--size is the SavedModel resize policy",
        ),
    ],
)
def test_export_command_line_errors(tmp_path, options, error, message):
    if "--format" not in options:
        options = [*options, "--format", "saved_model"]
    with pytest.raises(error, match=message):
        export_main(["--output", str(tmp_path / "out"), *options])
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_parity_command_line(tmp_path, capsys):
    from keras_fastfcn.cli.export_parity import main as parity_main

    readme = tmp_path / "README.md"
    readme.write_text(
        "# title\n\n<!-- begin: tiny -->\nold table\n<!-- end: tiny -->\n"
        "after\n"
    )
    parity_main(
        [
            "--random-weights",
            "--model",
            "encnet_jpu",
            "--neck-width",
            "16",
            *TINY_CLI_OPTIONS,
            "--input-size",
            "64x64",
            "--count",
            "2",
            "--runs",
            "2",
            "--markdown",
            str(tmp_path / "table.md"),
            "--update-readme",
            str(readme),
            "--section",
            "tiny",
        ]
    )
    table = (tmp_path / "table.md").read_text()
    updated = readme.read_text()
    assert "old table" not in updated and updated.endswith("after\n")
    assert updated.startswith(
        "# title\n\n<!-- begin: tiny -->\n`fastfcn export-parity "
        "--random-weights --model encnet_jpu"
    )
    assert table.strip() in updated
    assert "- tflite_int8" not in table  # int8 has no parity goal
    assert "TFLite int8 speed-up over fp32" in table
    for name in (
        "keras",
        "keras_direct",
        "saved_model",
        "onnx",
        "tflite",
        "tflite_fp16",
        "tflite_int8",
    ):
        assert f"| {name} |" in table
    assert "| format |" in capsys.readouterr().out
