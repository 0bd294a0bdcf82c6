"""Segment images with a trained model; save coloured class maps.

    fastfcn predict photo.jpg photos/ --out predictions \\
        --model-file model.keras [--dataset camvid] [--size 512]
    fastfcn predict photo.jpg --out predictions --preset runs/x/preset

writes, for every input `NAME`, `NAME_classes.png` (a paletted PNG whose
pixel values are the class ids), `NAME_overlay.png` (the colours blended
over the photo), `NAME_figure.png` (photo | prediction, with a legend of
the classes found), and once `legend.png` and `classes.json` (id, name and
colour of every class), and prints the main classes of every image.
The model comes from a preset directory (`--preset RUN_DIR/preset`:
class names and palette from its metadata, run at its training base
size unless `--size` is given), a `.keras` file, a weights
file with its architecture (`--weights w.weights.h5 --model encnet_jpu
--backbone resnet50 --num-classes N`), or a SavedModel exported by
`fastfcn export` (`--saved-model DIR`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Sequence

import numpy as np

from keras_fastfcn.cli.model_options import add_model_arguments
from keras_fastfcn.cli.model_options import model_from_arguments
from keras_fastfcn.cli.model_options import preset_metadata_from_arguments
from keras_fastfcn.utils.cli import HelpFormatter
from keras_fastfcn.utils.cli import OneLineArgumentParser
from keras_fastfcn.utils.cli import UserError
from keras_fastfcn.utils.cli import check_model_arguments
from keras_fastfcn.utils.cli import one_line
from keras_fastfcn.utils.cli import run_cli
from keras_fastfcn.utils.files import atomic_write_bytes

if TYPE_CHECKING:  # these import TensorFlow: only when predicting
    from keras_fastfcn.export.preprocessing import ResizePolicy

PROG = "fastfcn predict"


class ImageSegmenter:
    """Turns uint8 RGB images into class maps with the serving pipeline.

    The same preprocessing and postprocessing as the exported SavedModel
    (resize policy, ImageNet normalisation, padding to a multiple of 32,
    logits resized back to the image size), so a Keras model here and its
    export give the same class maps.

    Args:
        model: a Keras segmentation model (any backend; aux / SE outputs
            are ignored) or a SavedModel from `export_saved_model`, as
            returned by `tf.saved_model.load`.
        policy: `ResizePolicy` for a Keras model. Default: keep the size.
            A SavedModel has its policy built in; passing one is an error.
    """

    def __init__(self, model, policy: ResizePolicy | None = None):
        from keras_fastfcn.export.inference_model import inference_model
        from keras_fastfcn.export.preprocessing import ResizePolicy
        from keras_fastfcn.export.serving import SERVE_LOGITS
        from keras_fastfcn.export.serving import SERVING_DEFAULT

        if _is_saved_model(model):
            if policy is not None:
                raise ValueError(
                    "A SavedModel's resize policy is fixed at export; "
                    "leave out the size (--size) or export again."
                )
            self._serve = model.signatures[SERVING_DEFAULT]
            logits = model.signatures[SERVE_LOGITS].structured_outputs
            self.num_classes = int(logits["logits"].shape[-1])
        else:
            logits_model = inference_model(model)
            self._logits_model = logits_model
            self._policy = policy or ResizePolicy()
            self._serve = None
            self.num_classes = int(logits_model.output.shape[-1])

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """uint8 RGB `(height, width, 3)` -> int32 class map
        `(height, width)`."""
        import tensorflow as tf

        from keras_fastfcn.export.serving import segment_batch

        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(
                f"Expected a uint8 RGB image (height, width, 3), got "
                f"{image.dtype} {image.shape}; convert it first (e.g. "
                "keras_fastfcn.export.image_files.read_image)."
            )
        images = tf.constant(image[None])
        if self._serve is not None:
            outputs = self._serve(images=images)
        else:
            outputs = segment_batch(self._predict_logits, images, self._policy)
        return outputs["class_map"][0].numpy()

    def _predict_logits(self, images, training=False):
        import keras
        import tensorflow as tf

        logits = self._logits_model.predict_on_batch(np.asarray(images))
        return tf.constant(keras.ops.convert_to_numpy(logits))


def _is_saved_model(model) -> bool:
    import keras

    return not isinstance(model, keras.Model) and hasattr(model, "signatures")


def segment_image(
    model, image: np.ndarray, policy: ResizePolicy | None = None
) -> np.ndarray:
    """Segment one uint8 RGB image `(height, width, 3)`.

    Args:
        model: a Keras segmentation model or a loaded SavedModel (see
            `ImageSegmenter`; build one of those for many images).
        image: uint8 `(height, width, 3)`, RGB.
        policy: `ResizePolicy` (Keras models only). Default: keep the size.

    Returns:
        int32 class map `(height, width)`.
    """
    return ImageSegmenter(model, policy)(image)


# Dataset name -> `keras_fastfcn.data.palettes` prefix of its
# `*_CLASSES` / `*_PALETTE` (read when used: `palettes` imports TensorFlow)
_DATASET_COLOURS = {
    "ade20k": "ADE20K",
    "camvid": "CAMVID",
    "cityscapes": "CITYSCAPES",
    "pascal_context": "PASCAL_CONTEXT",
    "pascal_voc": "PASCAL_VOC",
    "sample": "CAMVID",
}


def dataset_classes(name: str) -> tuple[list[str], np.ndarray]:
    """Class names and uint8 palette `(classes, 3)` of a dataset, from
    `keras_fastfcn.data.palettes` (no data files needed)."""
    if name not in _DATASET_COLOURS:
        raise ValueError(
            f"No class names for dataset {name!r}; choose one of "
            f"{', '.join(sorted(_DATASET_COLOURS))}, or leave --dataset out "
            "for numbered classes and the default palette."
        )
    from keras_fastfcn.data import palettes

    prefix = _DATASET_COLOURS[name]
    names = getattr(palettes, f"{prefix}_CLASSES")
    palette = getattr(palettes, f"{prefix}_PALETTE")
    return list(names), np.asarray(palette, np.uint8)


def output_names(files: Sequence[Path]) -> list[str]:
    """File stems used for outputs; `ValueError` if two inputs share one."""
    stems = [f.stem for f in files]
    repeated = sorted({s for s in stems if stems.count(s) > 1})
    if repeated:
        clashes = [str(f) for f in files if f.stem in repeated]
        raise ValueError(
            f"Inputs {clashes} would write the same output names; predict "
            "them into separate --out directories."
        )
    return stems


def describe_class_map(
    class_map: np.ndarray, class_names: Sequence[str], top: int = 3
) -> str:
    """The `top` most frequent classes of an int class map
    `(height, width)` with their share of the pixels, e.g.
    `"sky 52.1%, road 30.0%, tree 10.2%"`."""
    counts = np.bincount(
        np.asarray(class_map).ravel(), minlength=len(class_names)
    )
    order = np.argsort(-counts, kind="stable")[:top]
    total = max(int(counts.sum()), 1)
    return ", ".join(
        f"{class_names[i]} {100.0 * counts[i] / total:.1f}%"
        for i in order
        if counts[i] > 0
    )


def predict_files(
    segmenter: ImageSegmenter,
    files: Sequence[Path],
    out_dir: Path,
    class_names: Sequence[str],
    palette: np.ndarray,
    alpha: float = 0.5,
    verbose: bool = False,
) -> list[tuple[Path, str]]:
    """Write `*_classes.png`, `*_overlay.png`, `*_figure.png`,
    `legend.png` and `classes.json` for `files` into `out_dir`; with
    `verbose`, print the main classes of each image (`describe_class_map`).

    An input that cannot be read as an image is skipped; the others are
    all written.

    Returns:
        `[(path, reason)]` of the skipped inputs, in input order.
    """
    from tqdm import tqdm

    from keras_fastfcn.export.image_files import read_image
    from keras_fastfcn.visualize import comparison_figure
    from keras_fastfcn.visualize import legend_image
    from keras_fastfcn.visualize import overlay
    from keras_fastfcn.visualize import save_class_map_png
    from keras_fastfcn.visualize import save_png

    names = output_names(files)
    out_dir.mkdir(parents=True, exist_ok=True)
    skipped = []
    for path, name in zip(tqdm(files, desc="predict", unit="image"), names):
        try:
            image = read_image(path)
        except ValueError as error:
            skipped.append((path, one_line(error)))
            continue
        class_map = segmenter(image)
        if verbose:
            tqdm.write(f"{path}: {describe_class_map(class_map, class_names)}")
        save_class_map_png(out_dir / f"{name}_classes.png", class_map, palette)
        save_png(
            out_dir / f"{name}_overlay.png",
            overlay(image, class_map, palette, alpha),
        )
        save_png(
            out_dir / f"{name}_figure.png",
            comparison_figure(
                image, class_map, palette, class_names, title=name
            ),
        )
    save_png(out_dir / "legend.png", legend_image(class_names, palette))
    classes = [
        {"id": i, "name": n, "color": [int(c) for c in palette[i]]}
        for i, n in enumerate(class_names)
    ]
    atomic_write_bytes(
        out_dir / "classes.json", json.dumps(classes, indent=1).encode()
    )
    return skipped


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = OneLineArgumentParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    inputs = parser.add_argument_group("input")
    inputs.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        help="image files, directories of images, or .txt image lists",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output directory (required; created if missing)",
    )
    output.add_argument(
        "--dataset",
        choices=sorted(_DATASET_COLOURS),
        help="take class names and palette from this dataset (default: "
        "the preset's or the SavedModel's, else numbered classes)",
    )
    output.add_argument(
        "--alpha",
        type=float,
        default=0.5,
        help="overlay opacity, in [0, 1]",
    )
    saved = parser.add_argument_group("exported model")
    saved.add_argument(
        "--saved-model",
        type=Path,
        help="a SavedModel version directory (MODEL_DIR/1) from fastfcn "
        "export, instead of a Keras model",
    )
    add_model_arguments(parser)
    sizes = parser.add_argument_group("resize")
    sizes.add_argument(
        "--size",
        help="resize: 'none' (default; with --preset: the training base "
        "size), long side ('512') or fixed ('360x480'); Keras models only",
    )
    return parser.parse_args(argv)


def load_segmenter(args: argparse.Namespace) -> ImageSegmenter:
    """The `ImageSegmenter` for `--saved-model` or the model options."""
    if args.saved_model is not None:
        keras_model = (
            args.preset,
            args.model_file,
            args.weights,
            args.random_weights,
        )
        if any(keras_model):
            raise ValueError(
                "Pass either --saved-model or a Keras model (--preset / "
                "--model-file / --weights / --random-weights), not both."
            )
        if not (args.saved_model / "saved_model.pb").is_file():
            raise FileNotFoundError(
                f"{args.saved_model} holds no saved_model.pb; pass the "
                "version directory, e.g. MODEL_DIR/1."
            )
        if args.size is not None:
            raise ValueError(
                "--size is fixed in a SavedModel at export; leave it out."
            )
        import tensorflow as tf

        return ImageSegmenter(tf.saved_model.load(str(args.saved_model)))
    from keras_fastfcn.export.preprocessing import ResizePolicy

    model = model_from_arguments(args)
    size = args.size
    metadata = preset_metadata_from_arguments(args)
    if size is None and metadata is not None and metadata.base_size:
        size = str(metadata.base_size)  # the training resolution
    return ImageSegmenter(model, ResizePolicy.from_string(size))


def class_labels(
    args: argparse.Namespace, num_classes: int
) -> tuple[list[str], np.ndarray]:
    """Class names and uint8 palette `(num_classes, 3)`: from `--dataset`,
    else the preset's metadata, else the SavedModel's export config, else
    numbered classes with the default palette."""
    from keras_fastfcn.export.saved_model import read_export_config
    from keras_fastfcn.visualize import default_palette

    if args.dataset:
        names, palette = dataset_classes(args.dataset)
        source = f"Dataset {args.dataset!r}"
    elif args.preset is not None:
        metadata = preset_metadata_from_arguments(args)
        names, palette = list(metadata.class_names), metadata.palette
        source = f"Preset {args.preset}"
    elif args.saved_model is not None and read_export_config(
        args.saved_model
    ).get("classes"):
        classes = read_export_config(args.saved_model)["classes"]
        names = [c["name"] for c in classes]
        palette = np.asarray([c["color"] for c in classes], np.uint8)
        source = f"SavedModel {args.saved_model}"
    else:
        return (
            [f"class_{i}" for i in range(num_classes)],
            default_palette(num_classes),
        )
    if len(names) != num_classes:
        raise ValueError(
            f"{source} has {len(names)} classes but the model predicts "
            f"{num_classes}."
        )
    return names, palette


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse bad options before any model is loaded or built (one-line
    `UserError` / `FileExistsError` / `FileNotFoundError`)."""
    from keras_fastfcn.export.preprocessing import ResizePolicy

    if args.out.exists() and not args.out.is_dir():
        raise FileExistsError(
            f"--out {args.out} is an existing file; pass a directory for "
            "the class maps and overlays."
        )
    if not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha must be in [0, 1], got {args.alpha}.")
    if args.saved_model is not None:
        if args.size is not None:
            raise UserError(
                "--size is fixed in a SavedModel at export; leave it out."
            )
    else:
        ResizePolicy.from_string(args.size)  # ValueError if malformed
        check_model_arguments(args)
    if args.dataset and args.num_classes is not None and not args.model_file:
        class_names, _ = dataset_classes(args.dataset)
        if len(class_names) != args.num_classes:
            raise UserError(
                f"Dataset {args.dataset!r} has {len(class_names)} classes "
                f"but --num-classes is {args.num_classes}."
            )


def report_skipped(skipped: Sequence[tuple[Path, str]]) -> None:
    """List the inputs `predict_files` skipped, on stderr."""
    print(f"Skipped {len(skipped)} unreadable input(s):", file=sys.stderr)
    for path, reason in skipped:
        print(f"  {path}: {reason}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns 0, or 1 if some inputs were skipped
    (every readable input is still written)."""
    from keras_fastfcn.utils.runtime import configure_tensorflow_runtime

    configure_tensorflow_runtime()
    args = parse_arguments(argv)
    check_arguments(args)
    from keras_fastfcn.export.image_files import list_image_files

    files = list_image_files(args.inputs)
    output_names(files)  # clashing names: fail before the model is built
    segmenter = load_segmenter(args)
    class_names, palette = class_labels(args, segmenter.num_classes)
    skipped = predict_files(
        segmenter,
        files,
        args.out,
        class_names,
        palette,
        args.alpha,
        verbose=True,
    )
    print(
        f"Wrote {len(files) - len(skipped)} class maps and overlays, "
        f"legend.png and classes.json to {args.out}"
    )
    if skipped:
        report_skipped(skipped)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, PROG))
