"""Training curves of CamVid runs (val mIoU and training loss per epoch)
from their history.csv, as one PNG:

    python examples/camvid/plot_curves.py \
        "EncNet + JPU=runs/camvid/encnet_jpu_r18" \
        "EncNet dilated=runs/camvid/encnet_r18" \
        "EncNet + bilinear=runs/camvid/encnet_bilinear_r18" \
        --out examples/camvid/curves.png
"""

from __future__ import annotations

import argparse
import os
import sys

from keras_fastfcn.training_curves import curves_figure
from keras_fastfcn.training_curves import read_history
from keras_fastfcn.visualize import save_png


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "runs", nargs="+", help="LABEL=RUN_DIR (or RUN_DIR: its name)"
    )
    parser.add_argument("--out", required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    runs = {}
    for item in args.runs:
        label, _, folder = item.rpartition("=")
        label = label or os.path.basename(os.path.normpath(folder))
        history = os.path.join(folder, "history.csv")
        if not os.path.isfile(history):
            parser.error(f"{history} does not exist (is {folder} a run?)")
        runs[label] = read_history(history)
    save_png(args.out, curves_figure(runs))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
