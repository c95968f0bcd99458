"""The exception hierarchy: one root, ValueError-compatible, structured fields."""

import pytest

from cbc_ranges import CBCError, ParseError, RangeTableError, UnitError


@pytest.mark.parametrize("cls", [ParseError, UnitError, RangeTableError])
def test_every_error_is_a_cbc_error_and_a_value_error(cls: type[CBCError]) -> None:
    assert issubclass(cls, CBCError)
    assert issubclass(cls, ValueError)


def test_suggestions_are_named_in_the_message() -> None:
    error = UnitError("unknown unit 'K/ull'", raw="4 K/ull", unit="K/ull", suggestions=["K/uL"])
    assert error.unit == "K/ull"
    assert error.raw == "4 K/ull"
    assert "did you mean 'K/uL'?" in str(error)


def test_range_table_error_names_file_row_and_field() -> None:
    error = RangeTableError("low is above high", path="my.csv", row=3, field="low")
    assert str(error) == "my.csv, row 3, field 'low': low is above high"
