"""Importing the package stays light, and its public surface is stable and typed.

Each check runs in a fresh interpreter, so modules other tests imported do not
hide what ``import cbc_ranges`` itself pulls in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import pytest

import cbc_ranges

HEAVY = (
    "pint",
    "pandas",
    "polars",
    "fhir",
    "fhir_core",
    "dask",
    "numpy",
    "pyarrow",
    "matplotlib",
)

# the public names, in order; changing this list is an API change
STABLE_ALL = [
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


def _heavy_modules_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the heavy top-level packages it loaded."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        heavy = {HEAVY!r}
        print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_the_probe_sees_a_heavy_import() -> None:
    # the check below would pass vacuously if the probe could not see imports
    assert {"numpy", "pandas"} <= set(_heavy_modules_after("import pandas"))


def test_import_cbc_ranges_imports_no_heavy_library() -> None:
    assert _heavy_modules_after("import cbc_ranges") == []


def test_the_faces_are_light_until_used() -> None:
    code = """
        import cbc_ranges.fhir, cbc_ranges.frames, cbc_ranges.errors, cbc_ranges.models
        from cbc_ranges import FHIRError, Interpretation, from_fhir, interpret_frame
        from cbc_ranges.models import Count, Person
        Interpretation(count=Count(value=4.2), person=Person(), flag="indeterminate",
                       code=None, leukopenia=None, text="not a diagnosis").to_fhir()
    """
    assert _heavy_modules_after(code) == []


def test_the_report_imports_matplotlib_only_to_draw() -> None:
    code = """
        import cbc_ranges.reporting, cbc_ranges.reporting.page
        from cbc_ranges import Report, report
    """
    assert _heavy_modules_after(code) == []


def test_all_is_stable() -> None:
    assert cbc_ranges.__all__ == STABLE_ALL


def test_every_public_name_resolves_in_a_fresh_interpreter() -> None:
    code = """
        import cbc_ranges
        missing = [name for name in cbc_ranges.__all__ if getattr(cbc_ranges, name, None) is None]
        assert missing == [], missing
        assert set(cbc_ranges.__all__) <= set(dir(cbc_ranges))
    """
    _heavy_modules_after(code)


@pytest.mark.parametrize("name", STABLE_ALL)
def test_each_public_name_resolves(name: str) -> None:
    assert getattr(cbc_ranges, name) is not None


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = cbc_ranges.no_such_thing  # type: ignore[attr-defined]


def test_py_typed_is_in_the_package_and_declared_as_package_data() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    assert resources.files("cbc_ranges").joinpath("py.typed").is_file()
    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    package_data = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]
    assert "py.typed" in package_data["cbc_ranges"]
