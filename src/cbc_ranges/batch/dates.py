"""Exact ages for the batch: a birth date column and a test date column.

``--birth-date-col`` and ``--date-col`` give each row its age on the day of
the test, calendar-exact (:meth:`cbc_ranges.people.Age.between`): days for a
newborn, completed months for an infant, so a band edge such as "2 months" is
met on the right day. Dates are ISO 8601 (``2024-03-05``, with or without a
time after them); ``05/03/2024`` is refused rather than guessed (day or month
first?). A row whose dates cannot be read keeps its data and gets an error.
Read more in ``docs/batch.md`` ("Exact ages from dates").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from cbc_ranges.batch.columns import Columns, find_column
from cbc_ranges.batch.writers import Layout
from cbc_ranges.errors import BatchError, PersonError
from cbc_ranges.people import Age

__all__ = ["DatedLayout", "dated_layout", "read_date"]


def read_date(text: str, what: str) -> dt.date:
    """An ISO 8601 date (a time after it is ignored); :class:`PersonError` otherwise.

    >>> read_date("2180-03-14 12:30:00", "test date"), read_date(" 2024-02-29 ", "birth date")
    (datetime.date(2180, 3, 14), datetime.date(2024, 2, 29))
    >>> read_date("05/03/2024", "birth date")
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.PersonError: birth date '05/03/2024' is not a date written YYYY-MM-DD
    """
    cell = text.strip()
    if not cell:
        raise PersonError(f"no {what} in this row", raw=text)
    head, rest = cell[:10], cell[10:]
    try:
        if rest[:1] not in ("", " ", "T", "t"):
            raise ValueError(cell)
        return dt.date.fromisoformat(head)
    except ValueError:
        raise PersonError(
            f"{what} {cell[:40]!r} is not a date written YYYY-MM-DD", raw=text
        ) from None


class DatedLayout(Layout):
    """A :class:`Layout` whose age cell is the exact age from the row's two dates.

    :meth:`texts` puts an :class:`~cbc_ranges.people.Age` where the age text
    was (the row engine reads both), and raises
    :class:`~cbc_ranges.errors.PersonError` when the dates cannot be read.
    """

    def __init__(
        self, columns: Columns, width: int, codec: str, delimiter: str, birth: int, date: int
    ) -> None:
        super().__init__(columns, width, codec, delimiter)
        self.birth = birth
        self.date = date

    def age_of(self, row: Sequence[str]) -> Age:
        """The age of a full-width row on its test date."""
        birth = read_date(row[self.birth], "birth date")
        on = read_date(row[self.date], "test date")
        return Age.between(birth, on)

    def texts(self, row: list[str]) -> tuple[str, str | None, Any, str, str]:
        value, unit, _, sex, ethnicity = super().texts(row)
        return value, unit, self.age_of(row), sex, ethnicity


def dated_layout(
    layout: Layout,
    columns: Columns,
    header: Sequence[str],
    *,
    birth_date_col: str | None,
    date_col: str | None,
) -> tuple[Layout, list[str]]:
    """The layout to use (dated when both columns are given) and notes for the summary."""
    if not birth_date_col and not date_col:
        return layout, []
    if not birth_date_col or not date_col:
        missing = "--birth-date-col" if not birth_date_col else "--date-col"
        raise BatchError(
            f"an exact age needs both the birth date and the test date: give {missing} too",
            raw=birth_date_col or date_col,
        )
    birth = find_column(header, birth_date_col, "--birth-date-col")
    date = find_column(header, date_col, "--date-col")
    dated = DatedLayout(
        columns, layout.width, layout.codec, layout.delimiter, birth=birth, date=date
    )
    note = f"ages from {header[birth]!r} to {header[date]!r}, calendar-exact"
    if "age" in columns.index:
        note += f"; the age column {columns.names['age']!r} is not used"
    return dated, [note]
