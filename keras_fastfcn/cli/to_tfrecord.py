"""Write dataset splits as sharded TFRecords (for shared storage and
multi-worker training).

fastfcn to-tfrecord --dataset ade20k --data-dir DIR \\
    --out gs://bucket/ade20k-tfrecord --shards 64

Then train with ``--data-format tfrecord --data-dir <out>``.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_fastfcn.cli.data_options import DATASET_HELP  # noqa: E402
from keras_fastfcn.cli.data_options import add_folder_arguments  # noqa: E402
from keras_fastfcn.cli.data_options import dataset_argument  # noqa: E402
from keras_fastfcn.cli.data_options import folder_options  # noqa: E402
from keras_fastfcn.utils.cli import HelpFormatter  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """CLI: converts each ``--splits`` split; prints the shard counts."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--dataset", required=True, type=dataset_argument, help=DATASET_HELP
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="the dataset's folder (default: the dataset's own)",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--splits", nargs="+", default=["train", "val"], help="splits to write"
    )
    parser.add_argument(
        "--shards",
        type=int,
        default=16,
        help="shards per split (at least the number of training workers)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="record order seed (-1: keep the split's order)",
    )
    add_folder_arguments(parser)
    args = parser.parse_args(argv)
    from keras_fastfcn.data.datasets import load_dataset
    from keras_fastfcn.data.tfrecord import write_tfrecords

    options = folder_options(args)
    for split in args.splits:
        spec = load_dataset(args.dataset, args.data_dir, split, **options)
        metadata = write_tfrecords(
            spec,
            args.out,
            args.shards,
            shuffle_seed=None if args.seed < 0 else args.seed,
        )
        print(
            f"{args.dataset}/{split}: {metadata['num_examples']} examples in "
            f"{len(metadata['shards'])} shards -> {args.out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
