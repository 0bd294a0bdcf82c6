"""`fastfcn convert`: official FastFCN checkpoint -> Keras.

    # weights for build_model("encnet_jpu", "resnet50", 150, aux=True,
    # se_loss=True)
    fastfcn convert encnet_jpu_res50_ade.pth.tar \\
        --model encnet_jpu --backbone resnet50 --num-classes 150 \\
        --out encnet_jpu_ade20k.weights.h5
    # a whole model, without the training-only aux / SE branches
    fastfcn convert ckpt.pth --out model.keras \\
        --no-aux --no-se-loss

    # a preset directory (config.json, model.weights.h5, metadata.json)
    # for fastfcn predict / evaluate / export --preset; 150 classes are
    # named as ADE20K's, 59 / 60 as PASCAL-Context's
    fastfcn convert encnet_jpu_res50_ade.pth.tar --no-aux --no-se-loss \\
        --preset --out presets/encnet_jpu_ade20k

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
from typing import TYPE_CHECKING
from typing import Sequence

from keras_fastfcn.utils.cli import HelpFormatter
from keras_fastfcn.utils.cli import OneLineArgumentParser
from keras_fastfcn.utils.cli import RegistryChoice
from keras_fastfcn.utils.cli import UserError
from keras_fastfcn.utils.cli import run_cli

if TYPE_CHECKING:  # these import Keras: only when converting
    from keras_fastfcn.models.presets import PresetMetadata

PROG = "fastfcn convert"
OFFICIAL_BACKBONES = ("resnet50", "resnet101", "resnet152")


def official_model_names() -> list[str]:
    """Model names that official checkpoints exist for."""
    from keras_fastfcn.heads.registry import HEADS
    from keras_fastfcn.necks.registry import official_necks

    return [head + neck.suffix for head in HEADS for neck in official_necks()]


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = OneLineArgumentParser(
        prog=PROG,
        description="Convert an official FastFCN PyTorch checkpoint to "
        "Keras (.weights.h5 or .keras).",
        formatter_class=HelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("source", type=Path, help=".pth / .pth.tar / .npz")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output file: *.weights.h5 (weights) or *.keras (whole "
        "model); with --preset: the preset directory",
    )
    parser.add_argument(
        "--preset",
        action="store_true",
        help="write --out as a preset directory with class names (ADE20K "
        "for 150 classes, PASCAL-Context for 59 / 60, else numbered)",
    )
    parser.add_argument(
        "--model",
        type=RegistryChoice("keras_fastfcn.cli.convert:official_model_names"),
        help="a model with official checkpoints (keras_fastfcn.cli.convert"
        ".official_model_names(), e.g. encnet_jpu); default: read from the "
        "checkpoint",
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


# class count -> (dataset, class names, palette) of the official datasets
def _official_classes() -> dict:
    from keras_fastfcn.data import palettes
    from keras_fastfcn.data.palettes import default_palette

    background = ("background",) + tuple(palettes.PASCAL_CONTEXT_CLASSES)
    return {
        150: ("ade20k", palettes.ADE20K_CLASSES, palettes.ADE20K_PALETTE),
        59: (
            "pascal_context",
            palettes.PASCAL_CONTEXT_CLASSES,
            palettes.PASCAL_CONTEXT_PALETTE,
        ),
        60: ("pascal_context", background, default_palette(60)),
    }


# The official training sizes (its --base-size / --crop-size defaults).
OFFICIAL_BASE_SIZE = 520
OFFICIAL_CROP_SIZE = 480


def official_metadata(model, source: Path) -> PresetMetadata:
    """Preset metadata for a converted official checkpoint: ADE20K class
    names for 150 classes, PASCAL-Context for 59 (60: with background),
    else numbered classes and no dataset."""
    from keras_fastfcn.data.palettes import default_palette
    from keras_fastfcn.models.from_checkpoint import build_model_call
    from keras_fastfcn.models.presets import PresetMetadata

    num_classes = model.num_classes
    known = _official_classes().get(num_classes)
    training = {
        "source": "official FastFCN checkpoint",
        "checkpoint": source.name,
        "model": build_model_call(model),
    }
    if known is None:
        return PresetMetadata(
            class_names=[f"class_{i}" for i in range(num_classes)],
            palette=default_palette(num_classes),
            training=training,
        )
    dataset, names, palette = known
    return PresetMetadata(
        class_names=names,
        palette=palette,
        base_size=OFFICIAL_BASE_SIZE,
        crop_size=OFFICIAL_CROP_SIZE,
        dataset=dataset,
        training=training,
    )


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse a missing checkpoint, a bad output name or a bad class count
    before anything is read or built."""
    from keras_fastfcn.weights.saving import output_kind

    if not args.source.is_file():
        raise FileNotFoundError(f"Checkpoint {args.source} does not exist.")
    if args.preset:
        if args.out.name.endswith((".keras", ".h5")):
            raise UserError(
                f"--preset writes a directory, not {args.out.name}; name "
                "the directory (e.g. --out presets/encnet_jpu_ade20k)."
            )
        if args.out.exists():
            raise FileExistsError(
                f"--out {args.out} already exists; remove it or name a new "
                "preset directory."
            )
    else:
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
    from keras_fastfcn.models.from_checkpoint import build_model_call
    from keras_fastfcn.models.from_checkpoint import convert_checkpoint
    from keras_fastfcn.models.from_checkpoint import model_for_checkpoint
    from keras_fastfcn.models.presets import save_preset
    from keras_fastfcn.weights.checkpoint import integrity_note

    options = dict(
        model=args.model,
        backbone=args.backbone,
        num_classes=args.num_classes,
        aux=args.aux,
        se_loss=args.se_loss,
        progress=not args.quiet,
    )
    if args.preset:
        model, report = model_for_checkpoint(args.source, **options)
        save_preset(model, args.out, official_metadata(model, args.source))
    else:
        model, report = convert_checkpoint(args.source, args.out, **options)
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
