"""Train a FastFCN-family model: `python train.py --dataset sample`.

Configs live in `configs/`; `--dataset NAME` alone uses
`configs/NAME.yaml`, and every config key can be overridden with a flag
(`python train.py --help`). See `keras_fastfcn.train`.
"""

from pathlib import Path

from keras_fastfcn.train import main

if __name__ == "__main__":
    main(default_configs=Path(__file__).resolve().parent / "configs")
