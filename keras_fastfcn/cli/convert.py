"""`fastfcn convert`: official FastFCN checkpoint -> Keras.

    # weights for build_model("encnet_jpu", "resnet50", 150, aux=True,
    # se_loss=True)
    fastfcn convert encnet_jpu_res50_ade.pth.tar \\
        --model encnet_jpu --backbone resnet50 --num-classes 150 \\
        --out encnet_jpu_ade20k.weights.h5
    # a whole model, without the training-only aux / SE branches
    fastfcn convert ckpt.pth --out model.keras \\
        --no-aux --no-se-loss

--model, --backbone and --num-classes default to what the checkpoint's
keys show; given, they must agree with it. --aux / --se-loss default to
the branches the checkpoint has; with --no-aux / --no-se-loss those
tensors are skipped and reported. The input is read with
torch.load(weights_only=True) (needs the [torch] extra) or, for .npz state
dicts, with numpy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from keras_fastfcn.heads.registry import HEADS
from keras_fastfcn.models.from_checkpoint import build_model_call
from keras_fastfcn.models.from_checkpoint import convert_checkpoint
from keras_fastfcn.necks.registry import official_necks
from keras_fastfcn.utils.cli import OneLineArgumentParser
from keras_fastfcn.utils.cli import UserError
from keras_fastfcn.utils.cli import run_cli
from keras_fastfcn.weights.checkpoint import integrity_note
from keras_fastfcn.weights.saving import output_kind

PROG = "fastfcn convert"
OFFICIAL_BACKBONES = ("resnet50", "resnet101", "resnet152")


def official_model_names() -> list[str]:
    """Model names that official checkpoints exist for."""
    return [head + neck.suffix for head in HEADS for neck in official_necks()]


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = OneLineArgumentParser(
        prog=PROG,
        description="Convert an official FastFCN PyTorch checkpoint to "
        "Keras (.weights.h5 or .keras).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("source", type=Path, help=".pth / .pth.tar / .npz")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output file: *.weights.h5 (weights) or *.keras (whole model)",
    )
    parser.add_argument(
        "--model",
        choices=official_model_names(),
        help="default: read from the checkpoint",
    )
    parser.add_argument(
        "--backbone",
        choices=OFFICIAL_BACKBONES,
        help="default: read from the checkpoint",
    )
    parser.add_argument(
        "--num-classes", type=int, help="default: read from the checkpoint"
    )
    parser.add_argument(
        "--aux",
        action=argparse.BooleanOptionalAction,
        help="build the auxiliary head (default: if the checkpoint has it)",
    )
    parser.add_argument(
        "--se-loss",
        action=argparse.BooleanOptionalAction,
        help="build the EncNet SE branch (default: if the checkpoint has it)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar or report"
    )
    return parser.parse_args(argv)


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse a missing checkpoint, a bad output name or a bad class count
    before anything is read or built."""
    if not args.source.is_file():
        raise FileNotFoundError(f"Checkpoint {args.source} does not exist.")
    output_kind(args.out)  # ValueError naming the two accepted suffixes
    if args.out.is_dir():
        raise IsADirectoryError(
            f"--out {args.out} is a directory; name the output file "
            "(*.weights.h5 or *.keras)."
        )
    if args.num_classes is not None and args.num_classes < 1:
        raise UserError(
            f"--num-classes must be a positive integer, got {args.num_classes}."
        )


def convert(argv: Sequence[str] | None = None) -> int:
    """Run the conversion the command line describes (errors raise)."""
    args = parse_arguments(argv)
    check_arguments(args)
    model, report = convert_checkpoint(
        args.source,
        args.out,
        args.model,
        args.backbone,
        args.num_classes,
        aux=args.aux,
        se_loss=args.se_loss,
        progress=not args.quiet,
    )
    if not args.quiet:
        print(report.summary())
        print(f"Checked {args.source}: {integrity_note(args.source)}")
        print(f"Wrote {args.out}: {build_model_call(model)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`convert` with one-line errors: 0 on success, 2 after a user error
    (bad option, unreadable or corrupt checkpoint, architecture mismatch),
    with nothing written."""
    return run_cli(convert, PROG, argv)


if __name__ == "__main__":
    sys.exit(main())
