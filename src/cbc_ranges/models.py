"""Result models: what the library hands back, typed and JSON-ready.

All models are frozen pydantic models, so a result can be shared between
threads and cached without copying. ``model_dump_json()`` gives JSON and
``model_json_schema()`` its JSON Schema (``cbc-ranges schema`` prints it).

Values are always in 10^9 cells/L, which is the same number as 10^3 cells/uL
("thousand per microlitre", K/uL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from cbc_ranges import __version__

__all__ = [
    "AgeEdge",
    "Comparator",
    "ContextRange",
    "Count",
    "Flag",
    "FrozenModel",
    "Grade",
    "Interpretation",
    "InterpretationCode",
    "LimitKind",
    "LimitResult",
    "Person",
    "Population",
    "ReferenceRange",
    "Sex",
    "Source",
    "TableInfo",
    "format_number",
]

Comparator = Literal["<", "<=", ">", ">="]
Flag = Literal["low", "normal", "high", "indeterminate"]
InterpretationCode = Literal["L", "N", "H"]
Sex = Literal["female", "male", "unknown"]
LimitKind = Literal["reference_interval", "leukopenia_threshold", "decision_limit", "grade"]
AgeUnit = Literal["days", "weeks", "months", "years"]


def format_number(
    value: float, *, places: int = 3, keep_one: bool = True, decimal_separator: str = "."
) -> str:
    """A count or limit as text: at most ``places`` decimals, no trailing zeros, no exponent.

    The one number formatter of the library: the text (``places=3``, at least one
    decimal) and the batch cells (``places=6, keep_one=False``) both use it.

    >>> format_number(4.0), format_number(4.25), format_number(12.3456), format_number(-0.0)
    ('4.0', '4.25', '12.346', '0.0')
    >>> format_number(4.300000000000001, places=6, keep_one=False)
    '4.3'
    >>> format_number(12.5, decimal_separator=",")
    '12,5'
    """
    key = (value, places, keep_one, decimal_separator)
    text = _NUMBER_TEXTS.get(key)
    if text is None:
        text = f"{value:.{places}f}".rstrip("0")
        if text.endswith("."):
            text = text + "0" if keep_one else text[:-1]
        if text.startswith("-") and not text.strip("-0."):
            text = text[1:]  # -0.0, or a negative number that rounds to zero
        if decimal_separator != ".":
            text = text.replace(".", decimal_separator)
        if len(_NUMBER_TEXTS) >= 8192:  # lab values repeat; keep the memo bounded
            _NUMBER_TEXTS.clear()
        # safe to share between 0.0 and -0.0 (equal keys): both are written "0"
        _NUMBER_TEXTS[key] = text
    return text


_NUMBER_TEXTS: dict[tuple[float, int, bool, str], str] = {}


class FrozenModel(BaseModel):
    """The base of every model of the library: frozen (shareable, hashable), no extra fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


_Model = TypeVar("_Model", bound=BaseModel)
# field names per model class: pydantic's model_fields property costs ~1 µs a call
_FIELD_NAMES: dict[type[BaseModel], frozenset[str]] = {}


def construct_checked(model: type[_Model], fields: dict[str, Any]) -> _Model:
    """A model from fields the caller has already checked, without validating them again.

    What ``model.model_construct`` does, without its generic per-field work (which costs
    more than validating): the hot paths of ``parse_count`` and ``interpret`` use it.
    ``fields`` should hold every field, in field order (the fast path); a field left
    out gets its default, in its place, and is left out of ``model_fields_set``, as
    validation would do. Internal: the tests check that its results equal validated
    models.
    """
    names = _FIELD_NAMES.get(model)
    if names is None:
        names = _FIELD_NAMES[model] = frozenset(model.model_fields)
    given = names
    if len(fields) != len(names):
        given = frozenset(fields)
        fields = {
            name: fields[name] if name in fields else info.get_default(call_default_factory=True)
            for name, info in model.model_fields.items()
        }
    instance = model.__new__(model)
    set_attribute = object.__setattr__
    set_attribute(instance, "__dict__", fields)
    set_attribute(instance, "__pydantic_fields_set__", set(given))
    set_attribute(instance, "__pydantic_extra__", None)
    set_attribute(instance, "__pydantic_private__", None)
    return instance


