"""Run the ```python blocks of docs/embedding.md that need a cluster (Dask, Spark).

Such a block is marked ``<!-- run by tests/test_x.py -->`` on the line before it;
``tests/test_docs_embedding.py`` checks that the named test file calls
:func:`run_blocks` with its own path, so no block on the page goes untested.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

PAGE = Path(__file__).parents[1] / "docs" / "embedding.md"


def run_blocks(marker: str, namespace: dict[str, Any]) -> int:
    """Run, in ``namespace``, the page's python blocks marked for ``marker``; how many ran."""
    text = PAGE.read_text(encoding="utf-8")
    pattern = rf"<!-- run by {re.escape(marker)} -->\n```python\n(.*?)```"
    blocks = re.findall(pattern, text, flags=re.DOTALL)
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    return len(blocks)
