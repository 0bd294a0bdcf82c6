"""`fastfcn COMMAND [options]`: one command for every tool.

`fastfcn --help` lists the commands; `fastfcn COMMAND --help` the options
of one. Only the chosen command's module is imported.
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

from keras_fastfcn.utils.cli import run_cli

# command -> (module, one-line description)
COMMANDS = {
    "train": ("keras_fastfcn.cli.train", "train a model (configs by name)"),
    "evaluate": ("keras_fastfcn.cli.evaluate", "pixAcc / mIoU on a split"),
    "calibrate": (
        "keras_fastfcn.cli.calibrate",
        "fit per-class logit offsets for mIoU",
    ),
    "predict": ("keras_fastfcn.cli.predict", "segment images, overlays"),
    "export": ("keras_fastfcn.cli.export", "SavedModel, TFLite or ONNX"),
    "convert": (
        "keras_fastfcn.cli.convert",
        "official PyTorch checkpoint -> Keras",
    ),
    "validate-data": (
        "keras_fastfcn.cli.validate_data",
        "list every bad file of a split",
    ),
    "to-tfrecord": (
        "keras_fastfcn.cli.to_tfrecord",
        "write a split as TFRecord shards",
    ),
    "benchmark": (
        "keras_fastfcn.benchmarks.inference",
        "params, GFLOPs, latency, goals",
    ),
    "benchmark-input": (
        "keras_fastfcn.benchmarks.input_pipeline",
        "input pipeline images/s",
    ),
    "export-parity": (
        "keras_fastfcn.cli.export_parity",
        "exported models vs Keras: agreement, speed",
    ),
}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: fastfcn COMMAND [options]   (fastfcn COMMAND --help)",
        "",
        "FastFCN (JPU) segmentation for Keras 3 / TensorFlow. Commands:",
    ]
    for name, (_, text) in COMMANDS.items():
        lines.append(f"  {name.ljust(width)}  {text}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `fastfcn COMMAND ...`; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(
            f"fastfcn: error: unknown command {command!r}; one of "
            f"{', '.join(COMMANDS)} (fastfcn --help)",
            file=sys.stderr,
        )
        return 2
    if command != "train":  # `fastfcn train` imports what it needs itself
        load_api_unless_help(rest)
    module = importlib.import_module(COMMANDS[command][0])
    return run_cli(module.main, f"fastfcn {command}", rest)


def load_api_unless_help(argv: Sequence[str]) -> None:
    """Import (and register) the package's API, which imports TensorFlow,
    unless the command line only asks for help."""
    if not any(a in ("-h", "--help") for a in argv):
        import keras_fastfcn
        from keras_fastfcn.utils.runtime import configure_tensorflow_runtime
        from keras_fastfcn.utils.runtime import import_tensorflow_quietly

        verbose = "--verbose" in argv
        configure_tensorflow_runtime(verbose=verbose)
        if not verbose:  # TensorFlow's start-up lines are no user's business
            import_tensorflow_quietly()
        keras_fastfcn.load_api()


if __name__ == "__main__":
    sys.exit(main())
