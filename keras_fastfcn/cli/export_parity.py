"""`fastfcn export-parity`: export a model to every format, run each in
its runtime and compare it with Keras (agreement, logit error, latency,
size). The measurement is `keras_fastfcn/benchmarks/export_parity.py`."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from keras_fastfcn.cli.model_options import add_model_arguments
from keras_fastfcn.constants import EXPORT_FAST_PATHS
from keras_fastfcn.constants import PARITY_FORMATS as FORMATS
from keras_fastfcn.utils.cli import HelpFormatter
from keras_fastfcn.utils.files import atomic_write_text
from keras_fastfcn.utils.markdown import add_update_readme_arguments
from keras_fastfcn.utils.markdown import check_update_readme_arguments
from keras_fastfcn.utils.markdown import update_generated_section


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fastfcn export-parity",
        description="Parity and speed of every export format against the "
        "Keras model (keras_fastfcn/benchmarks/export_parity.py).",
        formatter_class=HelpFormatter,
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--input-size", default="512x512", help="HEIGHTxWIDTH of the exports"
    )
    parser.add_argument(
        "--formats",
        default=",".join(FORMATS),
        help=f"comma-separated subset of {','.join(FORMATS)}",
    )
    parser.add_argument(
        "--images",
        nargs="+",
        type=Path,
        help="image dirs, files or .txt lists (default: random noise)",
    )
    parser.add_argument(
        "--count", type=int, default=8, help="images compared per format"
    )
    parser.add_argument(
        "--calibration-images",
        nargs="+",
        type=Path,
        help="int8 calibration set (default: --images, or the noise)",
    )
    parser.add_argument(
        "--calibration-count", type=int, default=100, help="int8 images"
    )
    parser.add_argument("--runs", type=int, default=10, help="timed runs")
    parser.add_argument(
        "--work-dir", type=Path, help="keep the exports here (default: temp)"
    )
    parser.add_argument(
        "--saved-model-fast-paths",
        choices=EXPORT_FAST_PATHS,
        help="what the SavedModel carries (default: cpu without GPU)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="threads for every runtime: TensorFlow (intra-op), TFLite, "
        "ONNX Runtime (default: every core)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table")
    add_update_readme_arguments(parser, "the command, date, table and goals")
    args = parser.parse_args(argv)
    check_update_readme_arguments(parser, args)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Export, run and compare every format; prints (and writes) the
    table and the goals it shows."""
    args = parse_arguments(argv)
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    from keras_fastfcn.benchmarks.export_parity import _size_mb
    from keras_fastfcn.benchmarks.export_parity import export_formats
    from keras_fastfcn.benchmarks.export_parity import format_table
    from keras_fastfcn.benchmarks.export_parity import goal_lines
    from keras_fastfcn.benchmarks.export_parity import measure_parity
    from keras_fastfcn.benchmarks.export_parity import parity_images
    from keras_fastfcn.cli.model_options import model_from_arguments
    from keras_fastfcn.evaluate import compiled_logits
    from keras_fastfcn.export.calibration import calibration_images
    from keras_fastfcn.export.preprocessing import parse_input_size
    from keras_fastfcn.export.serving import check_export_fast_paths
    from keras_fastfcn.fast import fast_paths

    input_size = parse_input_size(args.input_size)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    saved_model_fast_paths = check_export_fast_paths(
        args.saved_model_fast_paths
    )
    model = model_from_arguments(args)
    images = parity_images(args.images, input_size, args.count)
    calibration = args.calibration_images or args.images

    def representative():
        if calibration:
            return calibration_images(
                calibration, input_size, args.calibration_count
            )
        return iter(images)

    direct = compiled_logits(model)

    def keras_direct(x):  # traced (on the first call) with direct convs
        with fast_paths("portable"):
            return direct(x)

    with tempfile.TemporaryDirectory() as tmp:
        work_dir = args.work_dir or Path(tmp)
        exports = export_formats(
            model,
            work_dir,
            input_size,
            formats,
            representative,
            saved_model_fast_paths,
            args.threads,
        )
        runners = {
            "keras": compiled_logits(model),
            "keras_direct": keras_direct,
        }
        runners.update({name: run for name, (run, _) in exports.items()})
        sizes = {name: _size_mb(path) for name, (_, path) in exports.items()}
        results = measure_parity(
            runners, images, runs=args.runs, sizes_mb=sizes
        )
    header = (
        f"{model.name}, input {input_size[0]}x{input_size[1]}, "
        f"{len(images)} images ({'files' if args.images else 'noise'}), "
        f"batch 1, {args.runs} timed runs taking turns, "
        f"{args.threads or os.cpu_count()} threads; keras = the model with "
        "its CPU fast paths, keras_direct = direct convolutions, "
        f"saved_model = --fast-paths {saved_model_fast_paths}"
    )
    report = "\n\n".join(
        [header, format_table(results), "\n".join(goal_lines(results))]
    )
    print(report)
    if args.markdown:
        atomic_write_text(args.markdown, report + "\n")
    if args.update_readme:
        arguments = sys.argv[1:] if argv is None else list(argv)
        update_generated_section(
            args.update_readme,
            args.section,
            ["fastfcn", "export-parity", *arguments],
            report,
        )
        print(f"updated section {args.section!r} of {args.update_readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
