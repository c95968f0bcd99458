"""Data only: the range tables, their sources and the text blocks of cbc-ranges.

This folder is shipped as the package ``cbc_ranges.ranges`` so that the code can
find its files with ``importlib.resources.files("cbc_ranges.ranges")``; the code
that reads them is ``cbc_ranges.range_tables`` and ``cbc_ranges.explain``. The
file formats are described in README.md next to this file.
"""
