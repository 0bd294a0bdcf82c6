"""`python -m keras_fastfcn.export`: SavedModel (TF Serving), TFLite, ONNX.

    # TF Serving: writes MODEL_DIR/<next version>/
    python -m keras_fastfcn.export --format saved_model --output models/seg \\
        --model-file model.keras --size 512 [--probabilities]
    # TFLite / LiteRT with a fixed input size
    python -m keras_fastfcn.export --format tflite --output seg.tflite \\
        --model-file model.keras --input-size 512x512 --quantize int8 \\
        --calibration-images data/camvid/train.txt
    # ONNX (opset 17, dynamic batch / height / width)
    python -m keras_fastfcn.export --format onnx --output seg.onnx \\
        --model-file model.keras
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from keras_fastfcn.export.calibration import calibration_images
from keras_fastfcn.export.onnx import MIN_OPSET
from keras_fastfcn.export.onnx import export_onnx
from keras_fastfcn.export.preprocessing import ResizePolicy
from keras_fastfcn.export.preprocessing import parse_input_size
from keras_fastfcn.export.saved_model import export_saved_model
from keras_fastfcn.export.tflite import QUANTIZE_MODES
from keras_fastfcn.export.tflite import export_tflite
from keras_fastfcn.models.loading import add_model_arguments
from keras_fastfcn.models.loading import model_from_arguments

FORMATS = ("saved_model", "tflite", "onnx")


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m keras_fastfcn.export",
        description="Export a segmentation model for deployment.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument(
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
        help="resize policy in the graph: 'none' (default: keep the size), "
        "long side ('512') or fixed 'HxW'",
    )
    serving.add_argument("--pad-multiple", type=int, default=32)
    serving.add_argument(
        "--probabilities",
        action="store_true",
        help="add softmax probabilities (batch, h, w, classes) outputs",
    )
    serving.add_argument("--overwrite", action="store_true")
    fixed = parser.add_argument_group("tflite / onnx")
    fixed.add_argument(
        "--input-size",
        help="HxW fixed in the graph (required for tflite; onnx: optional)",
    )
    fixed.add_argument("--quantize", default="none", choices=QUANTIZE_MODES)
    fixed.add_argument(
        "--calibration-images",
        nargs="+",
        type=Path,
        help="int8: image dirs, files or .txt lists to calibrate on",
    )
    fixed.add_argument("--calibration-count", type=int, default=100)
    fixed.add_argument("--opset", type=int, default=MIN_OPSET)
    return parser.parse_args(argv)


def check_options(args: argparse.Namespace) -> None:
    """Refuse option combinations that do not fit `--format` (before the
    model is loaded)."""
    if args.format == "saved_model":
        if args.input_size is not None:
            raise ValueError(
                "--input-size is for tflite / onnx; a SavedModel takes any "
                "size: use --size for its resize policy."
            )
        return
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
    check_options(args)
    input_size = parse_input_size(args.input_size) if args.input_size else None
    model = model_from_arguments(args)
    if args.format == "saved_model":
        return export_saved_model(
            model,
            args.output,
            version=args.version,
            policy=ResizePolicy.from_string(args.size, args.pad_multiple),
            with_probabilities=args.probabilities,
            overwrite=args.overwrite,
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
    sys.exit(main())
