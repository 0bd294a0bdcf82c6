"""`fastfcn calibrate`: fit per-class logit offsets of a trained preset for
mIoU on its training images and write a new preset that applies them
(`keras_fastfcn.calibration`).

The dataset, `--data-dir`, `--base-size` and `--crop-size` default to
the preset's, as in `fastfcn evaluate`. The source preset is never
changed; the new one holds the same weights and a `ClassBias` layer."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from keras_fastfcn.utils.cli import run_cli

PROG = "fastfcn calibrate"


def parse_args(argv=None) -> argparse.Namespace:
    from keras_fastfcn.cli.data_options import add_split_arguments
    from keras_fastfcn.utils.cli import HelpFormatter
    from keras_fastfcn.utils.cli import OneLineArgumentParser

    parser = OneLineArgumentParser(
        prog=PROG,
        description="Fit per-class logit offsets of a preset for mIoU on "
        "training images; write a calibrated preset.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--preset",
        type=Path,
        required=True,
        help="the trained preset (e.g. RUN_DIR/preset); left unchanged",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="the calibrated preset to write (default: PRESET_calibrated)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --output preset",
    )
    data = add_split_arguments(
        parser,
        "train",
        "split to fit on; not the one you report (default: train)",
    )
    data.add_argument(
        "--fraction",
        type=float,
        default=0.1,
        help="share of labelled pixels sampled per image (memory: "
        "4 bytes x classes per pixel)",
    )
    data.add_argument("--seed", type=int, default=0, help="pixel sample seed")
    data.add_argument(
        "--base-size", type=int, help="default: the preset's training size"
    )
    data.add_argument(
        "--crop-size", type=int, help="default: the preset's training size"
    )
    return parser.parse_args(argv)


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse a missing preset, bad sizes and an `--output` that would
    replace the source or another preset, before any model is loaded."""
    from keras_fastfcn.models.presets import is_preset
    from keras_fastfcn.utils.cli import UserError
    from keras_fastfcn.utils.cli import check_positive

    if not is_preset(args.preset):
        raise FileNotFoundError(
            f"--preset {args.preset} is not a preset directory (no "
            "config.json); pass RUN_DIR/preset from fastfcn train."
        )
    if args.output is None:
        args.output = args.preset.with_name(args.preset.name + "_calibrated")
    if args.output.resolve() == args.preset.resolve():
        raise UserError(
            "--output is the source preset; write the calibrated one to "
            "another directory."
        )
    if args.output.exists() and not args.overwrite:
        raise FileExistsError(
            f"--output {args.output} already exists; pass --overwrite to "
            "replace it or choose another directory."
        )
    if not 0.0 < args.fraction <= 1.0:
        raise UserError(f"--fraction must be in (0, 1], got {args.fraction}.")
    check_positive(args, "base_size", "crop_size", "max_images")


def calibration_table(class_names, fit) -> str:
    """Markdown table: class, offset, sampled IoU before / after."""
    lines = ["| class | offset | IoU before | IoU after |", "|---|---|---|---|"]
    for name, bias, before, after in zip(
        class_names, fit.bias, fit.iou_before, fit.iou_after
    ):
        lines.append(
            f"| {name} | {bias:+.3f} | {100 * before:.1f} | {100 * after:.1f} |"
        )
    lines.append(
        f"| mean | | {100 * fit.iou_before.mean():.2f} | "
        f"{100 * fit.iou_after.mean():.2f} |"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    """Calibrate; returns the exit status."""
    from keras_fastfcn.utils.runtime import configure_tensorflow_runtime

    configure_tensorflow_runtime()
    args = parse_args(argv)
    check_arguments(args)
    import numpy as np

    from keras_fastfcn.calibration import fit_logit_bias
    from keras_fastfcn.calibration import sample_log_probabilities
    from keras_fastfcn.cli.evaluate import apply_preset_defaults
    from keras_fastfcn.data import load_dataset
    from keras_fastfcn.evaluate import compiled_logits
    from keras_fastfcn.models.presets import from_preset
    from keras_fastfcn.models.presets import load_preset_metadata
    from keras_fastfcn.models.presets import save_preset
    from keras_fastfcn.models.segmenter import SegmentationModel
    from keras_fastfcn.utils.cli import UserError
    from keras_fastfcn.weights.saving import copy_weights_by_path

    apply_preset_defaults(args)
    metadata = load_preset_metadata(args.preset)
    model = from_preset(args.preset)
    if not isinstance(model, SegmentationModel):
        raise UserError(
            f"--preset {args.preset} holds a {type(model).__name__}; "
            "calibration adds its offsets to a SegmentationModel "
            "(build_model / fastfcn train)."
        )
    spec = load_dataset(
        args.dataset,
        args.data_dir,
        split=args.split,
        data_format=args.data_format,
    )
    if spec.num_classes != model.num_classes:
        raise UserError(
            f"{args.dataset} has {spec.num_classes} classes but the preset's "
            f"model predicts {model.num_classes}; calibrate on its own data."
        )
    if args.max_images is not None:
        spec = spec.take(args.max_images)
    log_probs, labels = sample_log_probabilities(
        compiled_logits(model),
        spec,
        fraction=args.fraction,
        base_size=args.base_size,
        crop_size=args.crop_size,
        seed=args.seed,
    )
    print(f"fitting offsets on {labels.size:,} pixels of {args.split} ...")
    fit = fit_logit_bias(log_probs, labels)
    # the sampled logits already hold any earlier offsets: add the new ones
    previous = np.asarray(model.logit_bias or np.zeros(model.num_classes))
    bias = previous + fit.bias
    bias = [float(v) for v in bias - bias.mean()]
    calibrated = SegmentationModel.from_config(
        {**model.get_config(), "logit_bias": bias}
    )
    copy_weights_by_path(model, calibrated)
    record = {
        "split": args.split,
        "dataset": args.dataset,
        "images": len(spec.pairs),
        "fraction": args.fraction,
        "seed": args.seed,
        "base_size": args.base_size,
        "crop_size": args.crop_size,
        **fit.to_dict(),
        "logit_bias": bias,
    }
    save_preset(
        calibrated,
        args.output,
        dataclasses.replace(metadata, calibration=record),
        overwrite=args.overwrite,
    )
    print(calibration_table(spec.class_names, fit))
    print(
        f"\nwrote {args.output} (offsets in its metadata.json "
        f"'calibration'); evaluate it with fastfcn evaluate --preset "
        f"{args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, PROG))
