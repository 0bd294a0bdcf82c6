"""Benchmark models: parameters, GFLOPs, latency, training speed, memory.

    fastfcn benchmark --models encnet,encnet_jpu \\
        --backbone resnet50 --size 512 --batch 1 --threads 2
    fastfcn benchmark --suite cpu \\
        --reference-torch FastFCN --torch-python venv/bin/python

prints a table (and `--json PATH` writes it) with the trainable parameter
count, GFLOPs (counted by `benchmarks/flops.py`, TensorFlow backend; XLA's
cost analysis on JAX), and the median latency over `--runs` timed calls
after `--warmup` calls, for a compiled inference function (`tf.function`
on TensorFlow, `jax.jit` on JAX). With `--reference-torch DIR` (a checkout
of the official wuhuikai/FastFCN code) the official PyTorch model of each
configuration is timed in the same run, in a separate interpreter
(`--torch-python`), and the ratios are printed. `--train` adds training
images/s and peak memory per model (`keras_fastfcn.benchmarks.training`, one
process each). `--suite cpu|gpu` measures everything the project's speed
goals (`keras_fastfcn.benchmarks.goals`) name and prints each as MET / NOT MET.
`--fast-paths auto|off|portable|winograd|cropped` chooses which CPU
rewrites run (`keras_fastfcn.fast`; GFLOPs always count direct
convolutions), and `--also-direct MODELS` (set by `--suite cpu` for the EncNet
pairs) times those models again with direct convolutions and checks the
goals on them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from keras_fastfcn.benchmarks.goals import SUITES
from keras_fastfcn.benchmarks.goals import dilated_model
from keras_fastfcn.benchmarks.goals import flop_ratio
from keras_fastfcn.benchmarks.goals import speedup
from keras_fastfcn.cli.convert import official_model_names
from keras_fastfcn.constants import FAST_PATHS_MODES
from keras_fastfcn.utils.cli import HelpFormatter
from keras_fastfcn.utils.files import atomic_write_text
from keras_fastfcn.utils.runtime import configure_tensorflow_runtime
from keras_fastfcn.utils.runtime import set_cpu_threads

OFFICIAL_SCRIPT = Path(__file__).parent / "official_torch.py"


def _compiled_predict(model, jit_compile: bool):
    """Return `predict(x) -> numpy` compiled for the active backend, and a
    function counting its FLOPs (`None` when not available)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        from keras_fastfcn.benchmarks.flops import count_flops

        # Timed without copying the logits out (the official timing keeps
        # torch tensors too); TensorFlow's CPU ops finish before returning.
        function = tf.function(
            lambda x: _logits(model(x, training=False)),
            jit_compile=jit_compile,
        )
        return function, (lambda shape: count_flops(model, shape))
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

        return (lambda x: _logits(jitted(x)).block_until_ready()), flops
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


def measure_models(
    args, models: list[tuple[str, str]], mode: str, count: bool = True
) -> list[dict]:
    """`benchmark_model` rows of `(name, backbone)` pairs, each traced
    under `fast_paths(mode)`."""
    from keras_fastfcn.fast import fast_paths

    rows = []
    for name, backbone in models:
        print(f"benchmarking {name} ({backbone}, {mode}) ...", flush=True)
        with fast_paths(mode):
            row = benchmark_model(
                name,
                backbone,
                args.num_classes,
                args.size,
                args.batch,
                args.runs,
                args.warmup,
                args.jit_compile,
                count=count and not args.no_flops,
            )
        rows.append({**row, "fast_paths": mode})
    return rows


def _json_from_process(command: list[str], what: str):
    """Run `command`; the JSON object on the last line of its stdout."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{what} failed:\n" + result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def training_benchmark(name: str, backbone: str, args) -> dict:
    """`benchmarks/training.py` `measure_training` in a fresh interpreter, so
    that the peak memory is this model's alone."""
    command = [
        sys.executable,
        "-m",
        "keras_fastfcn.benchmarks.training",
        "--model",
        name,
        "--backbone",
        backbone,
        "--num-classes",
        str(args.num_classes),
        "--crop",
        str(args.train_crop),
        "--batch",
        str(args.train_batch),
        "--steps",
        str(args.train_steps),
        "--warmup",
        str(args.train_warmup),
        "--threads",
        str(args.threads),
    ]
    return _json_from_process(command, f"The training benchmark of {name}")


