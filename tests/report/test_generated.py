"""Generated blocks of a markdown file: read, replaced without touching the prose, refused when absent."""

from __future__ import annotations

import pytest

from pydriver.report.generated import read_blocks, replace_blocks, write_blocks

TEXT = """# Title

Prose before.

<!-- generated: table -->

| a |
|---|
| 1 |

<!-- /generated -->

More prose.
<!-- generated: other -->
old
<!-- /generated -->
"""


def test_blocks_are_read_and_replaced_without_touching_the_prose(tmp_path):
    assert read_blocks(TEXT) == {"table": "| a |\n|---|\n| 1 |", "other": "old"}
    new = replace_blocks(TEXT, {"table": "| a |\n|---|\n| 2 |"})
    assert new.replace("| 2 |", "| 1 |") == TEXT and read_blocks(new)["other"] == "old"
    assert replace_blocks(new, {"table": "| a |\n|---|\n| 2 |"}) == new  # idempotent
    path = tmp_path / "README.md"
    path.write_text(TEXT)
    assert write_blocks(path, {"other": "new"}) and read_blocks(path.read_text())["other"] == "new"
    assert not write_blocks(path, {"other": "new"})


def test_a_missing_or_repeated_block_is_refused():
    with pytest.raises(ValueError, match="no generated block claims"):
        replace_blocks(TEXT, {"claims": "x"})
    with pytest.raises(ValueError, match="occurs twice"):
        read_blocks(TEXT + "<!-- generated: other -->\nx\n<!-- /generated -->\n")
