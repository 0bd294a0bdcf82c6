"""`fastfcn export-parity`: export a model to every format, run each in
its runtime and compare it with Keras (agreement, logit error, latency,
size). The measurement is `keras_fastfcn/benchmarks/export_parity.py`."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from keras_fastfcn.cli.model_options import add_model_arguments
from keras_fastfcn.constants import PARITY_FORMATS as FORMATS
from keras_fastfcn.utils.cli import HelpFormatter


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
    parser.add_argument("--markdown", type=Path, help="also write the table")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Export, run and compare every format; prints (and writes) the
    table."""
    args = parse_arguments(argv)
    from keras_fastfcn.benchmarks.export_parity import _size_mb
    from keras_fastfcn.benchmarks.export_parity import export_formats
    from keras_fastfcn.benchmarks.export_parity import format_table
    from keras_fastfcn.benchmarks.export_parity import measure_parity
    from keras_fastfcn.benchmarks.export_parity import parity_images
    from keras_fastfcn.cli.model_options import model_from_arguments
    from keras_fastfcn.evaluate import compiled_logits
    from keras_fastfcn.export.calibration import calibration_images
    from keras_fastfcn.export.preprocessing import parse_input_size

    input_size = parse_input_size(args.input_size)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    model = model_from_arguments(args)
    images = parity_images(args.images, input_size, args.count)
    calibration = args.calibration_images or args.images

    def representative():
        if calibration:
            return calibration_images(
                calibration, input_size, args.calibration_count
            )
        return iter(images)

    with tempfile.TemporaryDirectory() as tmp:
        work_dir = args.work_dir or Path(tmp)
        exports = export_formats(
            model, work_dir, input_size, formats, representative
        )
        runners = {"keras": compiled_logits(model)}
        runners.update({name: run for name, (run, _) in exports.items()})
        sizes = {name: _size_mb(path) for name, (_, path) in exports.items()}
        results = measure_parity(
            runners, images, runs=args.runs, sizes_mb=sizes
        )
    table = format_table(results)
    header = (
        f"{model.name}, input {input_size[0]}x{input_size[1]}, "
        f"{len(images)} images ({'files' if args.images else 'noise'}), "
        f"batch 1, {args.runs} timed runs"
    )
    print(header)
    print(table)
    if args.markdown:
        args.markdown.write_text(f"{header}\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
