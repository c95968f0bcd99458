"""Unit spellings: every known spelling, its variants, and the units that are refused."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbc_ranges import CBCError, UnitError
from cbc_ranges.units import read_unit, unit_spellings, units_markdown

ROOT = Path(__file__).resolve().parents[1]
SPELLINGS = unit_spellings()


def test_the_table_is_not_empty_and_has_no_duplicate_spellings() -> None:
    assert len(SPELLINGS) >= 50
    keys = [row.spelling.lower() for row in SPELLINGS]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert duplicates == []


def test_every_row_names_where_it_is_used() -> None:
    offenders = [row.spelling for row in SPELLINGS if not row.group.strip()]
    assert offenders == []


@pytest.mark.parametrize("row", SPELLINGS, ids=[row.spelling for row in SPELLINGS])
def test_every_known_spelling_reads_as_its_factor(row: object) -> None:
    from cbc_ranges.units import UnitSpelling

    assert isinstance(row, UnitSpelling)
    reading = read_unit(row.spelling)
    assert math.isclose(reading.factor, row.factor, rel_tol=1e-12)
    assert reading.canonical == row.canonical


def _variants(spelling: str) -> list[str]:
    """Ways a lab export mangles a spelling that must not change its meaning."""
    variants = [
        f"  {spelling}  ",
        spelling.replace("/", " / "),
        spelling.replace("µ", "Âµ"),  # UTF-8 micro sign read as Latin-1
        spelling.replace("µ", "μ"),
        spelling.replace("μ", "µ"),
        spelling.replace("uL", "µL").replace("ul", "µl"),
    ]
    if not spelling.lower().startswith("g"):  # G/L is giga only with a capital G
        variants += [spelling.upper(), spelling.lower()]
    return variants


@pytest.mark.parametrize("row", SPELLINGS, ids=[row.spelling for row in SPELLINGS])
def test_case_spacing_and_micro_sign_variants_read_the_same(row: object) -> None:
    from cbc_ranges.units import UnitSpelling

    assert isinstance(row, UnitSpelling)
    for variant in _variants(row.spelling):
        assert math.isclose(read_unit(variant).factor, row.factor), variant


@pytest.mark.parametrize(
    ("spelling", "factor"),
    [
        # what pint alone gets wrong, pinned as what we never do
        ("K/uL", 1.0),  # pint: kelvin per microlitre
        ("G/L", 1.0),  # pint: gauss per litre
        ("10*9/L", 1.0),  # pint: 90 per litre
        ("10E9/L", 1.0),  # pint: 10^10 per litre
        ("x10E3/uL", 1.0),
        # more real spellings
        ("K/UL", 1.0),
        ("CELLS/UL", 0.001),
        ("10^3/microliter", 1.0),
        ("10^9/liter", 1.0),
        ("x10^9 cells per litre", 1.0),
        ("cells per microliter", 0.001),
        ("10**9/L", 1.0),
        ("10^9/l", 1.0),
        ("x 10^3 / µl", 1.0),
        ("Tsd./µl", 1.0),
        ("/mm^3", 0.001),
        ("{cells}/µL", 0.001),
        ("leukocytes/nL", 1.0),
        ("GIGA/L", 1.0),
        ("Thousands/mcL", 1.0),
        ("K/cu mm", 1.0),
        ("/µl", 0.001),
        ("x10⁹/l", 1.0),
        ("10⁹/L", 1.0),
        ("x10(9)/L", 1.0),
        ("E9/L", 1.0),
        ("x E9/L", 1.0),
        ("cells/mL", 1e-6),
        ("10^6/mL", 1.0),
        # the caret typed as an x, and abbreviated number words (lab test catalogues)
        ("10x3/uL", 1.0),
        ("10X3/UL", 1.0),
        ("x10x9/L", 1.0),
        ("10 x 9 / L", 1.0),
        ("10x3/mm3", 1.0),
        ("10x6/mL", 1.0),
        ("Bill/L", 1.0),
        ("thou/mcL", 1.0),
        ("thous/cumm", 1.0),
        ("10x99/L", None),  # no lab's power of ten
        ("10x/L", None),  # no exponent
        ("bill/uL", None),  # billions per microlitre: giga only for litres
        ("billl/L", None),
    ],
)
def test_more_spellings(spelling: str, factor: float | None) -> None:
    if factor is None:
        with pytest.raises(UnitError):
            read_unit(spelling)
    else:
        assert math.isclose(read_unit(spelling).factor, factor, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("spelling", "what"),
    [
        ("mg/dL", "mass concentration"),
        ("g/dL", "mass concentration"),
        ("g/L", "mass concentration"),
        ("%", "dimensionless"),
        ("fL", "volume"),
        ("mmol/L", "substance concentration"),
        ("L", "volume"),
        ("mL", "volume"),
        ("kg", "mass"),
        ("/HPF", "microscope field"),
        ("cells/hpf", "microscope field"),
        ("cells", "no volume"),
        ("10*3", "no volume"),
        ("K", "no volume"),
        ("U/L", "enzyme"),
    ],
)
def test_units_of_another_kind_are_refused_saying_what_they_measure(
    spelling: str, what: str
) -> None:
    with pytest.raises(UnitError) as caught:
        read_unit(spelling)
    assert what in str(caught.value)
    assert caught.value.unit == spelling


def test_lower_case_g_per_litre_is_grams_and_points_to_giga() -> None:
    with pytest.raises(UnitError) as caught:
        read_unit("g/L")
    assert caught.value.suggestions == ["G/L"]


@pytest.mark.parametrize(("typo", "meant"), [("K/ull", "K/uL"), ("THOU/CUM", "THOU/CUMM")])
def test_unknown_units_suggest_the_closest_spelling(typo: str, meant: str) -> None:
    with pytest.raises(UnitError) as caught:
        read_unit(typo)
    assert caught.value.suggestions
    assert caught.value.suggestions[0].startswith(meant)
    assert "did you mean" in str(caught.value)


def test_a_cached_error_is_raised_afresh_each_time() -> None:
    first = second = None
    try:
        read_unit("furlongs/fortnight")
    except UnitError as error:
        first = error
    try:
        read_unit("furlongs/fortnight")
    except UnitError as error:
        second = error
    assert first is not None and second is not None
    assert first is not second
    assert str(first) == str(second)


@given(st.text(max_size=30))
def test_any_unit_text_gives_a_reading_or_a_unit_error(text: str) -> None:
    try:
        reading = read_unit(text)
    except CBCError as error:
        assert isinstance(error, UnitError)
    else:
        assert math.isfinite(reading.factor) and reading.factor > 0


def test_docs_units_page_is_current() -> None:
    page = (ROOT / "docs" / "units.md").read_text(encoding="utf-8")
    assert page == units_markdown(), "regenerate: python -m cbc_ranges.units > docs/units.md"


def test_the_volume_table_agrees_with_pint_for_every_volume() -> None:
    from cbc_ranges.units import _VOLUMES, pint_cells_per_litre

    offenders = []
    for spelling, (pint_volume, _, litres_exponent) in _VOLUMES.items():
        for exponent in (0, 3, 9):
            by_table = float(f"1e{exponent - litres_exponent - 9}")
            by_pint = pint_cells_per_litre(10.0**exponent, pint_volume)
            if not math.isclose(by_table, by_pint, rel_tol=1e-12):
                offenders.append((spelling, exponent, by_table, by_pint))
    assert offenders == []


def test_reading_any_unit_text_never_imports_pint() -> None:
    # pint evaluates numbers in unit text (9^9^9^9 never returns): it only checks our tables
    code = (
        "import sys, cbc_ranges\n"
        "for unit in ('K/uL', 'G/L', '/mm3', 'x10E3/uL', 'cells/mcL', '/nl'):\n"
        "    cbc_ranges.parse_count('4.2', unit)\n"
        "for unit in ('mg/dL', '9^9^9^9', '10^3 10^3/uL'):\n"
        "    try:\n"
        "        cbc_ranges.parse_count('4.2', unit)\n"
        "    except cbc_ranges.UnitError as error:\n"
        "        assert unit != 'mg/dL' or 'mass concentration' in str(error)\n"
        "assert 'pint' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("piece", ["10x", "x10x", "10x9", "bill", "bil", "10x3/", "thou"])
def test_the_x_exponent_and_number_words_stay_linear(piece: str) -> None:
    # texts under the 100-character bound reach the grammar; longer ones are refused unread
    for length in (95, 1_000, 100_000):
        text = (piece * (length // len(piece) + 1))[:length]
        started = time.perf_counter()
        for unit in (text, text[:-3] + "/L", "x" + text[:-4] + "!/uL"):
            with pytest.raises(UnitError):
                read_unit(unit)
        assert time.perf_counter() - started < 0.2, (piece, length)
