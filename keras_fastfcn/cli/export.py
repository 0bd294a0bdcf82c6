"""`fastfcn export`: SavedModel (TF Serving), TFLite, ONNX.

    # TF Serving: writes MODEL_DIR/<next version>/ (--fast-paths cpu for
    # CPU serving, the default without GPU; portable for GPU serving)
    fastfcn export --format saved_model --output models/seg \\
        --model-file model.keras --size 512 [--probabilities]
    # a preset (fastfcn train writes RUN_DIR/preset): the class names and
    # palette go into assets.extra/keras_fastfcn.json, --size defaults to
    # the training base size
    fastfcn export --format saved_model --output models/seg \\
        --preset runs/x/preset
    # TFLite / LiteRT with a fixed input size
    fastfcn export --format tflite --output seg.tflite \\
        --model-file model.keras --input-size 512x512 --quantize int8 \\
        --calibration-images data/camvid/train.txt
    # ONNX (opset 17, dynamic batch / height / width)
    fastfcn export --format onnx --output seg.onnx \\
        --model-file model.keras
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from keras_fastfcn.cli.model_options import add_model_arguments
from keras_fastfcn.cli.model_options import model_from_arguments
from keras_fastfcn.cli.model_options import preset_metadata_from_arguments
from keras_fastfcn.constants import DEFAULT_MAX_IMAGE_SIZE
from keras_fastfcn.constants import EXPORT_FAST_PATHS
from keras_fastfcn.constants import MIN_OPSET
from keras_fastfcn.constants import QUANTIZE_MODES
from keras_fastfcn.utils.cli import HelpFormatter
from keras_fastfcn.utils.cli import OneLineArgumentParser
from keras_fastfcn.utils.cli import UserError
from keras_fastfcn.utils.cli import check_model_arguments
from keras_fastfcn.utils.cli import run_cli

FORMATS = ("saved_model", "tflite", "onnx")
PROG = "fastfcn export"


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = OneLineArgumentParser(
        prog=PROG,
        description="Export a segmentation model for deployment.",
        formatter_class=HelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--format", required=True, choices=FORMATS, help="what to write"
    )
    output.add_argument(
        "--output",
        type=Path,
        required=True,
        help="saved_model: the model directory (a version sub-directory is "
        "created in it); tflite / onnx: the file",
    )
    add_model_arguments(parser)
    serving = parser.add_argument_group("saved_model")
    serving.add_argument(
        "--version", type=int, help="version directory (default: next free)"
    )
    serving.add_argument(
        "--size",
        help="resize policy in the graph: 'none' (default: keep the size; "
        "with --preset: the training base size), long side ('512') or "
        "fixed 'HxW'",
    )
    serving.add_argument(
        "--pad-multiple",
        type=int,
        default=32,
        help="pad images to a multiple of this in the graph",
    )
    serving.add_argument(
        "--probabilities",
        action="store_true",
        help="add softmax probabilities (batch, h, w, classes) outputs",
    )
    serving.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --version directory",
    )
    serving.add_argument(
        "--fast-paths",
        choices=EXPORT_FAST_PATHS,
        help="cpu: Winograd / cropped-tap convolutions in the graph, for "
        "CPU serving; portable: direct convolutions, for GPU serving "
        "(default: cpu on a machine without GPU, else portable)",
    )
    serving.add_argument(
        "--max-image-size",
        type=int,
        help="largest image height or width (pixels) the signatures accept; "
        f"bigger images are refused (default: {DEFAULT_MAX_IMAGE_SIZE})",
    )
    fixed = parser.add_argument_group("tflite / onnx")
    fixed.add_argument(
        "--input-size",
        help="HxW fixed in the graph (required for tflite; onnx: optional)",
    )
    fixed.add_argument(
        "--quantize",
        default="none",
        choices=QUANTIZE_MODES,
        help="tflite weight quantization (int8: with --calibration-images)",
    )
    fixed.add_argument(
        "--calibration-images",
        nargs="+",
        type=Path,
        help="int8: image dirs, files or .txt lists to calibrate on",
    )
    fixed.add_argument(
        "--calibration-count",
        type=int,
        default=100,
        help="int8: calibration images to use",
    )
    fixed.add_argument(
        "--opset",
        type=int,
        default=MIN_OPSET,
        help=f"onnx opset (at least {MIN_OPSET})",
    )
    return parser.parse_args(argv)


def check_options(args: argparse.Namespace) -> None:
    """Refuse option combinations that do not fit `--format`, malformed
    sizes and missing model files (before the model is loaded)."""
    from keras_fastfcn.export.preprocessing import ResizePolicy
    from keras_fastfcn.export.preprocessing import parse_input_size
    from keras_fastfcn.export.serving import check_max_image_size

    check_model_arguments(args)
    if args.format == "saved_model":
        if args.input_size is not None:
            raise ValueError(
                "--input-size is for tflite / onnx; a SavedModel takes any "
                "size: use --size for its resize policy."
            )
        ResizePolicy.from_string(args.size, args.pad_multiple)
        if args.max_image_size is not None:
            check_max_image_size(args.max_image_size)
        if args.version is not None and args.version < 0:
            raise UserError(
                f"--version must be a non-negative integer, got {args.version}."
            )
        if args.output.exists() and not args.output.is_dir():
            raise FileExistsError(
                f"--output {args.output} is an existing file; a SavedModel "
                "is written to a model directory."
            )
        return
    if args.max_image_size is not None:
        raise UserError(
            "--max-image-size is for saved_model; tflite / onnx take the "
            "fixed --input-size."
        )
    if args.fast_paths is not None:
        raise UserError(
            "--fast-paths is for saved_model; tflite / onnx graphs always "
            "use direct convolutions (their runtimes pick the algorithm, "
            "and int8 Winograd tiles would lose accuracy)."
        )
    if args.output.is_dir():
        raise IsADirectoryError(
            f"--output {args.output} is a directory; {args.format} is "
            "written to a file."
        )
    if args.input_size is not None:
        parse_input_size(args.input_size)
    if args.size is not None:
        raise ValueError(
            "--size is the SavedModel resize policy; tflite / onnx take "
            "normalised images of the --input-size."
        )
    if args.format == "tflite" and args.input_size is None:
        raise ValueError(
            "TFLite needs a fixed input size: pass --input-size HxW, e.g. "
            "--input-size 512x512."
        )


def export(args: argparse.Namespace) -> Path:
    """Run the export that `args` describe; returns what was written."""
    from keras_fastfcn.export.calibration import calibration_images
    from keras_fastfcn.export.onnx import export_onnx
    from keras_fastfcn.export.preprocessing import ResizePolicy
    from keras_fastfcn.export.preprocessing import parse_input_size
    from keras_fastfcn.export.saved_model import export_saved_model
    from keras_fastfcn.export.saved_model import preset_labels
    from keras_fastfcn.export.tflite import export_tflite

    check_options(args)
    input_size = parse_input_size(args.input_size) if args.input_size else None
    model = model_from_arguments(args)
    metadata = preset_metadata_from_arguments(args)
    if args.format == "saved_model":
        size = args.size
        if size is None and metadata is not None and metadata.base_size:
            size = str(metadata.base_size)  # the training resolution
        return export_saved_model(
            model,
            args.output,
            version=args.version,
            policy=ResizePolicy.from_string(size, args.pad_multiple),
            with_probabilities=args.probabilities,
            overwrite=args.overwrite,
            max_image_size=args.max_image_size or DEFAULT_MAX_IMAGE_SIZE,
            labels=preset_labels(metadata) if metadata else None,
            fast_paths=args.fast_paths,
        )
    if args.format == "onnx":
        return export_onnx(model, args.output, args.opset, input_size)
    representative = None
    if args.calibration_images:

        def representative():
            return calibration_images(
                args.calibration_images, input_size, args.calibration_count
            )

    return export_tflite(
        model, args.output, input_size, args.quantize, representative
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    path = export(args)
    print(f"Exported {args.format} to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, PROG))
