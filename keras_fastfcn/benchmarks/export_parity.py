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


# Goals of the deployment tables (issue #19): fp32 exports within 1e-4 of
# the largest Keras logit and 99.99% arg-max agreement; latency ratios.
FP32_EXPORTS = ("saved_model", "onnx", "tflite")
MAX_RELATIVE_DIFF = 1e-4
MIN_AGREEMENT = 0.9999
SAVED_MODEL_VS_KERAS = 1.1
INT8_SPEEDUP = 2.0
ONNX_VS_KERAS_DIRECT = 1.0


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
    relative_max_diff: float = 0.0  # max abs diff / largest |Keras logit|


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


def time_runners(
    runners: dict[str, Callable],
    image: np.ndarray,
    runs: int = 10,
    warmup: int = 2,
) -> dict[str, tuple[float, float]]:
    """`{name: (median ms, std ms)}` of each `runner(image)`.

    The runners take turns (one call each per round), so that a change in
    the machine's speed during the measurement (another process, clock
    changes) affects them alike instead of whichever ran then.
    """
    for _ in range(warmup):
        for runner in runners.values():
            runner(image)
    times = {name: [] for name in runners}
    for _ in range(runs):
        for name, runner in runners.items():
            start = time.perf_counter()
            runner(image)
            times[name].append((time.perf_counter() - start) * 1e3)
    return {
        name: (float(np.median(t)), float(np.std(t)))
        for name, t in times.items()
    }


def time_runner(
    runner: Callable, image: np.ndarray, runs: int = 10, warmup: int = 2
) -> tuple[float, float]:
    """Median and standard deviation in ms of `runner(image)`."""
    return time_runners({"runner": runner}, image, runs, warmup)["runner"]


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
        runs: int, timed runs per runner (batch 1, after 2 warm-ups, the
            runners taking turns: `time_runners`).
        sizes_mb: optional `{name: file size in MB}`.

    Returns:
        One `ParityResult` per runner, the reference first.
    """

    def run_all(runner):
        return np.concatenate([runner(image[None]) for image in images])

    names = [reference] + [n for n in runners if n != reference]
    outputs = {name: run_all(runners[name]) for name in names}
    expected = outputs[reference]
    largest = max(float(np.abs(expected).max()), 1e-12)
    timings = time_runners({n: runners[n] for n in names}, images[:1], runs)
    results = []
    for name in names:
        max_abs, mean_abs, agreement = compare_logits(expected, outputs[name])
        results.append(
            ParityResult(
                name,
                max_abs,
                mean_abs,
                agreement,
                *timings[name],
                (sizes_mb or {}).get(name),
                max_abs / largest,
            )
        )
    return results


def format_table(results: Sequence[ParityResult]) -> str:
    """The results as a Markdown table ("vs Keras": the reference's
    latency over the row's; above 1 is faster)."""
    base = results[0].latency_ms
    lines = [
        "| format | max abs diff | max diff / max logit | mean abs diff "
        "| arg-max agreement | latency ms (median ± std) | vs Keras "
        "| size MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        size = "" if r.size_mb is None else f"{r.size_mb:.1f}"
        lines.append(
            f"| {r.name} | {r.max_abs_diff:.3g} | {r.relative_max_diff:.2g} "
            f"| {r.mean_abs_diff:.3g} | {100 * r.argmax_agreement:.3f}% "
            f"| {r.latency_ms:.1f} ± {r.latency_std_ms:.1f} "
            f"| {base / r.latency_ms:.2f}x | {size} |"
        )
    return "\n".join(lines)


def goal_lines(results: Sequence[ParityResult]) -> list[str]:
    """The deployment goals that `results` can show, one line each with
    the measured value and `met` / `NOT met`: fp32 parity of each fp32
    export, SavedModel vs the Keras fast path, int8 vs fp32 TFLite and
    ONNX vs Keras with direct convolutions."""
    rows = {r.name: r for r in results}
    keras_row = results[0]

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = []
    for name in FP32_EXPORTS:
        if name in rows:
            r = rows[name]
            ok = (
                r.relative_max_diff <= MAX_RELATIVE_DIFF
                and r.argmax_agreement >= MIN_AGREEMENT
            )
            lines.append(
                f"- {name} parity: max diff {r.relative_max_diff:.2g} x the "
                f"largest logit (goal <= {MAX_RELATIVE_DIFF:g}), arg-max "
                f"agreement {100 * r.argmax_agreement:.3f}% (goal >= "
                f"{100 * MIN_AGREEMENT:.2f}%): {verdict(ok)}"
            )
    latency_goals = [
        ("saved_model", keras_row, "Keras fast paths", SAVED_MODEL_VS_KERAS),
        (
            "onnx",
            rows.get("keras_direct"),
            "Keras direct",
            ONNX_VS_KERAS_DIRECT,
        ),
    ]
    for name, base, base_label, goal in latency_goals:
        if name in rows and base is not None:
            ratio = rows[name].latency_ms / base.latency_ms
            lines.append(
                f"- {name} latency / {base_label}: {ratio:.2f} (goal <= "
                f"{goal:g}): {verdict(ratio <= goal)}"
            )
    if "tflite" in rows and "tflite_int8" in rows:
        speedup = rows["tflite"].latency_ms / rows["tflite_int8"].latency_ms
        lines.append(
            f"- TFLite int8 speed-up over fp32: {speedup:.2f}x (goal >= "
            f"{INT8_SPEEDUP:g}x): {verdict(speedup >= INT8_SPEEDUP)}"
        )
    return lines


def export_formats(
    model: keras.Model,
    work_dir: Path,
    input_size: tuple[int, int],
    formats: Sequence[str],
    representative: Callable | None = None,
    saved_model_fast_paths: str | None = None,
    threads: int | None = None,
) -> dict[str, tuple[Callable, Path]]:
    """Export `model` to each of `formats` in `work_dir`; returns
    `{format: (runner, path)}`.

    `saved_model_fast_paths`: `"cpu"` or `"portable"` for the SavedModel
    (default: `default_export_fast_paths()`); `threads`: the TFLite and
    ONNX Runtime thread count (default: every core)."""
    out = {}
    for name in formats:
        if name == "saved_model":
            path = export_saved_model(
                model,
                work_dir / "saved_model",
                fast_paths=saved_model_fast_paths,
            )
            out[name] = (SavedModelRunner(path), path)
        elif name == "onnx":
            path = export_onnx(model, work_dir / "model.onnx")
            out[name] = (OnnxRunner(path, threads), path)
        elif name.startswith("tflite"):
            quantize = name.partition("_")[2] or "none"
            path = export_tflite(
                model,
                work_dir / f"{name}.tflite",
                input_size,
                quantize,
                representative,
            )
            out[name] = (TFLiteRunner(path, threads), path)
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
