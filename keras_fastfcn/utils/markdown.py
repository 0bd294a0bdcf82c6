"""Replace a generated section of a Markdown file (e.g. the README's
deployment tables) between two HTML comments:

    <!-- begin: NAME -->
    ... replaced ...
    <!-- end: NAME -->
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shlex
from pathlib import Path
from typing import Sequence

from keras_fastfcn.utils.files import atomic_write_text
from keras_fastfcn.utils.files import read_text


def section_markers(name: str) -> tuple[str, str]:
    """The begin and end comments of section `name`."""
    return f"<!-- begin: {name} -->", f"<!-- end: {name} -->"


def replace_section(text: str, name: str, body: str) -> str:
    """`text` with the lines between the markers of section `name`
    replaced by `body`; `ValueError` naming the markers when the section
    is not there exactly once."""
    begin, end = section_markers(name)
    pattern = re.compile(
        re.escape(begin) + r"\n.*?" + re.escape(end), flags=re.DOTALL
    )
    matches = pattern.findall(text)
    if len(matches) != 1:
        raise ValueError(
            f"Found {len(matches)} sections named {name!r}; the file needs "
            f"exactly one, delimited by the lines '{begin}' and '{end}'."
        )
    replacement = f"{begin}\n{body.strip()}\n{end}"
    return pattern.sub(lambda _: replacement, text)


def update_section(path: str | os.PathLike, name: str, body: str) -> None:
    """Rewrite section `name` of the Markdown file `path` (atomically)."""
    atomic_write_text(path, replace_section(read_text(path), name, body))


def update_generated_section(
    path: str | os.PathLike, name: str, command: Sequence[str], body: str
) -> None:
    """Rewrite section `name` of `path` with `body` under the command line
    that produced it and today's date, so a reader can rerun it."""
    stamp = datetime.date.today().isoformat()
    text = f"`{shlex.join(command)}` (run {stamp})\n\n{body}"
    update_section(path, name, text)


def add_update_readme_arguments(
    parser: argparse.ArgumentParser, what: str
) -> None:
    """`--update-readme MARKDOWN --section NAME`: a command's way to write
    `what` into a generated section (`update_generated_section`); check the
    pair with `check_update_readme_arguments` after parsing."""
    parser.add_argument(
        "--update-readme",
        type=Path,
        metavar="MARKDOWN",
        help="replace section --section of this Markdown file (between "
        f"'<!-- begin: NAME -->' and '<!-- end: NAME -->') with {what}",
    )
    parser.add_argument(
        "--section", help="the section name for --update-readme"
    )


def check_update_readme_arguments(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> None:
    """A parser error unless `--update-readme` and `--section` come
    together."""
    if (args.update_readme is None) != (args.section is None):
        parser.error("--update-readme and --section go together")
