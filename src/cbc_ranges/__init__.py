"""cbc-ranges: read a white blood cell (WBC) count, compare it with cited ranges, explain it.

>>> from cbc_ranges import parse_count
>>> parse_count("4,200 cells/µL").value
4.2

Everything here is educational: an interpretation describes how a value
compares with a published reference range. It is not a diagnosis.

The core (parsing, ranges, interpretation) is imported on first use; the
faces (CSV batch, FHIR, DataFrames) only when called, so ``import cbc_ranges``
stays light and never imports pint, pandas, polars or a FHIR library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cbc_ranges.errors import (
    BatchError,
    CBCError,
    FHIRError,
    ParseError,
    PersonError,
    RangeTableError,
    UnitError,
)

if TYPE_CHECKING:
    from cbc_ranges.analytes import Analyte, analytes, get_analyte
    from cbc_ranges.batch import BatchSummary, check_csv
    from cbc_ranges.count import parse_count, parse_percentage, try_parse_count
    from cbc_ranges.data import add_data_path, clear_caches
    from cbc_ranges.fhir import from_fhir
    from cbc_ranges.frames import interpret_frame
    from cbc_ranges.interpretation import interpret, interpret_count
    from cbc_ranges.models import (
        Count,
        Grade,
        Interpretation,
        LimitResult,
        Person,
        Population,
        ReferenceRange,
        Source,
    )
    from cbc_ranges.people import Age
    from cbc_ranges.ranges import RangeTable, get_table, load_table

__version__ = "0.1.0"

__all__ = [
    "Age",
    "Analyte",
    "BatchError",
    "BatchSummary",
    "CBCError",
    "Count",
    "FHIRError",
    "Grade",
    "Interpretation",
    "LimitResult",
    "ParseError",
    "Person",
    "PersonError",
    "Population",
    "RangeTable",
    "RangeTableError",
    "ReferenceRange",
    "Report",
    "Source",
    "UnitError",
    "__version__",
    "add_data_path",
    "analytes",
    "check_csv",
    "clear_caches",
    "from_fhir",
    "get_analyte",
    "get_table",
    "interpret",
    "interpret_count",
    "interpret_frame",
    "load_table",
    "parse_count",
    "parse_percentage",
    "report",
    "try_parse_count",
]

# public name -> module that defines it, imported on first access (PEP 562)
_LAZY = {
    "Age": "cbc_ranges.people",
    "Analyte": "cbc_ranges.analytes",
    "analytes": "cbc_ranges.analytes",
    "get_analyte": "cbc_ranges.analytes",
    "add_data_path": "cbc_ranges.data",
    "clear_caches": "cbc_ranges.data",
    "Grade": "cbc_ranges.models",
    "LimitResult": "cbc_ranges.models",
    "BatchSummary": "cbc_ranges.batch",
    "check_csv": "cbc_ranges.batch",
    "Count": "cbc_ranges.models",
    "Interpretation": "cbc_ranges.models",
    "Person": "cbc_ranges.models",
    "Population": "cbc_ranges.models",
    "ReferenceRange": "cbc_ranges.models",
    "Source": "cbc_ranges.models",
    "parse_count": "cbc_ranges.count",
    "parse_percentage": "cbc_ranges.count",
    "try_parse_count": "cbc_ranges.count",
    "from_fhir": "cbc_ranges.fhir",
    "interpret_frame": "cbc_ranges.frames",
    "interpret": "cbc_ranges.interpretation",
    "interpret_count": "cbc_ranges.interpretation",
    "RangeTable": "cbc_ranges.ranges",
    "get_table": "cbc_ranges.ranges",
    "load_table": "cbc_ranges.ranges",
    "Report": "cbc_ranges.reporting",
    "report": "cbc_ranges.reporting",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cbc_ranges' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
