"""`fastfcn evaluate`: pixAcc / mIoU of a model on a dataset split
(`keras_fastfcn.evaluate.evaluate_model`).

With `--preset RUN_DIR/preset` the dataset (and its `--data-dir` and
`--data-format` from the training config), `--base-size` and
`--crop-size` default to the preset's; without one, `--dataset` is
required and the sizes default to 520 / 480."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keras_fastfcn.utils.cli import run_cli

PROG = "fastfcn evaluate"
DEFAULT_BASE_SIZE = 520
DEFAULT_CROP_SIZE = 480


def parse_args(argv=None) -> argparse.Namespace:
    from keras_fastfcn.cli.data_options import add_split_arguments
    from keras_fastfcn.cli.model_options import add_model_arguments
    from keras_fastfcn.utils.cli import HelpFormatter
    from keras_fastfcn.utils.cli import OneLineArgumentParser

    parser = OneLineArgumentParser(
        prog=PROG,
        description="pixAcc / mIoU of a segmentation model on a dataset.",
        formatter_class=HelpFormatter,
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--tflite",
        type=Path,
        help="evaluate this .tflite file in the LiteRT interpreter instead "
        "of a Keras model (its input size must be the padded image size: "
        "--crop-size x --crop-size for images that fit one crop); "
        "--preset may still name the dataset and sizes",
    )
    add_split_arguments(parser, "val", "split to evaluate (train, val, ...)")
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument(
        "--multi-scale",
        action="store_true",
        help="average over the official scales (0.5 ... 1.75)",
    )
    evaluation.add_argument(
        "--flip", action="store_true", help="also average flipped images"
    )
    evaluation.add_argument(
        "--base-size",
        type=int,
        help=f"default: the preset's, else {DEFAULT_BASE_SIZE}",
    )
    evaluation.add_argument(
        "--crop-size",
        type=int,
        help=f"default: the preset's, else {DEFAULT_CROP_SIZE}",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--output-dir",
        default="runs/evaluation",
        help="folder for metrics.json, the confusion matrix and overlays",
    )
    output.add_argument(
        "--num-visualizations",
        type=int,
        default=4,
        help="overlays to write (0: none)",
    )
    return parser.parse_args(argv)


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse bad sizes, missing model files and an `--output-dir` that is
    a file before the dataset or the model is loaded."""
    from keras_fastfcn.utils.cli import UserError
    from keras_fastfcn.utils.cli import check_model_arguments
    from keras_fastfcn.utils.cli import check_positive

    if args.tflite is not None:
        if not args.tflite.is_file():
            raise FileNotFoundError(f"--tflite {args.tflite} does not exist.")
        if args.model_file or args.weights or args.random_weights:
            raise UserError(
                "--tflite is the model; leave out --model-file, --weights "
                "and --random-weights."
            )
    else:
        check_model_arguments(args)
    if args.dataset is None and args.preset is None:
        raise UserError(
            "Name the data with --dataset (or pass --preset RUN_DIR/preset, "
            "whose metadata names it)."
        )
    check_positive(args, "base_size", "crop_size", "max_images")
    if args.num_visualizations < 0:
        raise UserError(
            f"--num-visualizations must be >= 0, got {args.num_visualizations}."
        )
    output_dir = Path(args.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise FileExistsError(
            f"--output-dir {output_dir} is an existing file; pass a "
            "directory for metrics.json and the pictures."
        )
    local = args.data_dir is not None and "://" not in args.data_dir
    if local and not Path(args.data_dir).is_dir():
        raise FileNotFoundError(
            f"--data-dir {args.data_dir} is not a directory."
        )


def apply_preset_defaults(args: argparse.Namespace) -> None:
    """Fill `--dataset` (with the training `--data-dir`), `--base-size`
    and `--crop-size` from the `--preset` metadata where not given, then
    the fixed defaults."""
    from keras_fastfcn.cli.model_options import preset_metadata_from_arguments
    from keras_fastfcn.utils.cli import UserError

    metadata = preset_metadata_from_arguments(args)
    if metadata is not None:
        if args.dataset is None:
            if not metadata.dataset:
                raise UserError(
                    f"Preset {args.preset} names no dataset; pass --dataset."
                )
            args.dataset = metadata.dataset
            training = metadata.training or {}
            if args.data_dir is None and training.get("data_dir"):
                args.data_dir = training["data_dir"]
                args.data_format = training.get("data_format", "files")
        if args.base_size is None:
            args.base_size = metadata.base_size
        if args.crop_size is None:
            args.crop_size = metadata.crop_size
    if args.base_size is None:
        args.base_size = DEFAULT_BASE_SIZE
    if args.crop_size is None:
        args.crop_size = DEFAULT_CROP_SIZE


def main(argv=None) -> dict:
    """Evaluate; returns the results (`evaluate_model`)."""
    from keras_fastfcn.utils.runtime import configure_tensorflow_runtime

    configure_tensorflow_runtime()
    args = parse_args(argv)
    check_arguments(args)
    from keras_fastfcn.cli.model_options import model_from_arguments
    from keras_fastfcn.data import load_dataset
    from keras_fastfcn.evaluate import evaluate_model
    from keras_fastfcn.evaluate import format_results

    apply_preset_defaults(args)
    spec = load_dataset(
        args.dataset,
        args.data_dir,
        split=args.split,
        data_format=args.data_format,
    )
    if args.num_classes is None and not args.model_file:
        args.num_classes = spec.num_classes
    model, logits_fn = None, None
    if args.tflite is not None:
        from keras_fastfcn.export.runtimes import TFLiteRunner

        logits_fn = TFLiteRunner(args.tflite)
        if logits_fn.num_classes != spec.num_classes:
            raise ValueError(
                f"--tflite {args.tflite} predicts {logits_fn.num_classes} "
                f"classes but {args.dataset} has {spec.num_classes}."
            )
    else:
        model = model_from_arguments(args)
    results = evaluate_model(
        model,
        spec,
        multi_scale=args.multi_scale,
        flip=args.flip,
        base_size=args.base_size,
        crop_size=args.crop_size,
        max_images=args.max_images,
        output_dir=args.output_dir,
        num_visualizations=args.num_visualizations,
        logits_fn=logits_fn,
    )
    print(format_results(results))
    print(
        f"\nwrote metrics, confusion matrix and overlays to {args.output_dir}"
    )
    return results


if __name__ == "__main__":
    sys.exit(run_cli(main, PROG))
