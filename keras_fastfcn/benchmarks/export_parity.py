"""Parity and speed of every export format against the Keras model.

    fastfcn export-parity --random-weights --model encnet_jpu \\
        --backbone resnet50 --num-classes 150 --input-size 512x512 \\
        --images data/camvid/val.txt --count 8

exports the model to each format in a temporary (or `--work-dir`)
directory, runs the same images through Keras and each export, and prints
a Markdown table: max / mean absolute difference of the logits, arg-max
agreement with Keras, median latency (batch 1, after warm-up) and size.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable
from typing import Sequence

import keras
import numpy as np

from keras_fastfcn.constants import PARITY_FORMATS
from keras_fastfcn.data import normalize
from keras_fastfcn.export.calibration import calibration_images
from keras_fastfcn.export.onnx import export_onnx
from keras_fastfcn.export.runtimes import OnnxRunner
from keras_fastfcn.export.runtimes import SavedModelRunner
from keras_fastfcn.export.runtimes import TFLiteRunner
from keras_fastfcn.export.saved_model import export_saved_model
from keras_fastfcn.export.tflite import export_tflite

FORMATS = PARITY_FORMATS


@dataclasses.dataclass
class ParityResult:
    """One row of the parity table (differences are against Keras)."""

    name: str
    max_abs_diff: float
    mean_abs_diff: float
    argmax_agreement: float
    latency_ms: float
    latency_std_ms: float
    size_mb: float | None = None


def compare_logits(reference: np.ndarray, logits: np.ndarray) -> tuple:
    """`(max abs diff, mean abs diff, arg-max agreement)` of two logits
    arrays `(batch, height, width, classes)`."""
    if reference.shape != logits.shape:
        raise ValueError(
            f"Logits shapes differ: {reference.shape} vs {logits.shape}."
        )
    diff = np.abs(reference.astype(np.float64) - logits)
    agreement = np.mean(reference.argmax(-1) == logits.argmax(-1))
    return float(diff.max()), float(diff.mean()), float(agreement)


def time_runner(
    runner: Callable, image: np.ndarray, runs: int = 10, warmup: int = 2
) -> tuple[float, float]:
    """Median and standard deviation in ms of `runner(image)`."""
    for _ in range(warmup):
        runner(image)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner(image)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times)), float(np.std(times))


def measure_parity(
    runners: dict[str, Callable],
    images: np.ndarray,
    reference: str = "keras",
    runs: int = 10,
    sizes_mb: dict[str, float] | None = None,
) -> list[ParityResult]:
    """Compare every runner with `runners[reference]` on `images`.

    Args:
        runners: `{name: callable}`, each mapping normalised float32
            `(1, height, width, 3)` images to logits.
        images: float32 `(count, height, width, 3)`, normalised.
        reference: the name of the reference runner. Default `"keras"`.
        runs: int, timed runs per runner (batch 1, after 2 warm-ups).
        sizes_mb: optional `{name: file size in MB}`.

    Returns:
        One `ParityResult` per runner, the reference first.
    """

    def run_all(runner):
        return np.concatenate([runner(image[None]) for image in images])

    expected = run_all(runners[reference])
    results = []
    for name in [reference] + [n for n in runners if n != reference]:
        logits = expected if name == reference else run_all(runners[name])
        latency, spread = time_runner(runners[name], images[:1], runs)
        results.append(
            ParityResult(
                name,
                *compare_logits(expected, logits),
                latency,
                spread,
                (sizes_mb or {}).get(name),
            )
        )
    return results


def format_table(results: Sequence[ParityResult]) -> str:
    """The results as a Markdown table."""
    base = results[0].latency_ms
    lines = [
        "| format | max abs diff | mean abs diff | arg-max agreement "
        "| latency ms (median ± std) | vs Keras | size MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        size = "" if r.size_mb is None else f"{r.size_mb:.1f}"
        lines.append(
            f"| {r.name} | {r.max_abs_diff:.3g} | {r.mean_abs_diff:.3g} "
            f"| {100 * r.argmax_agreement:.3f}% "
            f"| {r.latency_ms:.1f} ± {r.latency_std_ms:.1f} "
            f"| {base / r.latency_ms:.2f}x | {size} |"
        )
    return "\n".join(lines)


def export_formats(
    model: keras.Model,
    work_dir: Path,
    input_size: tuple[int, int],
    formats: Sequence[str],
    representative: Callable | None = None,
) -> dict[str, tuple[Callable, Path]]:
    """Export `model` to each of `formats` in `work_dir`; returns
    `{format: (runner, path)}`."""
    out = {}
    for name in formats:
        if name == "saved_model":
            path = export_saved_model(model, work_dir / "saved_model")
            out[name] = (SavedModelRunner(path), path)
        elif name == "onnx":
            path = export_onnx(model, work_dir / "model.onnx")
            out[name] = (OnnxRunner(path), path)
        elif name.startswith("tflite"):
            quantize = name.partition("_")[2] or "none"
            path = export_tflite(
                model,
                work_dir / f"{name}.tflite",
                input_size,
                quantize,
                representative,
            )
            out[name] = (TFLiteRunner(path), path)
        else:
            raise ValueError(
                f"Unknown format {name!r}; expected one of {FORMATS}."
            )
    return out


def _size_mb(path: Path) -> float:
    files = path.rglob("*") if path.is_dir() else [path]
    return sum(f.stat().st_size for f in files if f.is_file()) / 2**20


def parity_images(
    sources, input_size: tuple[int, int], count: int, seed: int = 0
) -> np.ndarray:
    """`count` normalised images from `sources`, or random uint8 noise
    when there are none: float32 `(count, height, width, 3)`."""
    if sources:
        return np.stack(list(calibration_images(sources, input_size, count)))
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (count, *input_size, 3), dtype=np.uint8)
    return normalize(pixels).numpy()
