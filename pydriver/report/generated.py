"""Generated blocks of a markdown file: text between ``<!-- generated: NAME -->`` and ``<!-- /generated -->``.

Scripts that print tables from a report rewrite only these blocks (the prose around them is kept),
and a test compares each block with what the script prints, so a README's numbers cannot drift
from the committed results. A block's content is stored with one blank line after the opening
marker and before the closing one.
"""

from __future__ import annotations

import re
from pathlib import Path

_BLOCK = re.compile(r"<!-- generated: (?P<name>[A-Za-z0-9_.-]+) -->\n(?P<body>.*?)<!-- /generated -->", re.DOTALL)


def read_blocks(text: str) -> dict[str, str]:
    """Block name -> content (stripped of the surrounding blank lines).

    Raises
    ------
    ValueError
        If a block name occurs twice.
    """
    out: dict[str, str] = {}
    for m in _BLOCK.finditer(text):
        if m["name"] in out:
            raise ValueError(f"generated block {m['name']!r} occurs twice")
        out[m["name"]] = m["body"].strip("\n")
    return out


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with the content of each named block replaced; other blocks and all prose unchanged.

    Raises
    ------
    ValueError
        If a block of ``blocks`` has no markers in ``text`` (add ``<!-- generated: NAME -->`` and
        ``<!-- /generated -->`` where it belongs first).
    """
    missing = sorted(set(blocks) - set(read_blocks(text)))
    if missing:
        raise ValueError(f"no generated block {', '.join(missing)} in the file: add the markers "
                         f"'<!-- generated: NAME -->' and '<!-- /generated -->' where it belongs")

    def body(m: re.Match) -> str:
        if m["name"] not in blocks:
            return m.group(0)
        return f"<!-- generated: {m['name']} -->\n\n{blocks[m['name']].strip(chr(10))}\n\n<!-- /generated -->"

    return _BLOCK.sub(body, text)


def write_blocks(path: Path, blocks: dict[str, str]) -> bool:
    """Rewrite the named blocks of the file at ``path``; returns whether the file changed."""
    path = Path(path)
    old = path.read_text()
    new = replace_blocks(old, blocks)
    if new != old:
        path.write_text(new)
    return new != old
