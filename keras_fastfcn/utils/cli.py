"""One-line errors for the command-line tools.

    if __name__ == "__main__":
        sys.exit(run_cli(main, "fastfcn predict"))

`run_cli` runs a tool's `main(argv)`; a user error (a missing file, a bad
option, a corrupt checkpoint, ...) becomes one line `PROG: error: MESSAGE`
on stderr and exit code 2, without a traceback. `--debug` anywhere on the
command line (it is taken out before `main` sees it) or `FASTFCN_DEBUG=1`
shows the traceback instead. Errors that are not user errors (bugs) keep
their traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Callable
from typing import NoReturn
from typing import Sequence

DEBUG_FLAG = "--debug"
DEBUG_VARIABLE = "FASTFCN_DEBUG"
USER_ERROR_EXIT = 2


class UserError(ValueError):
    """A mistake in the command line or the inputs, shown as one line."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors (unknown choice, missing option)
    raise `UserError` instead of printing the usage and exiting, so that
    `run_cli` reports them in one line like every other user error."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see --help)")


class HelpFormatter(
    argparse.ArgumentDefaultsHelpFormatter,
    argparse.RawDescriptionHelpFormatter,
):
    """`--help` with every option's default (`(default: X)`, left out when
    the help text already names its default or there is none) and the
    description / epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.default in (None, False, argparse.SUPPRESS)
            or isinstance(action, argparse._HelpAction)
        ):
            return text
        return super()._get_help_string(action)


class RegistryChoice:
    """argparse `type` for a name from a registry that is slow to import
    (it imports Keras): the registry is read only when the option is
    given, so `--help` stays fast. A wrong name fails like `choices`:
    `argument --model: invalid choice: 'x' (choose from a, b)`.

    Args:
        names: `"module:function"` returning the valid names.
    """

    def __init__(self, names: str):
        self.names = names
        self.__name__ = names.rsplit(":", 1)[-1]

    def valid_names(self) -> list[str]:
        module, function = self.names.split(":")
        return list(getattr(importlib.import_module(module), function)())

    def __call__(self, text: str) -> str:
        valid = self.valid_names()
        if text in valid:
            return text
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from {', '.join(valid)})"
        )


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exception types that `run_cli` reports in one line: `UserError`,
    `ValueError` (with `CheckpointError`, `WeightMismatchError`),
    missing / existing files and directories, a missing optional package
    (`ModuleNotFoundError`, whose messages say what to install) and YAML
    syntax errors."""
    types: list[type[BaseException]] = [
        UserError,
        ValueError,
        FileNotFoundError,
        FileExistsError,
        NotADirectoryError,
        IsADirectoryError,
        ModuleNotFoundError,
    ]
    try:
        import yaml

        types.append(yaml.YAMLError)
    except ImportError:  # pyyaml is a dependency; be safe anyway
        pass
    return tuple(types)


def one_line(error: BaseException) -> str:
    """`error`'s message on one line (newlines and runs of blanks become
    single spaces); the exception type when the message is empty."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def debug_requested(argv: Sequence[str]) -> bool:
    """`--debug` in `argv` or `FASTFCN_DEBUG` set to a true value."""
    value = os.environ.get(DEBUG_VARIABLE, "").strip().lower()
    return DEBUG_FLAG in argv or value not in ("", "0", "false", "no")


def run_cli(
    main: Callable[[list[str]], object],
    prog: str,
    argv: Sequence[str] | None = None,
) -> int:
    """Run a command-line `main(argv)` with one-line user errors.

    Args:
        main: the tool's entry point; it takes the argument list and
            returns an exit code (`int`) or anything else (exit 0).
        prog: the name shown before the message, e.g.
            `"fastfcn predict"`.
        argv: arguments (default: `sys.argv[1:]`); `--debug` is removed.

    Returns:
        The exit code: `main`'s, 0, or 2 after a user error (130 after
        Ctrl-C).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    argv = [a for a in argv if a != DEBUG_FLAG]
    # tools that run another tool's `run_cli` pass it on, for this call only
    previous = os.environ.get(DEBUG_VARIABLE)
    if debug:
        os.environ[DEBUG_VARIABLE] = "1"
    try:
        result = main(argv)
    except user_error_types() as error:
        if debug:
            raise
        print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is None:
            os.environ.pop(DEBUG_VARIABLE, None)
        else:
            os.environ[DEBUG_VARIABLE] = previous
    return result if isinstance(result, int) else 0


def check_positive(args: argparse.Namespace, *options: str) -> None:
    """Refuse any of `options` (attribute names) given and below 1.

    Raises:
        UserError: naming the option as typed (`--base-size`).
    """
    for option in options:
        value = getattr(args, option, None)
        if value is not None and value < 1:
            raise UserError(
                f"--{option.replace('_', '-')} must be a positive integer, "
                f"got {value}."
            )


def check_model_arguments(args: argparse.Namespace) -> None:
    """Check the `add_model_arguments` options without loading anything:
    named files exist and have the right kind, sizes are positive.

    Raises:
        FileNotFoundError: `--preset` / `--model-file` / `--weights` does
            not exist.
        UserError: a wrong file kind or a size that is not positive.
    """
    preset = getattr(args, "preset", None)
    if preset is not None:
        if not preset.is_dir():
            raise FileNotFoundError(
                f"--preset {preset} is not a directory; pass a preset "
                "directory such as RUN_DIR/preset (written by fastfcn train)."
            )
        if not (preset / "config.json").is_file():
            raise UserError(
                f"--preset {preset} has no config.json, so it is not a "
                "preset; pass RUN_DIR/preset, or a .keras file with "
                "--model-file."
            )
    model_file = getattr(args, "model_file", None)
    if model_file is not None:
        if not model_file.is_file():
            raise FileNotFoundError(
                f"--model-file {model_file} does not exist."
            )
        if model_file.suffix != ".keras":
            raise UserError(
                f"--model-file {model_file} is not a .keras file; for a "
                "weights file use --weights with --model / --backbone / "
                "--num-classes."
            )
    weights = getattr(args, "weights", None)
    if weights is not None:
        if not weights.is_file():
            raise FileNotFoundError(f"--weights {weights} does not exist.")
        if not weights.name.endswith(".weights.h5"):
            raise UserError(
                f"--weights {weights} is not a .weights.h5 file (for a "
                ".keras model use --model-file; convert .pth checkpoints "
                "with fastfcn convert)."
            )
    check_positive(args, "num_classes", "neck_width", "base_width")
    if getattr(args, "decoder_width", 0) < 0:
        raise UserError(
            "--decoder-width must be 0 (no decoder) or a positive integer, "
            f"got {args.decoder_width}."
        )
    stride = getattr(args, "output_stride", None)
    if stride is not None and stride not in (8, 16):
        raise UserError(f"--output-stride must be 8 or 16, got {stride}.")
