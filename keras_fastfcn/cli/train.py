"""`fastfcn train`: train a FastFCN-family segmentation model.

    fastfcn train --dataset sample
    fastfcn train --config camvid --epochs 10 --output-dir runs/camvid

`--dataset NAME` alone uses the shipped config of that name when there is
one (`keras_fastfcn/configs/NAME.yaml`); every config key is a flag, and
flags override the config file. Parsing imports no TensorFlow: `--help`
answers at once.
"""

from __future__ import annotations

import sys
from typing import Sequence

from keras_fastfcn.config import TrainConfig
from keras_fastfcn.config import add_config_arguments
from keras_fastfcn.config import config_values
from keras_fastfcn.utils.cli import OneLineArgumentParser
from keras_fastfcn.utils.cli import run_cli
from keras_fastfcn.utils.runtime import configure_tensorflow_runtime
from keras_fastfcn.utils.runtime import import_tensorflow_quietly

PROG = "fastfcn train"


def parse_arguments(argv: Sequence[str] | None = None, prog: str = PROG):
    parser = OneLineArgumentParser(
        prog=prog,
        description="Train a FastFCN-family segmentation model with "
        "model.fit. Each flag sets the config key of the same name "
        "(--batch-size is batch_size).",
    )
    add_config_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Train; exit status 0, or 1 when the final evaluation failed and the
    config requires it (a failed evaluation otherwise keeps the run)."""
    args = parse_arguments(argv, prog)
    values = config_values(args)
    # before TensorFlow is imported (resolving the config imports it)
    verbose = bool(values.get("verbose"))
    configure_tensorflow_runtime(
        cpu_replicas=values.get("devices"), verbose=verbose
    )
    if not verbose:
        import_tensorflow_quietly()
    config = TrainConfig(**values).resolved()
    from keras_fastfcn.train import train

    summary = train(config)
    failed = "evaluation_error" in summary and config.require_evaluation
    return 1 if failed else 0


def run(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """`main` with one-line user errors (`run_cli`)."""
    return run_cli(lambda a: main(a, prog), prog, argv)


if __name__ == "__main__":
    prog = sys.argv[0] if sys.argv[0].startswith("python -m") else PROG
    sys.exit(run(prog=prog))
