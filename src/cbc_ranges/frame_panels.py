"""Whole blood count panels in a pandas or polars DataFrame (``interpret_frame``'s panel modes).

Two shapes, the same rules as ``cbc-ranges batch`` (``docs/batch.md``, "Whole
panels"), through the same :class:`~cbc_ranges.panels.PanelRows`:

* a **long** frame (one row per test, MIMIC ``labevents``-style): the column
  naming each row's test (``analyte_col``), an item map (``analyte_map``: a
  preset of ``ranges/item_maps.toml``, a file, ``K=V,...`` text or a mapping)
  and the columns of one draw (``panel_cols``). A percentage row becomes a
  count with the WBC of its panel, wherever that row is in the frame; the
  neutrophil percentage includes the panel's bands. :data:`PANEL_FRAME_COLUMNS`
  are appended; rows of other tests keep them missing.
* a **wide** frame (one row per draw): ``differential=True`` reads every
  column whose header names a differential analyte (``NEUT%``, ``LYMPH#``...;
  the spellings of ``analytes.toml``), or a mapping names them
  (``{"Neutrophils %": "neutrophils%"}``). Each analyte gets the columns of
  :data:`ANALYTE_FIELDS`, prefixed by its id (``neutrophils_flag``), after
  the ``wbc_*`` columns; a percentage becomes a count with the row's WBC.

``text_frame`` adds the explanation columns of ``text=True``. Unlike the WBC
columns, these are worked out row by row in Python (with the
row engine's caches), about 10 µs a row; read more in ``docs/embedding.md``.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cbc_ranges.errors import BatchError
from cbc_ranges.frames import refuse_clash

if TYPE_CHECKING:
    from cbc_ranges.panels import Item, ItemMap, PanelRows, Texts
    from cbc_ranges.rows import RowInterpreter, RowResult

__all__ = ["ANALYTE_FIELDS", "PANEL_FRAME_COLUMNS", "long_frame", "text_frame", "wide_frame"]

#: the fields of one analyte's result, typed; ``cbc_<field>`` in a long frame
ANALYTE_FIELDS: tuple[str, ...] = (
    "value",
    "comparator",
    "percent",
    "flag",
    "code",
    "ref_low",
    "ref_high",
    "grade",
    "source",
    "warnings",
    "error",
)
#: the columns a long frame gets: the batch's ``cbc_*`` columns plus ``cbc_comparator``
PANEL_FRAME_COLUMNS: tuple[str, ...] = ("cbc_analyte", *(f"cbc_{f}" for f in ANALYTE_FIELDS))

_FLOATS = frozenset({"value", "percent", "ref_low", "ref_high"})
_INTEGRAL = re.compile(r"^-?\d+\.0$")


def _kind(field: str) -> str:
    if field in _FLOATS:
        return "float"
    return "int" if field == "grade" else "text"


def _column(df: Any, library: str, name: Hashable | None) -> list[Any]:
    """A frame column as a list of plain Python cells (None for a missing column)."""
    from cbc_ranges.rows import plain_cell

    if name is None:
        return [None] * len(df)
    cells = df[name].to_list() if library == "polars" else df[name].tolist()
    return [plain_cell(cell) for cell in cells]


def _key_text(cell: object) -> str:
    """A cell as text for an item or panel key: ``51301.0`` (pandas makes an id column with
    gaps float) reads as ``51301``, a missing cell as ``""``."""
    if cell is None:
        return ""
    text = str(cell)
    return text[:-2] if isinstance(cell, float) and _INTEGRAL.match(text) else text


def _text(cell: object) -> str | None:
    return None if cell is None else str(cell)


def _values(result: RowResult | None, percent: str) -> tuple[Any, ...]:
    """One typed value per :data:`ANALYTE_FIELDS` name."""
    if result is None:
        return (None,) * len(ANALYTE_FIELDS)
    number: float | None = None
    if percent:
        try:
            number = float(percent.replace(",", "."))
        except ValueError:
            number = None
    return (
        result.value,
        result.comparator,
        number,
        result.flag,
        result.code,
        result.ref_low,
        result.ref_high,
        result.grade,
        result.source,
        "; ".join(result.warnings) or None,
        result.error,
    )


def _attach(df: Any, library: str, columns: Mapping[str, tuple[str, list[Any]]]) -> Any:
    """A copy of the frame with typed columns appended (name -> (kind, values))."""
    if library == "polars":
        import polars as pl

        types = {"float": pl.Float64, "int": pl.Int64, "text": pl.String}
        return df.with_columns(
            [pl.Series(name, values, dtype=types[kind]) for name, (kind, values) in columns.items()]
        )
    import pandas as pd

    dtypes: dict[str, Any] = {"float": "Float64", "int": "Int64", "text": "string"}
    out = df.copy(deep=False)
    for name, (kind, values) in columns.items():
        array = pd.array(values, dtype=dtypes[kind])
        out[name] = array.astype("float64") if kind == "float" else array
    return out


def long_frame(
    df: Any,
    library: str,
    rows: RowInterpreter,
    cells: Sequence[Hashable | None],
    *,
    analyte_col: Hashable | None,
    analyte_map: str | Mapping[str, str] | ItemMap | None,
    panel_cols: str | Sequence[Hashable] | None,
) -> Any:
    """A long frame with :data:`PANEL_FRAME_COLUMNS` appended (see the module docstring).

    ``cells`` names the value, unit, age, sex and ethnicity columns (None for none).
    """
    from cbc_ranges.analytes import normalise_header
    from cbc_ranges.panels import (
        BANDS,
        DRAW_HEADERS,
        ITEM_HEADERS,
        PanelRows,
        PanelTotals,
        item_map,
    )
    from cbc_ranges.panels import ItemMap as Map

    refuse_clash(list(df.columns), PANEL_FRAME_COLUMNS)
    columns = list(df.columns)
    by_name = {normalise_header(str(c)): c for c in reversed(columns)}
    if analyte_col is None:
        analyte_col = next((by_name[h] for h in ITEM_HEADERS if h in by_name), None)
        if analyte_col is None:
            raise BatchError(
                "whole panels need the column that names each row's test: give analyte_col "
                "(such as 'itemid' or 'label')",
                raw=columns[:20],
            )
    if analyte_col not in columns:
        raise BatchError(f"the frame has no analyte column {analyte_col!r}", raw=analyte_col)
    if analyte_col in cells:
        raise BatchError(
            f"analyte_col {analyte_col!r} is also the value, unit or person column: "
            "choose the column that names the test",
            raw=analyte_col,
        )
    if isinstance(panel_cols, str):
        panel: list[Hashable] = [n.strip() for n in panel_cols.split(",") if n.strip()]
    elif panel_cols is not None:
        panel = list(panel_cols)
    else:
        panel = next(
            (
                [by_name[h] for h in draw]
                for draw in DRAW_HEADERS
                if all(h in by_name for h in draw)
            ),
            [],
        )
    missing = [name for name in panel if name not in columns]
    if missing:
        raise BatchError(f"the frame has no panel column {missing[0]!r}", raw=missing[0])
    items = analyte_map if isinstance(analyte_map, Map) else item_map(analyte_map)

    value, unit, age, sex, ethnicity = (_column(df, library, name) for name in cells)
    item_cells = [_key_text(cell) for cell in _column(df, library, analyte_col)]
    keys: list[tuple[str, ...] | None] = [None] * len(df)
    if panel:
        for i, draw in enumerate(zip(*(_column(df, library, c) for c in panel), strict=True)):
            shown = tuple(_key_text(cell).strip() for cell in draw)
            keys[i] = shown if any(shown) else None

    panel_rows = PanelRows(rows)
    known: dict[str, Item | None] = {}

    def item_of(cell: str) -> Item | None:
        if cell not in known:
            known[cell] = items.item(cell)
        return known[cell]

    # the first pass: each panel's WBC and bands (memory grows with panels, not rows)
    totals = PanelTotals()
    for i, cell in enumerate(item_cells):
        item = item_of(cell)
        where = keys[i]
        if item is None or where is None or item.analyte not in ("wbc", BANDS):
            continue
        number = "" if value[i] is None else value[i]
        if item.analyte == "wbc":
            got = panel_rows.wbc_value(number, _text(unit[i]))
            if got is not None:
                totals.add_wbc(where, got)  # type: ignore[arg-type]
        else:
            got = panel_rows.bands_value(number, _text(unit[i]), item)
            if got is not None:
                totals.add_bands(where, got)  # type: ignore[arg-type]

    analytes: list[str | None] = []
    results: list[tuple[Any, ...]] = []
    for i, cell in enumerate(item_cells):
        item = item_of(cell)
        if item is None:
            analytes.append(None)
            results.append(_values(None, ""))
            continue
        where = keys[i]
        texts: Texts = (
            "" if value[i] is None else value[i],
            _text(unit[i]),
            age[i],
            _text(sex[i]),
            _text(ethnicity[i]),
        )
        found = None if where is None else totals.panel(where)
        result, percent, _ = panel_rows.long_result(item, texts, None, found)
        analytes.append(item.analyte)
        results.append(_values(result, percent))
    out: dict[str, tuple[str, list[Any]]] = {"cbc_analyte": ("text", analytes)}
    for index, field in enumerate(ANALYTE_FIELDS):
        out[f"cbc_{field}"] = (_kind(field), [r[index] for r in results])
    return _attach(df, library, out)


def _differential_columns(
    df: Any, cells: Sequence[Hashable | None], differential: bool | Mapping[Hashable, str]
) -> dict[str, tuple[Hashable | None, Hashable | None]]:
    """analyte -> (count column, percent column) of a wide frame."""
    from cbc_ranges.analytes import analytes
    from cbc_ranges.panels import differential_headers, read_item

    if not isinstance(differential, Mapping):
        columns = list(df.columns)
        skip = {i for i, column in enumerate(columns) if column in cells}
        at, _ = differential_headers([str(c) for c in columns], skip)  # the first of each, as batch
        return {
            a: tuple(None if i is None else columns[i] for i in where)  # type: ignore[misc]
            for a, where in at.items()
        }
    found: dict[str, list[Hashable | None]] = {}
    for column, spec in differential.items():
        if column not in list(df.columns):
            raise BatchError(f"the frame has no differential column {column!r}", raw=column)
        item = read_item(str(spec), where=f"differential[{column!r}]")
        if item.analyte == "wbc":
            raise BatchError(
                f"differential[{column!r}]: the WBC is the value column, not a differential",
                raw=spec,
            )
        slots = found.setdefault(item.analyte, [None, None])
        slots[1 if item.percent else 0] = column
    order = [a for a in analytes() if a in found] + [a for a in found if a not in analytes()]
    return {a: (found[a][0], found[a][1]) for a in order}


def wide_frame(
    df: Any,
    out: Any,
    library: str,
    rows: RowInterpreter,
    cells: Sequence[Hashable | None],
    differential: bool | Mapping[Hashable, str],
) -> Any:
    """``out`` (the frame with its ``wbc_*`` columns) with each differential analyte's columns."""
    from cbc_ranges.panels import Panel, PanelRows

    plan = _differential_columns(df, cells, differential)
    names = [f"{a}_{field}" for a in plan for field in ANALYTE_FIELDS]
    refuse_clash(list(df.columns), names)
    if not plan:
        return out
    value, unit, age, sex, ethnicity = (_column(df, library, name) for name in cells)
    panel_rows: PanelRows = PanelRows(rows)
    per_analyte = {
        a: ([_text(c) or "" for c in _column(df, library, count_col)] if count_col is not None
            else None,
            [_text(c) or "" for c in _column(df, library, percent_col)] if percent_col is not None
            else None)
        for a, (count_col, percent_col) in plan.items()
    }  # fmt: skip
    results: dict[str, list[tuple[Any, ...]]] = {a: [] for a in plan}
    for i in range(len(df)):
        number = "" if value[i] is None else value[i]
        wbc = panel_rows.wbc_value(number, _text(unit[i]))
        row_panel = Panel(wbc=wbc)  # type: ignore[arg-type]
        person = (age[i], _text(sex[i]), _text(ethnicity[i]))
        for analyte, (counts, percents) in per_analyte.items():
            read = panel_rows.wide_result(
                analyte,
                "" if counts is None else counts[i],
                "" if percents is None else percents[i],
                person,
                row_panel,
            )
            results[analyte].append(_values(None, "") if read is None else _values(*read[2:4]))
    columns: dict[str, tuple[str, list[Any]]] = {}
    for analyte, values in results.items():
        for index, field in enumerate(ANALYTE_FIELDS):
            columns[f"{analyte}_{field}"] = (_kind(field), [v[index] for v in values])
    return _attach(out, library, columns)


def text_frame(
    df: Any, out: Any, library: str, rows: RowInterpreter, cells: Sequence[Hashable | None]
) -> Any:
    """``out`` with ``wbc_summary`` and ``wbc_text`` (``interpret_frame(..., text=True)``): the
    explanation of each row's count, as ``cbc-ranges batch --text`` writes it (one text per
    distinct row, through :class:`~cbc_ranges.rows.RowTexts`)."""
    from cbc_ranges.rows import TEXT_COLUMNS, RowTexts

    refuse_clash(list(df.columns), TEXT_COLUMNS)
    value, unit, age, sex, ethnicity = (_column(df, library, name) for name in cells)
    texts = RowTexts(rows)
    summaries: list[str | None] = []
    bodies: list[str | None] = []
    for v, u, a, s, e in zip(value, unit, age, sex, ethnicity, strict=True):
        key = ("" if v is None else v, _text(u), "" if a is None else a, _text(s) or "",
               _text(e) or "")  # fmt: skip
        summary, body = texts.cells(key)
        summaries.append(summary or None)
        bodies.append(body or None)
    return _attach(
        out, library, {TEXT_COLUMNS[0]: ("text", summaries), TEXT_COLUMNS[1]: ("text", bodies)}
    )
