"""Check every row of a lab CSV file and write it back with WBC result columns.

The input may be wide (one row per patient with a WBC column) or long (one row
per lab result, MIMIC-style itemid/valuenum/valueuom). Every input row comes
back in order, its bytes unchanged, followed by wbc_value (10^9/L), wbc_flag,
wbc_code, wbc_leukopenia, wbc_ref_low, wbc_ref_high, wbc_source, wbc_warnings
and wbc_error. A row that cannot be read keeps its data and gets an empty flag
and a one-line error.

Columns are found from common header names (wbc, leukocytes, valuenum, value;
unit, valueuom; age, anchor_age; sex, gender; ethnicity, race; any case)
unless given. UTF-8 (with or without BOM), UTF-16/32 with a BOM and
Latin-1/cp1252 files are read, even mixed; the output keeps the input's
encoding unless --output-encoding converts it. The , ; and tab delimiters are
sniffed (or taken from Excel's sep= first line), and in ; files a decimal
comma is a decimal. gzip, bzip2 and xz files are decompressed as they are
read (by content, stdin too); .xlsx, .xls and .ods sheets are read with the
excel extra (--sheet); other binary files are refused by name. --text adds
wbc_summary and wbc_text, the plain-language explanation. Whole panels:
differential columns of a wide file (NEUT%, LYMPH#...) get <analyte>_value,
<analyte>_flag... after the wbc_* columns; --analyte-col reads a long file by
test (MIMIC itemid presets) and gives every row cbc_analyte, cbc_value,
cbc_percent, cbc_flag..., a percentage turned into a count with the WBC of its
draw (--panel-cols; docs/batch.md, "Whole panels"). The output is
written to a temporary file and renamed into place when complete; only a
regular file is written, never the input. Exit status: 0 when the file was processed (even
with row errors), 2 when it could not be. Educational only: a flag compares a
value with a published range, it is not a diagnosis. Full rules: docs/batch.md.
"""

from __future__ import annotations

from cbc_ranges.batch.columns import COLUMN_NAMES, ROLES, detect_columns
from cbc_ranges.batch.command import BatchSummary, check_csv, configure_parser, run_from_args

__all__ = [
    "COLUMN_NAMES",
    "ROLES",
    "BatchSummary",
    "check_csv",
    "configure_parser",
    "detect_columns",
    "run_from_args",
]
