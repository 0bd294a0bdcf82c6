"""Per-class IoU a stride-s prediction can reach on CamVid val: the labels'
class fractions per s x s cell, upsampled as the model's logits are:

    python examples/camvid/stride_bound.py --data-dir ../shared/data/camvid \
        --strides 4 8 --class-scales 1 1.5 2 3 4

Rows: the plain argmax, and with `--class-scales` each class's best IoU
when its fractions are multiplied by one of the factors (what a model
that favours the class could do). `keras_fastfcn/benchmarks/stride_bound.py`.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image
from tqdm import tqdm

from keras_fastfcn.benchmarks.stride_bound import stride_iou
from keras_fastfcn.data.datasets import camvid
from keras_fastfcn.data.labels import map_raw_labels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="CamVid folder")
    parser.add_argument("--split", default="val")
    parser.add_argument("--strides", type=int, nargs="+", default=[4, 8])
    parser.add_argument(
        "--class-scales",
        type=float,
        nargs="+",
        help="factors tried on each class's fractions (default: none)",
    )
    args = parser.parse_args(argv)
    try:
        spec = camvid(args.data_dir, args.split)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    labels = [
        map_raw_labels(np.array(Image.open(label)), spec.label_lut)
        for _, label in tqdm(spec.pairs, desc="labels", unit="img")
    ]
    variants = [("plain", (1.0,))]
    if args.class_scales:
        shown = ", ".join(f"{s:g}" for s in args.class_scales)
        variants.append((f"best of x{{{shown}}}", tuple(args.class_scales)))
    print(
        "| stride | fractions | mIoU | " + " | ".join(spec.class_names) + " |"
    )
    print("|---" * (3 + spec.num_classes) + "|")
    for stride in args.strides:
        for name, scales in variants:
            iou = stride_iou(
                labels, spec.num_classes, spec.ignore_label, stride, scales
            )
            cells = " | ".join(f"{v:.1f}" for v in iou)
            print(f"| {stride} | {name} | {np.nanmean(iou):.1f} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