def official_timings(args, models: list[str], backbone: str) -> dict:
    """Run the official models in `--torch-python`; `{name: result}`."""
    official = set(official_model_names())
    supported = [m for m in models if m in official]
    if not supported:
        return {}
    command = [
        args.torch_python,
        str(OFFICIAL_SCRIPT),
        "--official-dir",
        args.reference_torch,
        "--models",
        ",".join(supported),
        "--backbone",
        backbone,
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
    return _json_from_process(command, "The official PyTorch timing")


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


def format_training_table(rows: list[dict]) -> str:
    header = (
        f"{'model':<16}{'backbone':<11}{'crop':>6}{'batch':>7}"
        f"{'s/step':>9}{'img/s':>8}{'peak RSS MiB':>14}{'tensors MiB':>13}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        tensors = row.get("allocator_peak_mb")
        lines.append(
            f"{row['model']:<16}{row['backbone']:<11}{row['crop']:>6}"
            f"{row['batch']:>7}{row['median_step_s']:>9.2f}"
            f"{row['images_per_s']:>8.2f}{row['peak_rss_mb']:>14.0f}"
            + (f"{tensors:>13.0f}" if tensors else f"{'-':>13}")
        )
    return "\n".join(lines)


def _by_model(rows: list[dict]) -> dict:
    """`{(model, backbone): row}`."""
    return {(row["model"], row["backbone"]): row for row in rows}


def _pairs(rows: list[dict]):
    """`(fast_row, dilated_row)` for every `<head>_<neck>` row whose
    dilated `<head>` row on the same backbone was measured."""
    by_model = _by_model(rows)
    for row in rows:
        head = dilated_model(row["model"])
        base = by_model.get((head, row["backbone"]))
        if head != row["model"] and base is not None:
            yield row, base


def speedups(rows: list[dict]) -> list[str]:
    """`"<head>_jpu vs <head> (resnet50): 2.1x faster (FLOP ratio 2.3x)"`."""
    lines = []
    for row, base in _pairs(rows):
        line = (
            f"{row['model']} vs {base['model']} ({row['backbone']}): "
            f"{speedup(row, base):.2f}x faster"
        )
        ratio = flop_ratio(row, base)
        if ratio is not None:
            line += f" (FLOP ratio {ratio:.2f}x)"
        if base.get("official_median_s") and row.get("official_median_s"):
            official = base["official_median_s"] / row["official_median_s"]
            line += f"; official code: {official:.2f}x"
        lines.append(line)
    return lines


def training_ratios(rows: list[dict]) -> list[str]:
    """Training images/s and peak memory of each neck vs its dilated model."""
    lines = []
    for row, base in _pairs(rows):
        line = (
            f"training {row['model']} vs {base['model']} ({row['backbone']}, "
            f"crop {row['crop']}, batch {row['batch']}): "
            f"{row['images_per_s'] / base['images_per_s']:.2f}x images/s, "
            f"peak RSS {row['peak_rss_mb'] / base['peak_rss_mb']:.2f}x"
        )
        if row.get("allocator_peak_mb") and base.get("allocator_peak_mb"):
            ratio = row["allocator_peak_mb"] / base["allocator_peak_mb"]
            line += f", peak tensor memory {ratio:.2f}x"
        lines.append(line)
    return lines


def check_goals(goals, rows: list[dict]) -> list[dict]:
    """Each goal with its measured value and whether it is met (`None`
    when the rows it needs were not measured)."""
    by_model = _by_model(rows)
    results = []
    for goal in goals:
        row = by_model.get((goal.model, goal.backbone))
        base = by_model.get((dilated_model(goal.model), goal.backbone))
        value = None
        if row is not None:
            value = goal.measure(row, base)
        results.append(
            {
                "goal": goal.describe(),
                "value": value,
                "met": None if value is None else goal.met(value),
            }
        )
    return results


def format_goals(results: list[dict]) -> str:
    lines = []
    for result in results:
        verdict = {True: "MET", False: "NOT MET", None: "not measured"}[
            result["met"]
        ]
        value = result["value"]
        shown = "-" if value is None else f"{value:.3g}"
        lines.append(f"[{verdict:>12}] {result['goal']}: {shown}")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="fastfcn benchmark",
        description="Parameters, GFLOPs and latency of keras_fastfcn models.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--suite",
        choices=sorted(SUITES),
        help="Measure everything the speed goals need and check them "
        "(sets --models, --size, --batch, --threads, --train, ...).",
    )
    parser.add_argument(
        "--models",
        default="encnet,encnet_jpu",
        help="Comma-separated names, each optionally NAME:BACKBONE.",
    )
    parser.add_argument(
        "--backbone", default="resnet50", help="backbone of NAME entries"
    )
    parser.add_argument(
        "--num-classes", type=int, default=150, help="classes of the models"
    )
    parser.add_argument(
        "--size", type=int, default=512, help="square input size, pixels"
    )
    parser.add_argument("--batch", type=int, default=1, help="images per call")
    parser.add_argument("--runs", type=int, default=10, help="timed calls")
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed calls before them"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads (0: all)."
    )
    parser.add_argument(
        "--jit-compile", action="store_true", help="compile with XLA"
    )
    parser.add_argument(
        "--fast-paths",
        choices=FAST_PATHS_MODES,
        default="auto",
        help="Which CPU rewrites run (keras_fastfcn.fast): auto (default; "
        "in TensorFlow CPU inference cropped taps for strongly dilated "
        "convolutions and Winograd for large 3x3 ones), portable (direct "
        "convolutions, as exported graphs), off (the official operations "
        "exactly), winograd or cropped (forced).",
    )
    parser.add_argument(
        "--dtype-policy",
        help="Keras dtype policy for the timed models, e.g. mixed_bfloat16.",
    )
    parser.add_argument(
        "--no-flops", action="store_true", help="skip counting GFLOPs"
    )
    parser.add_argument(
        "--also-direct",
        metavar="MODELS",
        help="Also time MODELS with direct convolutions and check the goals "
        "on them (the ratios proportional to FLOPs; see README 'Speed').",
    )
    parser.add_argument(
        "--train",
        nargs="?",
        const="all",
        metavar="MODELS",
        help="Also measure training images/s and peak memory (TensorFlow, "
        "one process per model) of MODELS (default: all of --models).",
    )
    parser.add_argument(
        "--train-crop", type=int, default=480, help="training crop, pixels"
    )
    parser.add_argument(
        "--train-batch", type=int, default=2, help="training batch size"
    )
    parser.add_argument(
        "--train-steps", type=int, default=3, help="timed training steps"
    )
    parser.add_argument(
        "--train-warmup", type=int, default=2, help="untimed steps first"
    )
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
    args.goals = []
    if args.suite:
        suite = SUITES[args.suite]
        args.models = ",".join(suite["models"])
        args.size, args.batch = suite["size"], suite["batch"]
        args.threads = suite["threads"]
        args.dtype_policy = suite.get("dtype_policy", args.dtype_policy)
        args.train = ",".join(suite["train"]) or None
        args.also_direct = ",".join(suite.get("also_direct", [])) or None
        args.goals = suite["goals"]
    args.models = _model_specs(args.models, args.backbone)
    if args.train == "all":
        args.train = list(args.models)
    elif args.train:
        args.train = _model_specs(args.train, args.backbone)
    if args.also_direct:
        args.also_direct = _model_specs(args.also_direct, args.backbone)
    return args


