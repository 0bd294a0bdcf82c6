"""Generated Markdown sections (the README's deployment tables)."""

import pytest

from keras_fastfcn.utils.markdown import replace_section
from keras_fastfcn.utils.markdown import update_section

TEXT = "intro\n<!-- begin: a -->\nold\nlines\n<!-- end: a -->\noutro\n"


def test_replace_section_keeps_everything_else():
    assert replace_section(TEXT, "a", "new\n") == (
        "intro\n<!-- begin: a -->\nnew\n<!-- end: a -->\noutro\n"
    )


@pytest.mark.parametrize(
    "text", ["no markers", TEXT + TEXT, "<!-- begin: a -->\nno end\n"]
)
def test_a_missing_or_repeated_section_is_refused(text):
    with pytest.raises(ValueError, match="exactly one, delimited by"):
        replace_section(text, "a", "new")


def test_update_section_rewrites_the_file(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(TEXT)
    update_section(path, "a", "x")
    assert path.read_text() == replace_section(TEXT, "a", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_a_generated_section_starts_with_its_command_and_date(tmp_path):
    import datetime

    from keras_fastfcn.utils.markdown import update_generated_section

    path = tmp_path / "README.md"
    path.write_text(TEXT)
    update_generated_section(path, "a", ["tool", "--name", "two words"], "T")
    stamp = datetime.date.today().isoformat()
    assert path.read_text() == replace_section(
        TEXT, "a", f"`tool --name 'two words'` (run {stamp})\n\nT"
    )