class Count(FrozenModel):
    """A parsed WBC count, normalised to 10^9 cells/L.

    ``value`` is in 10^9/L; ``comparator`` keeps a censored result (``<1.0``);
    ``unit_text`` is the unit as the lab wrote it (empty when none was given);
    ``unit`` is the canonical spelling it was read as (``10*9/L``, ``10*3/uL``,
    ``/uL``...) or ``None`` when no unit was given and 10^9/L was assumed.
    """

    value: float = Field(description="The count in 10^9 cells/L (= 10^3 cells/uL).")
    comparator: Comparator | None = Field(
        default=None, description="Set for a censored result such as '<1.0'."
    )
    unit_text: str = Field(default="", description="The unit as written by the lab.")
    unit: str | None = Field(
        default=None, description="The canonical unit the text was read as (UCUM spelling)."
    )
    raw: str = Field(default="", description="The value as given, before parsing.")
    warnings: list[str] = Field(default_factory=list)


class Source(FrozenModel):
    """A document a range row or a text block rests on."""

    id: str
    title: str
    publisher: str
    date: str | None = None
    kind: Literal["seed", "publication", "user"] = "seed"
    url: str | None = None


class AgeEdge(FrozenModel):
    """One end of an age band, in the unit the table wrote it in (``6 months``)."""

    value: float
    unit: AgeUnit


class Population(FrozenModel):
    """Who a range row applies to.

    ``start`` (inclusive) and ``end`` (exclusive) are the age band as the table
    wrote it, compared with an age in their own unit; ``age_from`` and ``age_to``
    give the same band in years, for display and for callers of earlier versions.
    ``ethnicity`` is the population group the row is for (``any``, an ancestry
    group such as ``african``, or a blood-group population such as ``duffy_null``).
    """

    age_from: float | None = None
    age_to: float | None = None
    sex: Literal["female", "male", "unknown", "any"] = "any"
    ethnicity: str = "any"
    description: str = ""
    start: AgeEdge | None = None
    end: AgeEdge | None = None


class ReferenceRange(FrozenModel):
    """A range, decision limit or grade band used for a comparison, with its population
    and source. How ``low`` and ``high`` are read depends on ``kind`` (``ranges/README.md``):
    a reference interval includes both; a leukopenia threshold is ``low``, strict; a
    decision limit or grade band covers ``low`` <= value < ``high``, or value < ``high``,
    or value > ``low`` when only one is given.
    """

    kind: LimitKind = "reference_interval"
    low: float | None = Field(default=None, description="Lower limit, in `unit`.")
    high: float | None = Field(default=None, description="Upper limit, in `unit`.")
    population: Population
    source: Source
    note: str = ""
    analyte: str = "wbc"
    unit: str = Field(default="10*9/L", description="The unit of the limits: 10*9/L or %.")
    name: str = Field(default="", description="A decision limit's or grading system's name.")
    level: str = Field(default="", description="A severity level, or a grade number.")


class LimitResult(FrozenModel):
    """A decision limit that applies to the person, and whether the value is beyond it.

    ``low`` and ``high`` are read as ``ranges/README.md`` says for a decision limit:
    the limit covers the values below ``high``, above ``low``, or from ``low``
    (inclusive) up to ``high`` (exclusive). ``beyond`` is ``None`` when a censored
    value lies on both sides of it, or when the table names the limit without a
    figure. ``source`` is the id of the source that states it (in the result's
    ``sources``).
    """

    name: str = Field(description="The limit's name, such as leukopenia or neutropenia.")
    level: str = Field(default="", description="A severity level (mild, moderate, severe).")
    low: float | None = None
    high: float | None = None
    unit: str = "10*9/L"
    beyond: bool | None
    source: str


class Grade(FrozenModel):
    """The band of a grading system (such as CTCAE v5.0) the value falls in.

    The band covers ``low`` (inclusive) up to ``high`` (exclusive), with a limit of
    ``LLN`` already replaced by the reference interval's lower limit.
    """

    system: str = Field(description='The grading system, as people cite it ("CTCAE v5.0").')
    term: str = Field(default="", description='The graded term ("Neutrophil count decreased").')
    grade: int
    low: float | None = None
    high: float | None = None
    unit: str = "10*9/L"
    source: str


class ContextRange(FrozenModel):
    """Another range that puts the value in context, with the value's place in it.

    For a person whose ancestry group makes Duffy-null common, and whose Duffy status
    was not given, the Duffy-null range: the flag still comes from the standard range.
    """

    low: float
    high: float
    unit: str = "10*9/L"
    source: Source
    population: str = Field(description="Who the range is for, in words.")
    flag: Flag = Field(description="Where the value lies against this range.")


class Person(FrozenModel):
    """The person as the library understood the inputs.

    ``age`` is the age as people say it ("7 days", "18 months"); ``age_days`` and
    ``age_years`` the same age measured in days and in years.
    """

    age_years: float | None = None
    age_days: float | None = None
    age: str | None = None
    sex: Sex = "unknown"
    ethnicity: str | None = Field(
        default=None, description="The ethnicity group of the table that matched, if any."
    )
    ethnicity_text: str | None = Field(default=None, description="The ethnicity as given.")
    ethnicity_group: str | None = Field(
        default=None, description="The ancestry group matched (african, middle_eastern), if any."
    )
    duffy: Literal["null", "positive"] | None = Field(
        default=None, description="The Duffy blood group status, when given."
    )


