"""Command-line options shared by the data tools (validate, benchmark,
to_tfrecord): the `folder` dataset's classes; and the split a model runs
on (evaluate, calibrate)."""

import argparse


def add_folder_arguments(parser: argparse.ArgumentParser) -> None:
    """``--num-classes`` / ``--ignore-label`` for ``--dataset folder``."""
    parser.add_argument(
        "--num-classes", type=int, help="folder dataset: number of classes"
    )
    parser.add_argument(
        "--ignore-label", type=int, help="folder dataset: ignore label"
    )


def folder_options(args: argparse.Namespace) -> dict:
    """The given folder options as `load_dataset` keyword arguments."""
    return {
        name: getattr(args, name)
        for name in ("num_classes", "ignore_label")
        if getattr(args, name, None) is not None
    }


def dataset_argument(text: str) -> str:
    """argparse `type` of `--dataset`: `keras_fastfcn.data.datasets
    .dataset_argument`, imported (with TensorFlow) only when given."""
    from keras_fastfcn.data.datasets import dataset_argument as check

    return check(text)


DATASET_HELP = (
    "a name of keras_fastfcn.data.list_datasets() (e.g. camvid, "
    "sample, folder) or tfds:BUILDER"
)


def add_split_arguments(
    parser: argparse.ArgumentParser, split: str, split_help: str
):
    """The "data" group of a command that runs a model over one split:
    `--dataset` (default: the `--preset`'s), `--data-dir`, `--data-format`,
    `--split` (default `split`) and `--max-images`. Returns the group."""
    from keras_fastfcn.config import DATA_FORMATS

    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        type=dataset_argument,
        help=f"{DATASET_HELP}; required unless --preset names one",
    )
    data.add_argument(
        "--data-dir",
        help="the dataset's folder (default: the dataset's own, or the "
        "preset's training --data-dir)",
    )
    data.add_argument(
        "--data-format",
        choices=DATA_FORMATS,
        default="files",
        help="how the data is stored; tfrecord: --data-dir holds "
        "fastfcn to-tfrecord output",
    )
    data.add_argument("--split", default=split, help=split_help)
    data.add_argument(
        "--max-images",
        type=int,
        help="use only the first N images (default: all)",
    )
    return data
