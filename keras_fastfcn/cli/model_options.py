"""Command-line options that pick a model: a preset directory, a `.keras`
file, or a model name with a weights file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from keras_fastfcn.utils.cli import RegistryChoice

if TYPE_CHECKING:  # the model modules import Keras: only when building
    import keras

    from keras_fastfcn.models.presets import PresetMetadata

REGISTRY = "keras_fastfcn.models.registry"


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--preset`, `--model-file`, or `--weights` / `--random-weights`
    with the architecture options (`--model`, `--backbone`,
    `--num-classes`, ...)."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--preset",
        type=Path,
        help="a preset directory (e.g. RUN_DIR/preset from fastfcn train): "
        "the model with its class names, palette and training sizes",
    )
    group.add_argument(
        "--model-file", type=Path, help="a saved .keras model file"
    )
    group.add_argument(
        "--weights",
        type=Path,
        help="a .weights.h5 file for --model / --backbone / --num-classes",
    )
    group.add_argument(
        "--random-weights",
        action="store_true",
        help="build --model with random weights (pipeline / speed checks)",
    )
    group.add_argument(
        "--model",
        default="encnet_jpu",
        type=RegistryChoice(f"{REGISTRY}:list_models"),
        help="model name for --weights / --random-weights: one of "
        "keras_fastfcn.list_models()",
    )
    group.add_argument(
        "--backbone",
        default="resnet50",
        type=RegistryChoice(f"{REGISTRY}:list_backbones"),
        help="backbone for --weights / --random-weights: one of "
        "keras_fastfcn.list_backbones()",
    )
    group.add_argument(
        "--num-classes",
        type=int,
        help="classes of --weights / --random-weights (positive integer)",
    )
    group.add_argument(
        "--aux",
        action="store_true",
        help="the weights include the auxiliary head (it is not exported)",
    )
    group.add_argument(
        "--se-loss",
        action="store_true",
        help="the weights include the EncNet SE head (it is not exported)",
    )
    group.add_argument(
        "--output-stride",
        type=int,
        choices=(8, 16),
        help="dilated models: 8 or 16 (default: the model's)",
    )
    group.add_argument(
        "--neck-width",
        type=int,
        default=512,
        help="channels of the JPU / neck (positive integer)",
    )
    group.add_argument(
        "--base-width", type=int, help="ResNet stem width (default: 64)"
    )
    group.add_argument(
        "--decoder-width",
        type=int,
        default=0,
        help="width of the stride-4 decoder the weights have (training's "
        "decoder_width; default 0: none)",
    )


def model_from_arguments(args: argparse.Namespace) -> keras.Model:
    """Load or build the model that `add_model_arguments` options name.

    Raises:
        ValueError: the options are missing or contradict each other.
        FileNotFoundError: a named file does not exist.
    """
    from keras_fastfcn.models.presets import from_preset
    from keras_fastfcn.models.registry import build_model

    chosen = [
        name
        for name, value in (
            ("--preset", getattr(args, "preset", None)),
            ("--model-file", args.model_file),
            ("--weights", args.weights),
            ("--random-weights", args.random_weights),
        )
        if value
    ]
    if len(chosen) != 1:
        raise ValueError(
            "Name the model with exactly one of --preset DIR, "
            "--model-file m.keras, "
            "--weights w.weights.h5 (with --model / --backbone / "
            f"--num-classes) or --random-weights; got {chosen or 'none'}."
        )
    if getattr(args, "preset", None):
        return from_preset(args.preset)
    if args.model_file:
        return load_keras_model(args.model_file)
    if args.num_classes is None:
        raise ValueError(
            f"{chosen[0]} needs --num-classes (the classes the model was "
            "trained for)."
        )
    if args.weights and not args.weights.is_file():
        raise FileNotFoundError(f"Weights file {args.weights} does not exist.")
    backbone_kwargs = {}
    if args.base_width is not None:
        backbone_kwargs["base_width"] = args.base_width
    model = build_model(
        args.model,
        args.backbone,
        args.num_classes,
        aux=args.aux,
        se_loss=args.se_loss,
        output_stride=args.output_stride,
        neck_width=args.neck_width,
        decoder_width=args.decoder_width,
        **backbone_kwargs,
    )
    if args.weights:
        from keras_fastfcn.weights.saving import load_weights_exactly

        try:
            load_weights_exactly(model, args.weights)
        except ValueError as error:
            raise ValueError(
                f"Cannot load {args.weights} into {args.model} / "
                f"{args.backbone} with {args.num_classes} classes ({error}). "
                "Pass the training options: --model, --backbone, "
                "--num-classes, --aux, --se-loss, --neck-width, "
                "--base-width, --decoder-width, --output-stride."
            ) from error
    return model


def load_keras_model(path: str | Path) -> keras.Model:
    """Load a `.keras` model saved from this package (not compiled)."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Model file {path} does not exist.")
    if path.suffix != ".keras":
        raise ValueError(
            f"{path} is not a .keras file; for a weights file use "
            "--weights with --model / --backbone / --num-classes."
        )
    return keras.models.load_model(path, compile=False)


def preset_metadata_from_arguments(
    args: argparse.Namespace,
) -> PresetMetadata | None:
    """The metadata of `--preset`, or `None` without one."""
    from keras_fastfcn.models.presets import load_preset_metadata

    preset = getattr(args, "preset", None)
    return load_preset_metadata(preset) if preset else None
