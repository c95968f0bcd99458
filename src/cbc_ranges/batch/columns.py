"""Column detection for the batch: which header holds the WBC value, unit, age, sex, ethnicity.

Headers are compared after lower-casing and turning every run of spaces and
punctuation into ``_``; a WBC header may carry the unit of its cells in brackets
(``WBC (x10^9/L)``). ``--where`` conditions are read here too. The rules are
listed in ``docs/batch.md`` (a test checks that every name below is there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cbc_ranges.errors import BatchError
from cbc_ranges.panels import differential_headers

__all__ = [
    "COLUMN_NAMES",
    "OPTIONS",
    "RANGE_ROLES",
    "ROLES",
    "Columns",
    "Role",
    "detect_columns",
    "find_column",
    "where_filters",
]


Role = Literal["value", "unit", "age", "sex", "ethnicity", "ref_low", "ref_high", "ref_range"]

#: the columns batch reads, in the order the interpreter takes them
ROLES: tuple[Role, ...] = ("value", "unit", "age", "sex", "ethnicity")
#: the columns of the row's own reference range (the lab's): a low/high pair, or one text
RANGE_ROLES: tuple[Role, ...] = ("ref_low", "ref_high", "ref_range")
_ALL_ROLES: tuple[Role, ...] = (*ROLES, *RANGE_ROLES)

#: header names (normalised: lower case, runs of other characters as ``_``) per role.
#: For the value, earlier tiers win over later ones; two matches in one tier are ambiguous.
COLUMN_NAMES: Mapping[Role, tuple[frozenset[str], ...]] = {
    "value": (
        frozenset(
            {
                "wbc",
                "wbcs",
                "wbc_count",
                "wbc_value",
                "wbc_result",
                "white_blood_cells",
                "white_blood_cell_count",
                "white_cell_count",
                "white_count",
                "wcc",
                "leukocytes",
                "leukocyte_count",
                "leucocytes",
                "leucocyte_count",
                "leukozyten",
                "leucocitos",
                "leucócitos",
                "globules_blancs",
            }
        ),
        frozenset({"valuenum", "value_num", "numeric_value"}),
        frozenset({"value", "result", "result_value", "wert", "valeur", "resultat", "résultat"}),
    ),
    "unit": (
        frozenset(
            {
                "unit",
                "units",
                "valueuom",
                "uom",
                "unit_of_measure",
                "units_of_measure",
                "wbc_unit",
                "wbc_units",
                "einheit",
                "unite",
                "unité",
                "unidad",
                "unidade",
            }
        ),
    ),
    "age": (
        frozenset(
            {
                "age",
                "anchor_age",
                "age_years",
                "age_y",
                "age_yrs",
                "patient_age",
                "age_at_test",
                "age_at_collection",
                "alter",
                "âge",
                "edad",
                "idade",
            }
        ),
    ),
    "sex": (
        frozenset(
            {
                "sex",
                "gender",
                "patient_sex",
                "sex_at_birth",
                "geschlecht",
                "sexe",
                "sexo",
            }
        ),
    ),
    "ethnicity": (
        frozenset(
            {
                "ethnicity",
                "ethnic_group",
                "ethnic_origin",
                "race",
                "race_ethnicity",
                "ethnicity_race",
                "ancestry",
                "ethnie",
                "etnia",
            }
        ),
    ),
    "ref_low": (
        frozenset({"ref_range_lower", "ref_low", "reference_low", "normal_low", "lower_limit"}),
    ),
    "ref_high": (
        frozenset({"ref_range_upper", "ref_high", "reference_high", "normal_high", "upper_limit"}),
    ),
    "ref_range": (
        frozenset(
            {
                "reference_range",
                "ref_range",
                "reference_interval",
                "normal_range",
                "referenzbereich",
                "normbereich",
                "valeurs_de_reference",
                "valeurs_de_référence",
                "intervalo_de_referencia",
                "rango_de_referencia",
            }
        ),
    ),
}

OPTIONS = {
    "value": "--value-col",
    "unit": "--unit-col",
    "age": "--age-col",
    "sex": "--sex-col",
    "ethnicity": "--ethnicity-col",
    "ref_low": "--ref-low-col",
    "ref_high": "--ref-high-col",
    "ref_range": "--ref-range-col",
}

# "WBC (x10^9/L)", "Leukocytes [G/L]": a WBC header that carries the unit of its cells
_HEADER_UNIT = re.compile(r"^\s*(?P<name>[^(\[]+?)\s*[(\[](?P<unit>[^)\]]+)[)\]]\s*$")


def _normalise(header: str) -> str:
    return re.sub(r"[\W_]+", "_", header.replace("\ufeff", "").strip().lower()).strip("_")


@dataclass(frozen=True)
class Columns:
    index: dict[Role, int]
    names: dict[Role, str]
    header_unit: str | None
    fallback: int | None = None  # MIMIC: the text ``value`` when ``valuenum`` is empty


def find_column(header: Sequence[str], name: str, option: str) -> int:
    """The index of a column named by the user: exact name first, then any case and spacing."""
    exact = [i for i, h in enumerate(header) if h == name]
    if len(exact) == 1:
        return exact[0]
    loose = [i for i, h in enumerate(header) if _normalise(h) == _normalise(name)]
    if len(exact) > 1 or len(loose) > 1:
        found = exact if len(exact) > 1 else loose
        raise BatchError(
            f"{option} {name!r} matches {len(found)} columns "
            f"({', '.join(f'column {i + 1}' for i in found)})",
            raw=name,
        )
    if loose:
        return loose[0]
    if name.isdigit() and 1 <= int(name) <= len(header):
        return int(name) - 1  # a 1-based column number
    raise BatchError(
        f"{option} {name!r}: no such column; the header has "
        + ", ".join(repr(h) for h in header[:40]),
        raw=name,
        suggestions=[h for h in header if _normalise(name) in _normalise(h)][:3],
    )


def detect_columns(
    header: Sequence[str],
    given: Mapping[str, str | None] | None = None,
) -> dict[str, str | None]:
    """The header chosen for each role (value, unit, age, sex, ethnicity), None when absent.

    ``given`` maps a role to a header name the user chose (``""`` means "do
    not use this column"). Raises :class:`~cbc_ranges.errors.BatchError` when
    no value column is found or a role matches more than one column.

    >>> detect_columns(["id", "Age", "Gender", "WBC", "Units"])
    {'value': 'WBC', 'unit': 'Units', 'age': 'Age', 'sex': 'Gender', 'ethnicity': None}
    >>> detect_columns(["itemid", "value", "valuenum", "valueuom"])["value"]
    'valuenum'
    """
    columns = detect(header, dict(given or {}))
    return {role: columns.names.get(role) for role in ROLES}


def detect(header: Sequence[str], given: Mapping[str, str | None]) -> Columns:
    index: dict[Role, int] = {}
    for role in _ALL_ROLES:
        name = given.get(role)
        if name:
            index[role] = find_column(header, name, OPTIONS[role])
            same = [other for other in index if other != role and index[other] == index[role]]
            if same:
                raise BatchError(
                    f"{OPTIONS[role]} {name!r} is the column already given to "
                    f"{OPTIONS[same[0]]}: one column cannot be both",
                    raw=name,
                )
    if "ref_range" in index and ("ref_low" in index or "ref_high" in index):
        raise BatchError(
            "give the lab's range either as one column (--ref-range-col) or as "
            "low/high columns (--ref-low-col, --ref-high-col), not both",
            raw=given.get("ref_range"),
        )
    explicit = set(index)
    taken = set(index.values())
    normalised = [_normalise(h) for h in header]
    header_unit: str | None = None
    for role in _ALL_ROLES:
        if role in index or given.get(role) == "":
            continue
        found: list[int] = []
        for tier in COLUMN_NAMES[role]:
            found = [i for i, h in enumerate(normalised) if h in tier and i not in taken]
            if role == "value" and not found and tier is COLUMN_NAMES["value"][0]:
                found = [i for i in _unit_headers(header) if i not in taken]
            if found:
                break
        if len(found) > 1:
            names = ", ".join(f"{header[i]!r} (column {i + 1})" for i in found)
            raise BatchError(
                f"more than one column could be the {role}: {names}; "
                f"choose one with {OPTIONS[role]}",
                raw=[header[i] for i in found],
                suggestions=[header[i] for i in found],
            )
        if found:
            index[role] = found[0]
            taken.add(found[0])
    if "value" not in index:
        differential, _ = differential_headers(header, set(index.values()))
        if differential:  # an ANC-only sheet: never suggest reading it as the WBC
            shown = ", ".join(
                f"{header[i]!r} ({analyte})"
                for analyte, columns in differential.items()
                for i in columns
                if i is not None
            )
            raise BatchError(
                f"no WBC column found, but differential columns are: {shown}. A wide file's "
                "differential is read beside its WBC column: add one, or name it with "
                "--value-col. Do not name a differential column with --value-col: it would be "
                "read as a WBC and compared with WBC ranges. A file with one row per test is "
                "read without a WBC with --analyte-col",
                raw=list(header),
            )
        raise BatchError(
            "no WBC value column found; expected a header such as 'wbc', 'leukocytes', "
            "'valuenum' or 'value' (choose one with --value-col); the header has "
            + (", ".join(repr(h) for h in header[:40]) or "no columns"),
            raw=list(header),
        )
    _lab_range_columns(index, explicit)
    match = _HEADER_UNIT.match(header[index["value"]])
    if match:
        header_unit = match.group("unit").strip()
    chosen = {role: header[i] for role, i in index.items()}
    fallback = None
    if normalised[index["value"]] in COLUMN_NAMES["value"][1] and not given.get("value"):
        texts = [i for i, h in enumerate(normalised) if h == "value" and i not in taken]
        fallback = texts[0] if len(texts) == 1 else None
    return Columns(index=index, names=chosen, header_unit=header_unit, fallback=fallback)


def _lab_range_columns(index: dict[Role, int], explicit: set[Role]) -> None:
    """Keep only a usable lab range: a detected low or high needs its partner, a range
    column and a pair are not used together (what the user named wins, else the pair)."""
    for role, partner in (("ref_low", "ref_high"), ("ref_high", "ref_low")):
        if role in index and role not in explicit and partner not in index:
            del index[role]  # half a pair found by its name: not used
    pair = "ref_low" in index or "ref_high" in index
    if pair and "ref_range" in index:
        if "ref_range" in explicit:
            index.pop("ref_low", None)
            index.pop("ref_high", None)
        else:
            del index["ref_range"]


def _unit_headers(header: Sequence[str]) -> list[int]:
    """Columns such as ``WBC (x10^9/L)``: a WBC name followed by a unit in brackets."""
    names = COLUMN_NAMES["value"][0]
    found = []
    for i, h in enumerate(header):
        match = _HEADER_UNIT.match(h)
        if match and _normalise(match.group("name")) in names:
            found.append(i)
    return found


def where_filters(
    where: Mapping[str, Iterable[str]] | Sequence[str] | str | None,
) -> list[tuple[str, frozenset[str]]]:
    """``--where`` conditions as (column, accepted values); all of them must hold."""
    if where is None:
        return []
    if isinstance(where, Mapping):
        return [
            (str(column), frozenset(str(v).strip() for v in values))
            for column, values in where.items()
        ]
    conditions = [where] if isinstance(where, str) else list(where)
    filters = []
    for condition in conditions:
        column, equals, values = condition.partition("=")
        if not equals or not column.strip():
            raise BatchError(
                f"--where expects COLUMN=VALUE[,VALUE...], not {condition!r}", raw=condition
            )
        filters.append((column.strip(), frozenset(v.strip() for v in values.split(","))))
    return filters