class TableInfo(FrozenModel):
    """The range table a result was read from: its name and the SHA-256 of its file.

    With the library version, enough to reproduce a result later: the same
    version and the same table text (the same digest) give the same answer.
    """

    name: str = Field(description="The table's name (a shipped table's, or the file's).")
    sha256: str = Field(description="The SHA-256 (hex) of the table file's text.")


class Interpretation(FrozenModel):
    """A WBC count compared with a reference range, with educational text.

    ``flag`` is never a guessed "normal": when no range applies, or a censored
    value straddles a limit, it is ``"indeterminate"`` and ``code`` is ``None``.
    """

    analyte: str = Field(default="wbc", description="The analyte id (analytes.toml).")
    count: Count
    person: Person
    flag: Flag
    code: InterpretationCode | None = Field(
        description="HL7 v3 ObservationInterpretation code (L/N/H), None when indeterminate."
    )
    table_flag: Flag | None = Field(
        default=None,
        description="With the lab's own range: where the value lies against the table's range.",
    )
    leukopenia: bool | None = Field(
        description="Below the adult leukopenia threshold; None when no threshold applies."
    )
    reference: ReferenceRange | None = None
    leukopenia_threshold: ReferenceRange | None = None
    limits: list[LimitResult] = Field(
        default_factory=list, description="The decision limits that apply, and the value's side."
    )
    grade: Grade | None = Field(default=None, description="The grade, where a table grades it.")
    severity: str | None = Field(
        default=None, description="For neutrophils: mild, moderate or severe neutropenia, or None."
    )
    context_ranges: list[ContextRange] = Field(
        default_factory=list, description="Other ranges that put the value in context."
    )
    percentage: float | None = Field(
        default=None,
        description="The percentage of white cells, when the count was worked out from it.",
    )
    library_version: str = Field(
        default=__version__, description="The cbc-ranges version that made this result."
    )
    table: TableInfo | None = Field(
        default=None, description="The range table used, with the SHA-256 of its file."
    )
    sources: list[Source] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    summary: str = Field(default="", description="One plain sentence: the result in brief.")
    text: str

    def __hash__(self) -> int:
        """A hash of every field, so results can be set members and dict keys.

        Equal results hash equal (the hash follows ``==``: ``0.0`` and ``-0.0``,
        ``4`` and ``4.0`` hash alike). Worked out on each call, never by
        ``interpret``: a result that is never hashed costs nothing.
        """
        return hash(_hashable(self))

    def to_fhir(
        self,
        *,
        subject: str | Mapping[str, Any] | None = None,
        effective: dt.date | dt.datetime | str | None = None,
        id: str | None = None,
        performer: str | None = None,
    ) -> dict[str, Any]:
        """This result as a FHIR R4 ``Observation`` (a plain dict, JSON-ready).

        ``subject`` is a reference (``"Patient/123"``) or a FHIR ``Patient``
        dict: with a Patient the result is a collection ``Bundle`` holding the
        Patient and the Observation, which ``from_fhir`` reads back whole.
        ``effective`` (a date, an aware datetime or FHIR dateTime text) becomes
        ``effectiveDateTime``; ``id`` the Observation's id; ``performer`` a
        reference. See :mod:`cbc_ranges.formats.fhir`.

        A convenience for ``cbc_ranges.formats.render("fhir", result, ...)``: the
        format registry loads the FHIR face by name on first use, so the models
        never import it.
        """
        from cbc_ranges.formats import render

        options = {
            name: value
            for name, value in (
                ("subject", subject),
                ("effective", effective),
                ("id", id),
                ("performer", performer),
            )
            if value is not None
        }
        rendered = render("fhir", self, **options)
        assert isinstance(rendered, dict)
        return rendered


_ATOMS = frozenset({str, float, int, bool, type(None)})


def _hashable(value: Any) -> Any:
    """A value made of hashable parts that are equal exactly when the values are equal.

    About 20 µs for a typical result (measured: ``model_dump_json()`` takes about 14);
    not cached, since ``interpret`` never hashes and a cache would be one more to clear.
    """
    kind = type(value)
    if kind in _ATOMS:
        return value
    if isinstance(value, BaseModel):
        return (kind, tuple(map(_hashable, value.__dict__.values())))
    if isinstance(value, (list, tuple)):
        return tuple(map(_hashable, value))
    if isinstance(value, dict):
        return frozenset((key, _hashable(item)) for key, item in value.items())
    return value
