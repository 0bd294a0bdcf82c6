"""Benchmark models: parameters, GFLOPs and inference latency.

    python -m keras_fastfcn.benchmark --models encnet,encnet_jpu \\
        --backbone resnet50 --size 512 --batch 1 --threads 2

prints a table (and `--json PATH` writes it) with the trainable parameter
count, GFLOPs (counted by `keras_fastfcn.flops`, TensorFlow backend; XLA's
cost analysis on JAX), and the median latency over `--runs` timed calls
after `--warmup` calls, for a compiled inference function (`tf.function`
on TensorFlow, `jax.jit` on JAX). With `--reference-torch DIR` (a checkout
of the official wuhuikai/FastFCN code) the official PyTorch model of each
configuration is timed in the same run, in a separate interpreter
(`--torch-python`), and the ratios are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from keras_fastfcn.utils.files import atomic_write_text

OFFICIAL_SCRIPT = (
    Path(__file__).parent / "reference" / "official_torch_timing.py"
)


def _configure_threads(threads: int) -> None:
    if not threads:
        return
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            print(
                f"warning: TensorFlow is already running; --threads {threads} "
                "cannot take effect in this process."
            )


def _compiled_predict(model, jit_compile: bool):
    """Return `predict(x) -> numpy` compiled for the active backend, and a
    function counting its FLOPs (`None` when not available)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        from keras_fastfcn.evaluate import compiled_logits
        from keras_fastfcn.flops import count_flops

        return compiled_logits(model, jit_compile), (
            lambda shape: count_flops(model, shape)
        )
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def forward(x):
            out, _ = model.stateless_call(
                trainable, non_trainable, x, training=False
            )
            return out

        jitted = jax.jit(forward)

        def flops(shape):
            compiled = jitted.lower(np.zeros(shape, "float32")).compile()
            cost = compiled.cost_analysis()
            cost = cost[0] if isinstance(cost, list) else cost
            return int(cost["flops"])

        return (lambda x: np.asarray(jitted(x))), flops
    return (lambda x: model.predict_on_batch(x)), None


def _logits(output):
    return output["logits"] if isinstance(output, dict) else output


def time_calls(function, x, runs: int, warmup: int) -> list[float]:
    """Seconds taken by each of `runs` calls of `function(x)` after
    `warmup` untimed calls."""
    for _ in range(warmup):
        _logits(function(x))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        _logits(function(x))
        times.append(time.perf_counter() - start)
    return times


def benchmark_model(
    name: str,
    backbone: str,
    num_classes: int,
    size: int,
    batch: int,
    runs: int,
    warmup: int,
    jit_compile: bool = False,
    count: bool = True,
) -> dict:
    """Parameters, FLOPs and latency of one model on random input."""
    import keras_fastfcn

    model = keras_fastfcn.build_model(name, backbone, num_classes)
    params = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    predict, flops = _compiled_predict(model, jit_compile)
    shape = (batch, size, size, 3)
    gflops = flops(shape) / 1e9 / batch if (count and flops) else None
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    times = time_calls(predict, x, runs, warmup)
    return {
        "model": name,
        "backbone": backbone,
        "params": params,
        "gflops_per_image": gflops,
        "latency_s": times,
        "median_s": statistics.median(times),
        "images_per_s": batch / statistics.median(times),
    }


def official_timings(args) -> dict:
    """Run the official models in `--torch-python`; `{name: result}`."""
    supported = [
        m for m in args.models if m.partition("_")[2] in ("", "jpu", "jpux")
    ]
    command = [
        args.torch_python,
        str(OFFICIAL_SCRIPT),
        "--official-dir",
        args.reference_torch,
        "--models",
        ",".join(supported),
        "--backbone",
        args.backbone,
        "--num-classes",
        str(args.num_classes),
        "--size",
        str(args.size),
        "--batch",
        str(args.batch),
        "--runs",
        str(args.runs),
        "--warmup",
        str(args.warmup),
        "--threads",
        str(args.threads),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(
            "The official PyTorch timing failed:\n" + result.stderr[-2000:]
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def format_table(rows: list[dict]) -> str:
    header = (
        f"{'model':<16}{'backbone':<11}{'params':>12}{'GFLOPs':>9}"
        f"{'median ms':>11}{'img/s':>8}{'official ms':>13}{'ours/off':>10}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        gflops = row["gflops_per_image"]
        official = row.get("official_median_s")
        lines.append(
            f"{row['model']:<16}{row['backbone']:<11}{row['params']:>12,}"
            f"{gflops if gflops is not None else float('nan'):>9.1f}"
            f"{row['median_s'] * 1e3:>11.1f}{row['images_per_s']:>8.2f}"
            + (
                f"{official * 1e3:>13.1f}{row['median_s'] / official:>10.2f}"
                if official
                else f"{'-':>13}{'-':>10}"
            )
        )
    return "\n".join(lines)


def speedups(rows: list[dict]) -> list[str]:
    """`"<head>_jpu vs <head>: 2.1x faster (FLOP ratio 2.3x)"` lines."""
    by_name = {row["model"]: row for row in rows}
    lines = []
    for row in rows:
        head, _, neck = row["model"].partition("_")
        base = by_name.get(head)
        if not neck or base is None:
            continue
        line = (
            f"{row['model']} vs {head}: "
            f"{base['median_s'] / row['median_s']:.2f}x faster"
        )
        if base["gflops_per_image"] and row["gflops_per_image"]:
            ratio = base["gflops_per_image"] / row["gflops_per_image"]
            line += f" (FLOP ratio {ratio:.2f}x)"
        if base.get("official_median_s") and row.get("official_median_s"):
            official = base["official_median_s"] / row["official_median_s"]
            line += f"; official code: {official:.2f}x"
        lines.append(line)
    return lines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m keras_fastfcn.benchmark",
        description="Parameters, GFLOPs and latency of keras_fastfcn models.",
    )
    parser.add_argument("--models", default="encnet,encnet_jpu")
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--num-classes", type=int, default=150)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads (0: all)."
    )
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--no-flops", action="store_true")
    parser.add_argument(
        "--reference-torch",
        metavar="DIR",
        help="Checkout of the official FastFCN code to time side by side.",
    )
    parser.add_argument(
        "--torch-python",
        default=sys.executable,
        help="Python with torch installed for --reference-torch.",
    )
    parser.add_argument("--json", metavar="PATH", help="Write results here.")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    return args


def main(argv=None) -> list[dict]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse_args(argv)
    _configure_threads(args.threads)
    rows = []
    for name in args.models:
        print(f"benchmarking {name} ({args.backbone}) ...", flush=True)
        rows.append(
            benchmark_model(
                name,
                args.backbone,
                args.num_classes,
                args.size,
                args.batch,
                args.runs,
                args.warmup,
                args.jit_compile,
                count=not args.no_flops,
            )
        )
    if args.reference_torch:
        print("timing the official PyTorch models ...", flush=True)
        official = official_timings(args)
        for row in rows:
            if row["model"] in official:
                result = official[row["model"]]
                row["official_latency_s"] = result["latency_s"]
                row["official_median_s"] = statistics.median(
                    result["latency_s"]
                )
                row["official_params"] = result["params"]
    print(
        f"\n{args.size}x{args.size}, batch {args.batch}, "
        f"threads {args.threads or 'all'}, {args.runs} runs\n"
    )
    print(format_table(rows))
    for line in speedups(rows):
        print(line)
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=2))
        print(f"\nwrote {args.json}")
    return rows


if __name__ == "__main__":
    main()
