"""Train a FastFCN-family model: `python train.py --dataset sample`.

The same as `fastfcn train` (`keras_fastfcn/cli/train.py`): `--dataset
NAME` alone uses the shipped config `configs/NAME.yaml`, and every config
key can be overridden with a flag (`python train.py --help`).
"""

import os
import sys

# `--help` and option errors answer before TensorFlow is imported.
os.environ.setdefault("KERAS_FASTFCN_DEFER_IMPORTS", "1")

from keras_fastfcn.cli.train import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run(prog="train.py"))
