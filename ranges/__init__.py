"""Data only: the range tables, their sources and the text blocks of cbc-ranges.

Installed as the package ``cbc_ranges.range_data`` so that the code
(``cbc_ranges.ranges``, ``cbc_ranges.explain``) can open these files with
``importlib.resources``. The formats are described in README.md next to this file.
"""
