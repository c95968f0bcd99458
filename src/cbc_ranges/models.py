"""Result models: what the library hands back, typed and JSON-ready.

All models are frozen pydantic models, so a result can be shared between
threads and cached without copying. ``model_dump_json()`` gives JSON and
``model_json_schema()`` its JSON Schema (``cbc-ranges schema`` prints it).

Values are always in 10^9 cells/L, which is the same number as 10^3 cells/uL
("thousand per microlitre", K/uL).
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Comparator",
    "Count",
    "Flag",
    "Interpretation",
    "InterpretationCode",
    "LimitKind",
    "Person",
    "Population",
    "ReferenceRange",
    "Sex",
    "Source",
]

Comparator = Literal["<", "<=", ">", ">="]
Flag = Literal["low", "normal", "high", "indeterminate"]
InterpretationCode = Literal["L", "N", "H"]
Sex = Literal["female", "male", "unknown"]
LimitKind = Literal["reference_interval", "leukopenia_threshold"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_Model = TypeVar("_Model", bound=BaseModel)
# field names per model class: pydantic's model_fields property costs ~1 µs a call
_FIELD_NAMES: dict[type[BaseModel], frozenset[str]] = {}


def construct_checked(model: type[_Model], fields: dict[str, Any]) -> _Model:
    """A model from fields the caller has already checked, without validating them again.

    What ``model.model_construct`` does, without its generic per-field work (which costs
    more than validating): the hot paths of ``parse_count`` and ``interpret`` use it.
    ``fields`` must hold every field, in field order. Internal: the tests check that
    its results equal validated models.
    """
    names = _FIELD_NAMES.get(model)
    if names is None:
        names = _FIELD_NAMES[model] = frozenset(model.model_fields)
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", fields)
    object.__setattr__(instance, "__pydantic_fields_set__", set(names))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


class Count(_Frozen):
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


class Source(_Frozen):
    """A document a range row or a text block rests on."""

    id: str
    title: str
    publisher: str
    date: str | None = None
    kind: Literal["seed", "publication", "user"] = "seed"
    url: str | None = None


class Population(_Frozen):
    """Who a range row applies to. Ages in years, ``age_from`` inclusive, ``age_to`` exclusive."""

    age_from: float | None = None
    age_to: float | None = None
    sex: Literal["female", "male", "unknown", "any"] = "any"
    ethnicity: str = "any"
    description: str = ""


class ReferenceRange(_Frozen):
    """A range (or threshold) used for a comparison, with its population and source."""

    kind: LimitKind = "reference_interval"
    low: float | None = Field(default=None, description="Inclusive lower limit, 10^9/L.")
    high: float | None = Field(default=None, description="Inclusive upper limit, 10^9/L.")
    population: Population
    source: Source
    note: str = ""


class Person(_Frozen):
    """The person as the library understood the inputs."""

    age_years: float | None = None
    sex: Sex = "unknown"
    ethnicity: str | None = Field(
        default=None, description="The ethnicity group of the table that matched, if any."
    )
    ethnicity_text: str | None = Field(default=None, description="The ethnicity as given.")


class Interpretation(_Frozen):
    """A WBC count compared with a reference range, with educational text.

    ``flag`` is never a guessed "normal": when no range applies, or a censored
    value straddles a limit, it is ``"indeterminate"`` and ``code`` is ``None``.
    """

    count: Count
    person: Person
    flag: Flag
    code: InterpretationCode | None = Field(
        description="HL7 v3 ObservationInterpretation code (L/N/H), None when indeterminate."
    )
    leukopenia: bool | None = Field(
        description="Below the adult leukopenia threshold; None when no threshold applies."
    )
    reference: ReferenceRange | None = None
    leukopenia_threshold: ReferenceRange | None = None
    sources: list[Source] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    text: str

    def to_fhir(self) -> dict[str, Any]:
        """This result as a FHIR R4 ``Observation`` (a plain dict, JSON-ready)."""
        from cbc_ranges.fhir import interpretation_to_fhir

        return interpretation_to_fhir(self)
