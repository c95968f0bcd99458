"""Whole blood count panels: which lab item is which analyte, and the WBC of each draw.

A long lab file (one row per result, MIMIC-style) holds a panel as several rows:
the total white cell count (WBC) and the differential, often as percentages.
A percentage says little alone: it becomes an absolute count (10^9/L) with the
WBC of the same draw, and the absolute neutrophil count includes the band
neutrophils where the panel reports them.

* an :class:`ItemMap` says which item (an id such as MIMIC's ``51256``, or a
  label such as ``"Neutrophils"``) is which analyte, and whether it is a
  percentage. Presets live in ``ranges/item_maps.toml`` (data, with where each
  id was checked); :func:`item_map` also reads a file or ``K=V,...`` text;
* a :class:`PanelTotals` is what a first pass over a file learns: for each panel
  (the cells that identify one draw) its WBC and its bands percentage. It grows
  with the number of panels, not of rows. Two WBC rows of one panel that agree
  give that value; two that disagree give :data:`CONFLICT` and no conversion;
* :func:`absolute_count` turns a percentage into a count with them.

Nothing here reads files or writes cells: :mod:`cbc_ranges.batch` uses it, and a
DataFrame face can too. Read more in ``docs/batch.md`` ("Whole panels").

>>> mapping = item_map("51301=wbc,51256=neutrophils%")
>>> mapping.item("51256")
Item(analyte='neutrophils', percent=True)
>>> totals = PanelTotals()
>>> totals.add_wbc(("adm1", "08:00"), 6.0)
>>> absolute_count(50.0, totals.panel(("adm1", "08:00")))
(3.0, "worked out as 50.0 % of the panel's white cell count of 6.0 × 10⁹/L")
"""

from __future__ import annotations

import math
import os
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NamedTuple

from cbc_ranges.analytes import analyte_for_header, analytes, normalise_header
from cbc_ranges.classify import CODES
from cbc_ranges.data import find_files, load, read_toml
from cbc_ranges.errors import BatchError, RangeTableError, suggest
from cbc_ranges.models import format_number
from cbc_ranges.rows import CATEGORIES, RowInterpreter, RowResult
from cbc_ranges.rows import format_number as cell_number

__all__ = [
    "AGREE_ABS_TOL",
    "AGREE_REL_TOL",
    "BANDS",
    "BOUND",
    "CONFLICT",
    "DRAW_HEADERS",
    "ITEM_HEADERS",
    "Item",
    "ItemMap",
    "Panel",
    "PanelRows",
    "PanelTotals",
    "Preset",
    "absolute_count",
    "differential_headers",
    "item_map",
    "item_presets",
    "read_item",
]

#: the item of band neutrophils: no range of its own, added to its panel's neutrophil percentage
BANDS: Final = "bands"


