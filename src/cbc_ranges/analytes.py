"""Analytes: the white cell counts the library reads, as data (``ranges/analytes.toml``).

An analyte is a key (``wbc``, ``neutrophils``, ``lymphocytes``, ``monocytes``,
``eosinophils``, ``basophils``) with its label, LOINC codes, the kinds of value it
can have (a count per volume, a percentage of white cells), a plausible range, the
column headers batch detection reads as it, and the text blocks that explain it.
Range tables name the analyte of each row; :func:`~cbc_ranges.interpret` takes
``analyte=``. An analyte in the same units is added as data only: an entry in an
``analytes.toml`` of a folder named in ``CBC_RANGES_PATH`` (see
:mod:`cbc_ranges.data` and ``docs/contributing.md``).

>>> get_analyte("ANC").id, get_analyte("neutrophils").loinc
('neutrophils', ('751-8', '26499-4'))
>>> analyte_for_header("NEUT%")
('neutrophils', 'percent')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cbc_ranges.data import cached, find_files, load, read_toml
from cbc_ranges.errors import CBCError, RangeTableError, suggest

__all__ = [
    "Analyte",
    "ValueKind",
    "analyte_for_header",
    "analyte_for_loinc",
    "analytes",
    "get_analyte",
    "normalise_header",
]

#: what a value measures: cells per volume (10^9/L) or a percentage of all white cells
ValueKind = Literal["count", "percent"]
_KINDS: tuple[ValueKind, ...] = ("count", "percent")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_NOT_HEADER = re.compile(r"[^a-z0-9#%µ]+")


def normalise_header(header: str) -> str:
    """A column header as analytes.toml compares it: lower case, other runs as one ``_``.

    >>> normalise_header(" WBC count "), normalise_header("NEUT#"), normalise_header("Neut. %")
    ('wbc_count', 'neut#', 'neut_%')
    """
    return _NOT_HEADER.sub("_", header.strip().lower()).strip("_")


@dataclass(frozen=True)
class Analyte:
    """One analyte of ``analytes.toml``."""

    id: str
    label: str
    noun: str
    percent_noun: str
    kinds: tuple[ValueKind, ...]
    loinc: tuple[str, ...]
    loinc_percent: tuple[str, ...]
    loinc_names: dict[str, str]
    plausible: tuple[float, float]
    headers: tuple[str, ...]
    percent_headers: tuple[str, ...]
    text_low: tuple[str, ...]
    text_high: tuple[str, ...]
    text_normal: tuple[str, ...]
    path: str

    def loinc_for(self, kind: ValueKind) -> tuple[str, str] | None:
        """The LOINC code and long name of a result of this kind (the first code listed).

        >>> get_analyte("neutrophils").loinc_for("percent")
        ('770-8', 'Neutrophils/100 leukocytes in Blood by Automated count')
        """
        codes = self.loinc_percent if kind == "percent" else self.loinc
        if not codes:
            return None
        return codes[0], self.loinc_names.get(codes[0], self.label)

    def noun_for(self, kind: ValueKind) -> str:
        """What the text calls one result of this kind ("neutrophil percentage")."""
        return self.percent_noun if kind == "percent" else self.noun


def _strings(
    entry: Mapping[str, Any], key: str, *, path: str, required: bool = False
) -> tuple[str, ...]:
    value = entry.get(key, [])
    if required and not value:
        raise RangeTableError(f"{key} is missing or empty", path=path, field=key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RangeTableError(f"{key} must be a list of texts", path=path, field=key)
    return tuple(value)


def _text(entry: Mapping[str, Any], key: str, *, path: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise RangeTableError(f"{key} is missing or not a text", path=path, field=key)
    return value.strip()


def _read(entry: object, key: str, path: str) -> Analyte:
    where = f"{path} [{key}]"
    if not _ID.match(key):
        raise RangeTableError(
            "an analyte id is lower-case letters, digits and '_'", path=where, field=key
        )
    if not isinstance(entry, dict):
        raise RangeTableError("an analyte must be a table", path=where)
    known = {
        "label", "noun", "percent_noun", "kinds", "loinc", "loinc_percent", "loinc_names",
        "plausible",
        "headers", "percent_headers", "text_low", "text_high", "text_normal",
    }  # fmt: skip
    unknown = sorted(set(entry) - known)
    if unknown:
        raise RangeTableError(
            f"unknown key {unknown[0]!r}", path=where, field=unknown[0]
        ).with_suggestions(suggest(unknown[0], known))
    kinds = _strings(entry, "kinds", path=where, required=True)
    for kind in kinds:
        if kind not in _KINDS:
            raise RangeTableError(
                f"unknown kind {kind!r}; use count or percent", path=where, field="kinds"
            )
    plausible = entry.get("plausible")
    if (
        not isinstance(plausible, list)
        or len(plausible) != 2
        or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in plausible)
        or not 0 <= plausible[0] < plausible[1] < 1e6
    ):
        raise RangeTableError(
            "plausible must be [low, high] in 10^9/L, 0 <= low < high",
            path=where,
            field="plausible",
        )
    loinc_names = entry.get("loinc_names", {})
    if not isinstance(loinc_names, dict) or not all(
        isinstance(v, str) for v in loinc_names.values()
    ):
        raise RangeTableError(
            "loinc_names must be a table of code = name", path=where, field="loinc_names"
        )
    label = _text(entry, "label", path=where)
    noun = _text(entry, "noun", path=where, default=label.lower())
    return Analyte(
        id=key,
        label=label,
        noun=noun,
        percent_noun=_text(entry, "percent_noun", path=where, default=f"{noun} percentage"),
        kinds=kinds,  # type: ignore[arg-type]  # checked above
        loinc=_strings(entry, "loinc", path=where),
        loinc_percent=_strings(entry, "loinc_percent", path=where),
        loinc_names=dict(loinc_names),
        plausible=(float(plausible[0]), float(plausible[1])),
        headers=tuple(normalise_header(h) for h in _strings(entry, "headers", path=where)),
        percent_headers=tuple(
            normalise_header(h) for h in _strings(entry, "percent_headers", path=where)
        ),
        text_low=_strings(entry, "text_low", path=where),
        text_high=_strings(entry, "text_high", path=where),
        text_normal=_strings(entry, "text_normal", path=where),
        path=path,
    )


def _load() -> dict[str, Analyte]:
    found: dict[str, Analyte] = {}
    for file in find_files("analytes.toml"):
        for key, entry in read_toml(file.read_text(), path=file.shown).items():
            if key in found:
                raise RangeTableError(
                    f"analyte {key!r} is already defined in {found[key].path}",
                    path=file.shown,
                    field=key,
                )
            found[key] = _read(entry, key, file.shown)
    if "wbc" not in found:
        raise RangeTableError("the analyte 'wbc' is missing", path="ranges/analytes.toml")
    return found


def analytes() -> dict[str, Analyte]:
    """Every analyte, by id: the shipped ones, then those of the extra data folders.

    >>> list(analytes())[:3]
    ['wbc', 'neutrophils', 'lymphocytes']
    """
    return load("analytes", _load)


def _aliases() -> dict[str, tuple[str, ValueKind]]:
    def build() -> dict[str, tuple[str, ValueKind]]:
        found: dict[str, tuple[str, ValueKind]] = {}
        for analyte in analytes().values():
            found.setdefault(analyte.id, (analyte.id, "count"))
            for header in analyte.headers:
                found.setdefault(header, (analyte.id, "count"))
            for header in analyte.percent_headers:
                found.setdefault(header, (analyte.id, "percent"))
            for code in analyte.loinc:
                found.setdefault(normalise_header(code), (analyte.id, "count"))
            for code in analyte.loinc_percent:
                found.setdefault(normalise_header(code), (analyte.id, "percent"))
        return found

    return load("analytes.aliases", build)


def get_analyte(name: str | Analyte) -> Analyte:
    """The analyte an id, a header spelling or a LOINC code names.

    >>> get_analyte("Lymphs").id, get_analyte("6690-2").id
    ('lymphocytes', 'wbc')
    >>> get_analyte("neutrofils")
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.CBCError: unknown analyte 'neutrofils'; ... (did you mean 'neutrophils'?)
    """
    if isinstance(name, Analyte):
        return name
    known: dict[str, Analyte] | None = cached("analytes")
    if known is not None and isinstance(name, str) and name in known:  # the hot path: an id
        return known[name]
    if not isinstance(name, str):
        raise TypeError(f"analyte must be a text, not {type(name).__name__}")
    table = analytes()
    found = table.get(name)
    if found is not None:
        return found
    alias = _aliases().get(normalise_header(name))
    if alias is not None:
        return table[alias[0]]
    raise CBCError(
        f"unknown analyte {name[:40]!r}; known: {', '.join(table)}",
        raw=name,
        suggestions=suggest(name.lower(), table),
    )


def analyte_for_header(header: str) -> tuple[str, ValueKind] | None:
    """The analyte and kind of value a column header names, or ``None``.

    >>> analyte_for_header("Leukozyten"), analyte_for_header("age")
    (('wbc', 'count'), None)
    """
    return _aliases().get(normalise_header(header))


def analyte_for_loinc(code: str) -> tuple[str, ValueKind] | None:
    """The analyte and kind of value a LOINC code is for, or ``None``.

    >>> analyte_for_loinc("770-8"), analyte_for_loinc("2345-7")
    (('neutrophils', 'percent'), None)
    """
    for analyte in analytes().values():
        if code in analyte.loinc:
            return analyte.id, "count"
        if code in analyte.loinc_percent:
            return analyte.id, "percent"
    return None
