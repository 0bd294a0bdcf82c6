"""Finished CamVid runs side by side as a markdown table (train time,
images/s, GFLOPs, whole-image pixAcc / mIoU, per-class IoU):

    python examples/camvid/runs_table.py \
        "EncNet + JPU=runs/camvid/encnet_jpu_r18" \
        "EncNet dilated=runs/camvid/encnet_r18" \
        --gflops-size 360x480 --classes pole signsymbol fence

Each run must have been evaluated into RUN_DIR/eval_whole (`fastfcn
evaluate --preset RUN_DIR/preset --base-size 480 --crop-size 480
--output-dir RUN_DIR/eval_whole`). With `--update-readme README.md
--section NAME` the table (and this command line) replaces the README's
section between `<!-- begin: NAME -->` and `<!-- end: NAME -->`.
"""

from __future__ import annotations

import argparse
import os
import sys

from keras_fastfcn.benchmarks.run_table import format_run_table
from keras_fastfcn.benchmarks.run_table import read_run
from keras_fastfcn.utils.markdown import add_update_readme_arguments
from keras_fastfcn.utils.markdown import check_update_readme_arguments
from keras_fastfcn.utils.markdown import update_generated_section


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "runs", nargs="+", help="LABEL=RUN_DIR (or RUN_DIR: its name)"
    )
    parser.add_argument(
        "--evaluation",
        default="eval_whole",
        help="sub-folder of each run with metrics.json (default: eval_whole)",
    )
    parser.add_argument(
        "--gflops-size",
        help="HEIGHTxWIDTH at which to count inference GFLOPs (default: off)",
    )
    parser.add_argument(
        "--classes", nargs="+", help="per-class IoU columns (default: all)"
    )
    add_update_readme_arguments(parser, "the command, date and table")
    args = parser.parse_args(argv)
    check_update_readme_arguments(parser, args)
    gflops_size = None
    if args.gflops_size:
        # the export's size parser (it imports TensorFlow, which counting
        # GFLOPs needs anyway)
        from keras_fastfcn.export.preprocessing import parse_input_size

        try:
            gflops_size = parse_input_size(args.gflops_size)
        except ValueError as error:
            parser.error(f"--gflops-size: {error}")
    rows = []
    for item in args.runs:
        label, _, folder = item.rpartition("=")
        try:
            rows.append(
                read_run(
                    folder,
                    label or None,
                    evaluation=args.evaluation,
                    gflops_size=gflops_size,
                )
            )
        except FileNotFoundError as error:
            parser.error(str(error))
    try:
        table = format_run_table(rows, args.classes)
    except ValueError as error:
        parser.error(str(error))
    print(table)
    if args.update_readme:
        arguments = sys.argv[1:] if argv is None else list(argv)
        update_generated_section(
            args.update_readme,
            args.section,
            ["python", "examples/camvid/runs_table.py", *arguments],
            table,
        )
        print(f"updated {os.fspath(args.update_readme)} ({args.section})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
