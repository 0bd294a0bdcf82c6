"""Command-line options shared by the data tools (validate, benchmark,
to_tfrecord): the `folder` dataset's classes."""

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
