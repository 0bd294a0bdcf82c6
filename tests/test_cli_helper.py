"""`keras_fastfcn.utils.cli.run_cli`: user errors in one line, exit 2."""

import pytest
import yaml

from keras_fastfcn.utils.cli import OneLineArgumentParser
from keras_fastfcn.utils.cli import UserError
from keras_fastfcn.utils.cli import run_cli


def raising(error):
    def main(argv):
        raise error

    return main


@pytest.mark.parametrize(
    "error, line",
    [
        (ValueError("bad\n  value"), "tool: error: bad value"),
        (FileNotFoundError("x.png does not exist"), "x.png does not exist"),
        (NotADirectoryError("out is a file"), "tool: error: out is a file"),
        (FileExistsError("out exists"), "tool: error: out exists"),
        (UserError("wrong option"), "tool: error: wrong option"),
        (ModuleNotFoundError("pip install torch"), "pip install torch"),
        (ValueError(""), "tool: error: ValueError"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(error, line, capsys, monkeypatch):
    monkeypatch.delenv("FASTFCN_DEBUG", raising=False)
    assert run_cli(raising(error), "tool", []) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and line in captured.err


def test_yaml_errors_are_user_errors(capsys, monkeypatch):
    monkeypatch.delenv("FASTFCN_DEBUG", raising=False)

    def main(argv):
        yaml.safe_load("a: [1, 2")

    assert run_cli(main, "train", []) == 2
    err = capsys.readouterr().err
    assert err.startswith("train: error: while parsing a flow sequence")
    assert err.count("\n") == 1


def test_bugs_keep_their_traceback(monkeypatch):
    monkeypatch.delenv("FASTFCN_DEBUG", raising=False)
    with pytest.raises(ZeroDivisionError):
        run_cli(raising(ZeroDivisionError("bug")), "tool", [])


def test_debug_flag_and_variable_reraise(monkeypatch):
    seen = []

    def main(argv):
        seen.append(argv)
        raise ValueError("bad")

    monkeypatch.delenv("FASTFCN_DEBUG", raising=False)
    with pytest.raises(ValueError, match="bad"):
        run_cli(main, "tool", ["a", "--debug", "b"])
    assert seen == [["a", "b"]]  # --debug is not passed on
    monkeypatch.setenv("FASTFCN_DEBUG", "1")
    with pytest.raises(ValueError):
        run_cli(main, "tool", [])
    monkeypatch.setenv("FASTFCN_DEBUG", "0")
    assert run_cli(main, "tool", []) == 2


def test_exit_codes_pass_through(monkeypatch):
    monkeypatch.delenv("FASTFCN_DEBUG", raising=False)
    assert run_cli(lambda argv: 1, "tool", []) == 1
    assert run_cli(lambda argv: {"mean_iou": 0.5}, "tool", []) == 0
    assert run_cli(lambda argv: None, "tool", []) == 0


def test_parser_errors_become_user_errors(capsys, monkeypatch):
    monkeypatch.delenv("FASTFCN_DEBUG", raising=False)

    def main(argv):
        parser = OneLineArgumentParser(prog="tool")
        parser.add_argument("--size", type=int, required=True)
        parser.parse_args(argv)

    assert run_cli(main, "tool", ["--size", "big"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "tool: error: argument --size: invalid int value: 'big' (see --help)\n"
    )


def test_debug_flag_does_not_leak_into_the_environment(monkeypatch):
    """`--debug` reaches nested tools during the call only: later
    subprocesses of the same process must not inherit it."""
    import os

    from keras_fastfcn.utils.cli import DEBUG_VARIABLE
    from keras_fastfcn.utils.cli import run_cli

    monkeypatch.delenv(DEBUG_VARIABLE, raising=False)
    seen = []
    assert (
        run_cli(
            lambda argv: seen.append(os.environ.get(DEBUG_VARIABLE)),
            "t",
            ["--debug"],
        )
        == 0
    )
    assert seen == ["1"]
    assert DEBUG_VARIABLE not in os.environ
