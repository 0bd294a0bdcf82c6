"""Lists every bad file of a dataset split (PIL pre-check).

fastfcn validate-data --dataset camvid --data-dir DIR
"""

import argparse
import sys
from pathlib import Path

from keras_fastfcn.cli.data_options import DATASET_HELP
from keras_fastfcn.cli.data_options import add_folder_arguments
from keras_fastfcn.cli.data_options import dataset_argument
from keras_fastfcn.cli.data_options import folder_options
from keras_fastfcn.utils.cli import HelpFormatter


def main(argv: list[str] | None = None) -> int:
    """CLI: prints every problem; exit status 1 when there are any."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=HelpFormatter
    )
    parser.add_argument(
        "--dataset", required=True, type=dataset_argument, help=DATASET_HELP
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the dataset's folder (default: the dataset's own)",
    )
    parser.add_argument("--split", default="train", help="split to check")
    parser.add_argument(
        "--max-files",
        type=int,
        default=None,
        help="check only the first N pairs (default: all)",
    )
    add_folder_arguments(parser)
    args = parser.parse_args(argv)
    from keras_fastfcn.data.datasets import load_dataset
    from keras_fastfcn.data.validation import validate_dataset

    kwargs = folder_options(args)
    spec = load_dataset(args.dataset, args.data_dir, args.split, **kwargs)
    problems = validate_dataset(spec, args.max_files)
    for problem in problems:
        print(problem)
    checked = len(spec) if args.max_files is None else args.max_files
    print(f"{len(problems)} problems in {min(checked, len(spec))} pairs.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