def _model_specs(text: str, default_backbone: str) -> list[tuple[str, str]]:
    """`"a,b:resnet101"` -> `[("a", default_backbone), ("b", "resnet101")]`."""
    specs = []
    for item in text.split(","):
        name, _, backbone = item.strip().partition(":")
        if name:
            specs.append((name, backbone or default_backbone))
    return specs


def main(argv=None) -> dict:
    configure_tensorflow_runtime()
    args = parse_args(argv)
    set_cpu_threads(args.threads)
    if args.dtype_policy:
        import keras

        keras.config.set_dtype_policy(args.dtype_policy)
    rows = measure_models(args, args.models, args.fast_paths)
    direct_rows = []
    if args.also_direct and args.fast_paths not in ("off", "portable"):
        counted = _by_model(rows)
        for row in measure_models(args, args.also_direct, "portable", False):
            same = counted.get((row["model"], row["backbone"]), {})
            flops = same.get("gflops_per_image")
            direct_rows.append({**row, "gflops_per_image": flops})
    if args.reference_torch:
        for backbone in dict.fromkeys(b for _, b in args.models):
            names = [n for n, b in args.models if b == backbone]
            print(f"timing the official PyTorch models ({backbone}) ...")
            official = official_timings(args, names, backbone)
            for row in rows:
                result = official.get(row["model"])
                if row["backbone"] == backbone and result:
                    row["official_latency_s"] = result["latency_s"]
                    row["official_median_s"] = statistics.median(
                        result["latency_s"]
                    )
                    row["official_params"] = result["params"]
    training = []
    for name, backbone in args.train or []:
        print(f"training {name} ({backbone}) ...", flush=True)
        training.append(training_benchmark(name, backbone, args))
    print(
        f"\n{args.size}x{args.size}, batch {args.batch}, "
        f"threads {args.threads or 'all'}, {args.runs} runs, "
        f"fast paths {args.fast_paths}"
        + (f", dtype policy {args.dtype_policy}" if args.dtype_policy else "")
        + "\n"
    )
    print(format_table(rows))
    for line in speedups(rows):
        print(line)
    if training:
        print(
            f"\ntraining: crop {args.train_crop}, batch {args.train_batch}, "
            f"median of {args.train_steps} steps after {args.train_warmup}\n"
        )
        print(format_training_table(training))
        for line in training_ratios(training):
            print(line)
    goals = check_goals(args.goals, rows)
    if goals:
        print("\ngoals:")
        print(format_goals(goals))
    results = {"inference": rows, "training": training, "goals": goals}
    if direct_rows:
        direct_goals = [
            goal
            for goal in check_goals(args.goals, direct_rows)
            if goal["met"] is not None
        ]
        print("\nthe same with direct convolutions (--fast-paths portable):\n")
        print(format_table(direct_rows))
        for line in speedups(direct_rows):
            print(line)
        if direct_goals:
            print(format_goals(direct_goals))
        results["direct_convolutions"] = {
            "inference": direct_rows,
            "goals": direct_goals,
        }
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=2))
        print(f"\nwrote {args.json}")
    return results


if __name__ == "__main__":
    main()