class _Unusable:
    """A panel value no count can be worked out from: rows that disagree, or a bound."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: what a panel holds instead of a number when two of its rows disagree
CONFLICT: Final = _Unusable("CONFLICT")
#: what a panel holds instead of a number when its value is a bound (``<0.1``)
BOUND: Final = _Unusable("BOUND")


class Item(NamedTuple):
    """What a lab item is: an analyte id (or :data:`BANDS`), and whether it is a percentage.

    ``percent`` only decides how a value with an empty unit cell is read; a unit
    cell, when filled, always decides.
    """

    analyte: str
    percent: bool = False


@dataclass(frozen=True)
class Preset:
    """One table of ``ranges/item_maps.toml``."""

    name: str
    title: str
    verified: str
    labels: bool
    items: dict[str, Item]


def _analyte_ids() -> tuple[str, ...]:
    return (*analytes(), BANDS)


def read_item(text: str, *, where: str) -> Item:
    """``"neutrophils"`` or ``"neutrophils%"`` (any analyte spelling) as an :class:`Item`."""
    name = text.strip()
    percent = name.endswith("%")
    name = name.removesuffix("%").strip()
    known = _analyte_ids()
    if name.lower() in known:
        return Item(name.lower(), percent)
    found = analyte_for_header(name) if name else None
    if found is not None:
        return Item(found[0], percent or found[1] == "percent")
    raise BatchError(
        f"{where}: {text.strip()!r} is not an analyte; use one of "
        + ", ".join(known)
        + " (add % for a percentage: neutrophils%)",
        raw=text,
        suggestions=suggest(name.lower(), known),
    )


def _read_presets() -> dict[str, Preset]:
    found: dict[str, Preset] = {}
    for file in find_files("item_maps.toml"):
        for name, entry in read_toml(file.read_text(), path=file.shown).items():
            where = f"{file.shown} [{name}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("items"), dict):
                raise RangeTableError("a preset is a table with an items table", path=where)
            unknown = sorted(set(entry) - {"title", "verified", "labels", "items"})
            if unknown:
                raise RangeTableError(f"unknown key {unknown[0]!r}", path=where, field=unknown[0])
            for key in ("title", "verified"):
                if not isinstance(entry.get(key), str) or not entry[key].strip():
                    raise RangeTableError(f"{key} is missing or not a text", path=where, field=key)
            labels = entry.get("labels", False)
            if not isinstance(labels, bool):
                raise RangeTableError("labels must be true or false", path=where, field="labels")
            items: dict[str, Item] = {}
            for key, value in entry["items"].items():
                if not isinstance(value, str):
                    raise RangeTableError("an item maps to a text", path=where, field=key)
                try:
                    item = read_item(value, where=f"{where} {key}")
                except BatchError as error:
                    raise RangeTableError(str(error), path=where, field=key) from None
                items[normalise_header(key) if labels else key.strip()] = item
            if name in found:
                raise RangeTableError(f"preset {name!r} is defined twice", path=where)
            found[name] = Preset(
                name, entry["title"].strip(), " ".join(entry["verified"].split()), labels, items
            )
    return found


def item_presets() -> dict[str, Preset]:
    """The item map presets of ``ranges/item_maps.toml`` (and of extra data folders), by name.

    >>> sorted(item_presets())
    ['labels', 'mimic-iii', 'mimic-iv']
    >>> item_presets()["mimic-iv"].items["52075"]
    Item(analyte='neutrophils', percent=False)
    """
    return load("item_maps.presets", _read_presets)


@dataclass(frozen=True)
class ItemMap:
    """Item ids and labels to :class:`Item`; ``labels`` also reads analyte header spellings.

    ``ids`` are compared as written (spaces around trimmed); ``names`` after
    :func:`~cbc_ranges.analytes.normalise_header`.
    """

    ids: dict[str, Item] = field(default_factory=dict)
    names: dict[str, Item] = field(default_factory=dict)
    labels: bool = False
    shown: str = ""

    def item(self, cell: str) -> Item | None:
        """The item a cell names, None for any other item (it passes through)."""
        key = cell.strip()
        found = self.ids.get(key)
        if found is not None or not key:
            return found
        name = normalise_header(key)
        found = self.names.get(name)
        if found is None and self.labels:
            header = analyte_for_header(key)
            if header is not None:
                found = Item(header[0], header[1] == "percent")
        return found


def _merge(target: dict[str, Item], items: Mapping[str, Item], what: str) -> None:
    for key, item in items.items():
        if target.get(key, item) != item:
            raise BatchError(
                f"--analyte-map: {key!r} is {target[key].analyte} in one map and "
                f"{item.analyte} in {what}",
                raw=key,
            )
        target[key] = item


def _pairs(text: str, shown: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in text.replace("\n", ",").split(","):
        if not part.strip() or part.lstrip().startswith("#"):
            continue
        key, equals, value = part.partition("=")
        if not equals or not key.strip() or not value.strip():
            raise BatchError(
                f"{shown}: {part.strip()!r} is not KEY=ANALYTE (such as 51301=wbc or "
                "51256=neutrophils%)",
                raw=part,
            )
        pairs[key.strip().strip('"')] = value.strip().strip('"')
    return pairs


def item_map(spec: str | os.PathLike[str] | Mapping[str, str] | None = None) -> ItemMap:
    """The item map a ``--analyte-map`` names: presets, a file, ``K=V,...`` text, or a dict.

    ``None`` is every preset together. Names of presets may be combined with
    ``+`` (``mimic-iv+labels``). A file holds ``KEY=ANALYTE`` lines (or
    ``KEY,ANALYTE``; ``#`` comments). Keys of a given map are compared both as
    ids and as labels. Raises :class:`~cbc_ranges.errors.BatchError` naming the
    bad entry and what would be right.

    >>> item_map("mimic-iii").item("51144")
    Item(analyte='bands', percent=True)
    >>> item_map().item("Absolute Neutrophil Count")
    Item(analyte='neutrophils', percent=False)
    >>> item_map("51301=wbc,99=neutrofils")
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.BatchError: --analyte-map 99: 'neutrofils' is not an analyte; ...
    """
    presets = item_presets()
    ids: dict[str, Item] = {}
    names: dict[str, Item] = {}
    if spec is None:
        for preset in presets.values():
            _merge(names if preset.labels else ids, preset.items, f"preset {preset.name}")
        return ItemMap(ids, names, labels=True, shown="all presets")
    if isinstance(spec, Mapping):
        pairs = {str(k): str(v) for k, v in spec.items()}
        shown = "the given map"
    else:
        text = os.fspath(spec)
        chosen = [part.strip() for part in text.split("+")]
        if all(name in presets for name in chosen):
            labels = False
            for name in chosen:
                preset = presets[name]
                labels = labels or preset.labels
                _merge(names if preset.labels else ids, preset.items, f"preset {name}")
            return ItemMap(ids, names, labels=labels, shown=text)
        path = Path(text)
        if "=" not in text and path.is_file():
            content = path.read_text(encoding="utf-8-sig")
            content = "\n".join(
                line if "=" in line else line.replace(",", "=", 1) for line in content.splitlines()
            )
            pairs, shown = _pairs(content, f"--analyte-map {text}"), text
        elif "=" in text:
            pairs, shown = _pairs(text, "--analyte-map"), "the given map"
        else:
            raise BatchError(
                f"--analyte-map {text!r}: no such preset or file; presets: "
                + ", ".join(presets)
                + "; or give KEY=ANALYTE pairs (51301=wbc,51256=neutrophils%)",
                raw=text,
                suggestions=suggest(text, presets),
            )
    for key, value in pairs.items():
        item = read_item(value, where=f"--analyte-map {key}")
        ids[key] = item
        names[normalise_header(key)] = item
    return ItemMap(ids, names, labels=False, shown=shown)


def differential_headers(
    headers: Sequence[str], skip: Container[int] = ()
) -> tuple[dict[str, tuple[int | None, int | None]], list[int]]:
    """The differential columns among ``headers`` (the spellings of ``analytes.toml``):
    analyte -> (count column, percent column) in the order of ``analytes.toml``, and the
    columns not read (a later column of an analyte and kind already found). Columns in
    ``skip`` (the value, unit and person columns) are not looked at.

    >>> differential_headers(["WBC", "NEUT%", "LYMPH#", "Neutrophils %"])
    ({'neutrophils': (None, 1), 'lymphocytes': (2, None)}, [3])
    """
    found: dict[str, list[int | None]] = {}
    ignored: list[int] = []
    for i, name in enumerate(headers):
        if i in skip:
            continue
        kind = analyte_for_header(name)
        if kind is None or kind[0] == "wbc":
            continue
        slots = found.setdefault(kind[0], [None, None])
        slot = 1 if kind[1] == "percent" else 0
        if slots[slot] is not None:
            ignored.append(i)
            continue
        slots[slot] = i
    order = [a for a in analytes() if a in found]
    return {a: (found[a][0], found[a][1]) for a in order}, ignored


class Panel(NamedTuple):
    """What a panel holds for a conversion: its WBC and its bands percentage.

    Each is a number, :data:`CONFLICT` (rows that disagree, or a bound), or None.
    """

    wbc: float | _Unusable | None = None
    bands: float | _Unusable | None = None


#: two WBC (or bands) rows of a panel agree when their values are this close
#: (``math.isclose``'s tolerances; the columnar panel path applies the same)
AGREE_REL_TOL = 1e-9
AGREE_ABS_TOL = 1e-12


def _agree(old: float | _Unusable | None, new: float | _Unusable) -> float | _Unusable:
    if old is None or old is new:
        return new
    if isinstance(old, _Unusable) or isinstance(new, _Unusable):
        return CONFLICT
    return old if math.isclose(old, new, rel_tol=AGREE_REL_TOL, abs_tol=AGREE_ABS_TOL) else CONFLICT


class PanelTotals:
    """The WBC and bands of each panel, learnt in a first pass (one entry per panel).

    >>> totals = PanelTotals()
    >>> totals.add_wbc("p", 6.0); totals.add_wbc("p", 6.0); totals.panel("p").wbc
    6.0
    >>> totals.add_wbc("p", 7.5); totals.panel("p").wbc
    CONFLICT
    >>> totals.panel("other")
    Panel(wbc=None, bands=None)
    """

    def __init__(self) -> None:
        self._panels: dict[Any, Panel] = {}

    def __len__(self) -> int:
        return len(self._panels)

    def add_wbc(self, key: Any, value: float | _Unusable) -> None:
        """A WBC row of a panel (in 10^9/L; :data:`BOUND` for a bound such as ``<0.1``)."""
        old = self._panels.get(key, _EMPTY)
        self._panels[key] = old._replace(wbc=_agree(old.wbc, value))

    def add_bands(self, key: Any, percent: float | _Unusable) -> None:
        """A bands row of a panel, as a percentage of white cells."""
        old = self._panels.get(key, _EMPTY)
        self._panels[key] = old._replace(bands=_agree(old.bands, percent))

    def panel(self, key: Any) -> Panel:
        """What is known of a panel (an empty :class:`Panel` for one never seen)."""
        return self._panels.get(key, _EMPTY)

    @classmethod
    def of(cls, rows: Iterable[tuple[Any, str, float | _Unusable]]) -> PanelTotals:
        """Totals of (panel key, ``"wbc"`` or ``"bands"``, value) triples.

        >>> PanelTotals.of([("a", "wbc", 5.0), ("a", "bands", 4.0)]).panel("a")
        Panel(wbc=5.0, bands=4.0)
        """
        totals = cls()
        for key, what, value in rows:
            if what == BANDS:
                totals.add_bands(key, value)
            else:
                totals.add_wbc(key, value)
        return totals


_EMPTY = Panel()


def absolute_count(
    percent: float, panel: Panel, *, with_bands: bool = False, scope: str = "panel"
) -> tuple[float | None, str]:
    """A percentage of white cells as a count (10^9/L) with its panel's WBC, and what was done.

    ``with_bands`` adds the panel's bands percentage (for neutrophils). The count
    is None when the panel gives no usable WBC or bands; the text then says why.
    ``scope`` is what holds the WBC in the text: ``"panel"``, or ``"row"`` for a
    wide file.

    >>> absolute_count(50.0, Panel(6.0, 10.0), with_bands=True)[0]
    3.6
    >>> absolute_count(50.0, Panel(CONFLICT))[1]
    'the white cell counts of this panel disagree: the percentage was not turned into a count'
    >>> absolute_count(50.0, Panel(BOUND), scope="row")[1].split(":")[0]
    'the white cell count of this row is a bound, not a count'
    """
    wbc, bands = panel.wbc, panel.bands
    not_done = "the percentage was not turned into a count"
    if wbc is None:
        if scope == "row":
            return None, f"no white cell count in this row: {not_done}"
        return None, f"no white cell count of this panel in the file: {not_done}"
    if wbc is BOUND:
        return None, f"the white cell count of this {scope} is a bound, not a count: {not_done}"
    if isinstance(wbc, _Unusable):
        return None, f"the white cell counts of this panel disagree: {not_done}"
    added, total = "", percent
    if with_bands and bands is not None:
        if isinstance(bands, _Unusable):
            return None, (
                "the bands of this panel disagree or are not a percentage: the neutrophil "
                "percentage was not turned into a count"
            )
        added = f" plus {format_number(bands)} % bands"
        total += bands
    value = round(total * wbc / 100, 9)
    note = (
        f"worked out as {format_number(percent)} %{added} of the "
        f"{scope}'s white cell count of {format_number(wbc)} × 10⁹/L"
    )
    return value, note


#: header names (normalised) of the item column and of the panel columns, for detection
ITEM_HEADERS = ("itemid", "item_id", "analyte", "test_code", "test_name", "test", "label")
DRAW_HEADERS: tuple[tuple[str, ...], ...] = (
    ("specimen_id",),
    ("subject_id", "hadm_id", "charttime"),
)

#: a row's cells as the row engine reads them: value, unit, age, sex, ethnicity
Texts = tuple[str | int | float, str | None, str | int | float | None, str | None, str | None]

#: entries each cache of the panel rows keeps (worked-out counts are many and rarely repeat)
PANEL_CACHE_SIZE = 1 << 12
#: the summary category of a row that could not be read, that was not checked, that has no flag
ERROR_CATEGORY = CATEGORIES.index("error")
INDETERMINATE_CATEGORY = CATEGORIES.index("indeterminate")
SKIPPED_CATEGORY = -1

_NO_PANEL = (
    "no panel columns to find this row's white cell count: the percentage was not turned "
    "into a count"
)


_BANDS_NOTE = (
    "bands have no range of their own here; a neutrophil percentage of the same panel includes them"
)


class PanelRows:
    """The result of one analyte's cells: a count, or a percentage made a count with its panel.

    One :class:`~cbc_ranges.rows.RowInterpreter` per analyte (same table and
    options as the WBC one), so every row takes the same cached steps.
    """

    def __init__(self, interpreter: RowInterpreter) -> None:
        self.wbc = interpreter
        self.interpreters: dict[str, RowInterpreter] = {"wbc": interpreter}

    def interpreter(self, analyte: str) -> RowInterpreter:
        found = self.interpreters.get(analyte)
        if found is None:
            base = self.wbc
            # the WBC interpreter's options: its default unit was checked for a count already
            found = RowInterpreter(
                base.table,
                default_unit=base.default_unit,
                decimal_comma=base.decimal_comma,
                decimal_separator=base.decimal_separator,
                analyte="neutrophils" if analyte == BANDS else analyte,
                cache_size=PANEL_CACHE_SIZE,
            )
            self.interpreters[analyte] = found
        return found

    def wbc_value(self, value: str | int | float, unit: str | None) -> float | object | None:
        """A WBC cell as the number a panel converts with: a count, BOUND, None (unreadable)."""
        count = self.wbc.parse(value, unit).count
        if count is None:
            return None
        return BOUND if count.comparator else count.value

    def bands_value(
        self, value: str | int | float, unit: str | None, item: Item
    ) -> float | object | None:
        """A bands cell as a percentage; BOUND for a bound, CONFLICT for a count (not added)."""
        unit = "%" if item.percent and not (unit or "").strip() else unit
        count = self.interpreter(BANDS).parse(value, unit).count
        if count is None:
            return None
        if count.unit != "%":
            return CONFLICT
        return BOUND if count.comparator else count.value

    def result(
        self,
        item: Item,
        texts: Texts,
        lab: str | None,
        panel: Panel | None,
        scope: str = "panel",
    ) -> tuple[RowResult, str, int]:
        """(result, the row's percentage as text or "", summary category) of an item's cells."""
        value, unit, age, sex, ethnicity = texts
        if item.percent and not (unit or "").strip() and not str(value).rstrip().endswith("%"):
            unit = "%"
        interpreter = self.interpreter(item.analyte)
        parsed = interpreter.parse(value, unit)
        count = parsed.count
        if item.analyte == BANDS:
            if count is None:
                return RowResult(error=parsed.error), "", ERROR_CATEGORY
            percent = parsed.value_text if count.unit == "%" else ""
            shown = None if count.unit == "%" else count.value
            result = RowResult(value=shown, comparator=count.comparator, warnings=(_BANDS_NOTE,))
            return result, percent, SKIPPED_CATEGORY
        if count is None or count.unit != "%":
            entry = interpreter.lookup(value, unit, age, sex, ethnicity, lab)
            return entry.result, "", entry.category
        percent = parsed.value_text
        if panel is None:
            absolute, note = None, _NO_PANEL
        else:
            with_bands = item.analyte == "neutrophils"
            absolute, note = absolute_count(count.value, panel, with_bands=with_bands, scope=scope)
        if absolute is None:
            warnings = (*parsed.warnings, note, "a percentage alone is not flagged")
            return (
                RowResult(flag="indeterminate", code=CODES["indeterminate"], warnings=warnings),
                percent,
                INDETERMINATE_CATEGORY,
            )
        separator = interpreter.decimal_separator
        text = (count.comparator or "") + cell_number(absolute, separator)
        entry = interpreter.lookup(text, "10^9/L", age, sex, ethnicity)
        notes = [*parsed.warnings, note]
        if lab:
            notes.append("the lab's range is for the percentage, not the count")
        result = entry.result._replace(warnings=(*entry.result.warnings, *notes))
        return result, percent, entry.category

    def wide_result(
        self,
        analyte: str,
        count_cell: str,
        percent_cell: str,
        person: tuple[str | int | float | None, str | None, str | None],
        panel: Panel,
    ) -> tuple[Item, str, RowResult, str, int] | None:
        """One analyte's cells of a wide row: its count when the count cell holds one, else
        its percentage made a count with the row's WBC (``panel``); None when both are empty.

        Returns (item read, cell read, result, percentage shown, summary category); the
        percentage shown is the percent cell's text beside a count.
        """
        if count_cell.strip():
            item, cell = Item(analyte), count_cell
        elif percent_cell.strip():
            item, cell = Item(analyte, percent=True), percent_cell
        else:
            return None
        result, percent, category = self.result(item, (cell, None, *person), None, panel, "row")
        if not percent and percent_cell.strip() and count_cell.strip():
            percent = percent_cell.strip()
        return item, cell, result, percent, category

    def long_result(
        self,
        item: Item,
        texts: Texts,
        lab: str | None,
        panel: Panel | None,
    ) -> tuple[RowResult, str, int]:
        """:meth:`result` for a row of a long file: a WBC row whose panel has other WBC
        rows that differ (or a bound) says so, since its panel's percentages stay as they are."""
        result, percent, category = self.result(item, texts, lab, panel)
        if item.analyte == "wbc" and panel is not None and panel.wbc in (CONFLICT, BOUND):
            result = result._replace(
                warnings=(
                    *result.warnings,
                    "another white cell count of this panel differs (or is a bound): its "
                    "percentages were not turned into counts",
                )
            )
        return result, percent, category
